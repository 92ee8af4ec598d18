"""REST of jobs: a job's state, its result file and cancelling it."""

from __future__ import annotations

import os

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.response import Response

from annotations.core.jobs import notice_if_dead
from annotations.core.permissions import job_visible
from annotations.core.progress import cancel_for
from annotations.core.schema import file_response, responses
from annotations.core.serializers import JobSerializer
from annotations.models import Job


def _visible_job(request, job_id) -> Job:
    job = get_object_or_404(Job.objects.select_related("project", "created_by"), pk=job_id)
    if not job_visible(request.user, job):
        raise Http404("No such job.")
    return notice_if_dead(job)


@extend_schema(responses=responses({200: JobSerializer}, errors=(401, 403, 404)), summary="A job's state")
@api_view(["GET"])
def job_detail(request, job_id):
    return Response(JobSerializer(_visible_job(request, job_id)).data)


@extend_schema(responses=responses(file_response("application/octet-stream", "The job's result file."),
                                   errors=(401, 403, 404)), summary="A job's result file")
@api_view(["GET"])
def job_download(request, job_id):
    job = _visible_job(request, job_id)
    if not job.result_file:
        raise Http404("this job has no result file")
    return FileResponse(job.result_file.open("rb"), as_attachment=True,
                        filename=os.path.basename(job.result_file.name))


@extend_schema(request=None, responses=responses({200: JobSerializer}), summary="Cancel a job")
@api_view(["POST"])
def job_cancel(request, job_id):
    """Cancel a queued job, or a running one that stops at its next progress report."""
    job = _visible_job(request, job_id)
    cancel_for(job, request.user)
    job.refresh_from_db()
    return Response(JobSerializer(job).data)
