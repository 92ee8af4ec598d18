"""REST of the label checks: run them (a job), read the flags, dismiss one. Reviewer role."""

from __future__ import annotations

from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from annotations.core.jobs import start_job
from annotations.core.permissions import project_for
from annotations.core.serializers import JobSerializer
from annotations.models import Job, Role
from annotations.quality import checks


@api_view(["GET", "POST"])
def label_checks(request, slug):
    """GET: the flags now (nothing stored). POST {kinds?}: a check_labels job that also feeds the queue."""
    project = project_for(request.user, slug, Role.REVIEWER)
    if request.method == "GET":
        kinds = checks.parse_kinds(request.query_params.get("kinds"))
        return Response(checks.check_labels(project, kinds=kinds, form_labels=False))
    params = {}
    kinds = checks.parse_kinds(request.data.get("kinds"))
    if kinds:
        params["kinds"] = list(kinds)
    job = start_job(project, Job.Kind.CHECK_LABELS, params, request.user)
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@api_view(["POST"])
def dismiss_flag(request, slug):
    """{frame, kind, keypoints}: the flag is no error; it stays dismissed until the annotation changes."""
    project = project_for(request.user, slug, Role.REVIEWER)
    data = request.data
    return Response(checks.dismiss(project, data.get("frame"), kind=data.get("kind"),
                                   keypoints=data.get("keypoints", []), user=request.user))
