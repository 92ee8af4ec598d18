"""REST of the dataset area: starting dataset jobs (import, merge, split, export), split versions and
the COCO JSON of a split for training scripts."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from annotations.core.errors import InputError
from annotations.core.jobs import kind_of, kinds_of, start_job
from annotations.core.lists import ProjectListView
from annotations.core.params import truthy
from annotations.core.permissions import project_for
from annotations.core.schema import OBJECT, responses
from annotations.core.serializers import JobSerializer, SplitVersionSerializer
from annotations.core.throttling import ImportRateThrottle
from annotations.datasets import exporting
from annotations.datasets.filters import JobFilter
from annotations.datasets.imports import import_params
from annotations.datasets.merging import merge_params
from annotations.datasets.params import check_import_fields, check_job_params
from annotations.datasets.serializers import DatasetJobSerializer
from annotations.models import Job


@extend_schema(methods=["GET"], summary="A project's jobs, paged")
@extend_schema(methods=["POST"], summary="Start an import, merge, split, export or store_frames job",
               request=DatasetJobSerializer,
               responses=responses({202: JobSerializer}, errors=(400, 401, 403, 404, 409, 429)))
class ProjectJobs(ProjectListView):
    """A project's jobs (GET, paged, filtered by kind and state); POST starts a dataset job."""

    queryset = Job.objects.none()
    serializer_class = JobSerializer
    filterset_class = JobFilter
    throttle_classes = [ImportRateThrottle]

    def project_queryset(self, project):
        return Job.objects.filter(project=project).select_related("project", "created_by")

    def post(self, request, slug):
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


@extend_schema(summary="A project's split versions", responses=responses({200: SplitVersionSerializer(many=True)}))
@api_view(["GET"])
def splits(request, slug):
    project = project_for(request.user, slug)
    return Response(SplitVersionSerializer(project.split_versions.all(), many=True).data)


@extend_schema(summary="A subset's COCO JSON", parameters=[
    OpenApiParameter("subset", OpenApiTypes.STR, OpenApiParameter.PATH, enum=["train", "val", "test"]),
    OpenApiParameter("version", int, description="A split version number (default: the latest)."),
    OpenApiParameter("include_unconfirmed", bool, description="Also label points no person confirmed."),
    OpenApiParameter("verified_only", bool, description="Only points a person confirmed (the default)."),
    OpenApiParameter("individual", bool, description="Also each person's annotation behind a consensus "
                     "(attributes.consensus_vote)."),
], responses=responses({(200, "application/json"): OpenApiResponse(OBJECT, description="COCO keypoints JSON."),
                        304: OpenApiResponse(description="Not modified (If-None-Match matched the ETag).")}))
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
    path, etag = exporting.cached_coco_file(project, subset, int(version) if version else None, include_unconfirmed,
                                            truthy(request.query_params.get("individual", "")))
    quoted = f'"{etag}"'
    if quoted in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = Response(status=status.HTTP_304_NOT_MODIFIED)
    else:
        response = FileResponse(open(path, "rb"), content_type="application/json",
                                filename=f"{project.slug}-{subset}.json")
    response["ETag"] = quoted
    response["Cache-Control"] = "private, no-cache"
    return response
