"""REST of the dataset area: starting dataset jobs (import, merge, split, export), split versions and
the COCO JSON of a split for training scripts."""

from __future__ import annotations

from django.http import FileResponse
from rest_framework import status
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.response import Response

from annotations.core.errors import InputError
from annotations.core.jobs import kind_of, kinds_of, start_job
from annotations.core.pagination import BoundedPagination
from annotations.core.params import truthy
from annotations.core.permissions import project_for
from annotations.core.serializers import JobSerializer, SplitVersionSerializer
from annotations.core.throttling import ImportRateThrottle
from annotations.datasets import exporting
from annotations.datasets.imports import import_params
from annotations.datasets.merging import merge_params
from annotations.datasets.params import check_import_fields, check_job_params
from annotations.models import Job


@api_view(["GET", "POST"])
@throttle_classes([ImportRateThrottle])
def project_jobs(request, slug):
    if request.method == "GET":
        project = project_for(request.user, slug)
        qs = Job.objects.filter(project=project).select_related("project", "created_by")
        paginator = BoundedPagination()
        page = paginator.paginate_queryset(qs, request)
        return paginator.get_paginated_response(JobSerializer(page, many=True).data)
    kind = request.data.get("kind")
    if kind not in kinds_of("datasets"):
        raise InputError(f"'kind' must be one of {sorted(kinds_of('datasets'))}")
    project = project_for(request.user, slug, kind_of(kind).role)
    if kind == "import":
        check_import_fields(request.data)
        params = import_params(request)
    else:
        params = check_job_params(kind, request.data.get("params"))
    if kind == "merge":
        params = merge_params({"projects": [project.slug], **params})
    job = start_job(project, kind, params, request.user)
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@api_view(["GET"])
def splits(request, slug):
    project = project_for(request.user, slug)
    return Response(SplitVersionSerializer(project.split_versions.all(), many=True).data)


@api_view(["GET"])
def split_coco(request, slug, subset):
    """A subset's COCO JSON for training scripts: streamed from a cached file, with an ETag."""
    project = project_for(request.user, slug)
    version = request.query_params.get("version")
    if version is not None and not version.isdigit():
        raise InputError("'version' must be a split version number")
    # Unconfirmed points are unlabelled unless asked for; verified_only=1 (the old opt-in) keeps them out too.
    include_unconfirmed = (truthy(request.query_params.get("include_unconfirmed", ""))
                           and not truthy(request.query_params.get("verified_only", "")))
    path, etag = exporting.cached_coco_file(project, subset, int(version) if version else None, include_unconfirmed)
    quoted = f'"{etag}"'
    if quoted in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = Response(status=status.HTTP_304_NOT_MODIFIED)
    else:
        response = FileResponse(open(path, "rb"), content_type="application/json",
                                filename=f"{project.slug}-{subset}.json")
    response["ETag"] = quoted
    response["Cache-Control"] = "private, no-cache"
    return response
