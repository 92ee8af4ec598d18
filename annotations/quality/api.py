"""REST of the label checks: run them (a job), read the flags, dismiss one. Reviewer role."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from annotations.core.jobs import start_job
from annotations.core.permissions import project_for
from annotations.core.schema import OBJECT, responses
from annotations.core.serializers import JobSerializer
from annotations.models import Job, Role
from annotations.quality import checks
from annotations.quality.serializers import DismissSerializer, LabelChecksSerializer, RunChecksSerializer


@extend_schema(methods=["GET"], summary="The label checks' flags now (reviewer)", parameters=[
    OpenApiParameter("kinds", OpenApiTypes.STR, description="Comma-separated checks to run: "
                     + ", ".join(checks.KINDS) + " (default: all).")],
    responses=responses({200: LabelChecksSerializer}))
@extend_schema(methods=["POST"], summary="Run the label checks as a job that feeds the queue (reviewer)",
               request=RunChecksSerializer, responses=responses({202: JobSerializer}, errors=(400, 401, 403, 404, 409)))
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


@extend_schema(summary="Dismiss a flag as no error (reviewer)", request=DismissSerializer,
               responses=responses({200: OBJECT}))
@api_view(["POST"])
def dismiss_flag(request, slug):
    """{frame, kind, keypoints}: the flag is no error; it stays dismissed until the annotation changes."""
    project = project_for(request.user, slug, Role.REVIEWER)
    data = request.data
    return Response(checks.dismiss(project, data.get("frame"), kind=data.get("kind"),
                                   keypoints=data.get("keypoints", []), user=request.user))
