"""The REST API (DRF). Token auth for scripts, session auth for pages. Rules live in services/."""

from __future__ import annotations

import os
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Count
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from rest_framework import status
from rest_framework.decorators import api_view
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from . import stats
from .models import Annotation, Frame, Job, Project, Revision
from .permissions import JOB_ROLES, job_visible, project_for
from .serializers import (AnnotationSerializer, FrameSerializer, JobSerializer, ProjectSerializer, RevisionSerializer,
                          SplitVersionSerializer)
from .services import editing, exporting
from .services.errors import InputError
from .services.jobs import start_job

TRUE = ("1", "true", "yes", "on")


@api_view(["GET", "POST"])
def projects(request):
    if request.method == "POST":
        if not request.user.is_staff:
            raise PermissionDenied("only staff may create projects")
        data = request.data
        if not data.get("slug") or Project.objects.filter(slug=data["slug"]).exists():
            raise InputError("a new, unused 'slug' is required")
        try:
            project = Project.create(data["slug"], data.get("name", ""), data.get("skeleton", "coco17_spine"),
                                     user=request.user)
        except KeyError as exc:
            raise InputError(str(exc.args[0])) from exc
        return Response(ProjectSerializer(project, context={"request": request}).data, status=201)
    qs = Project.visible_to(request.user).prefetch_related("form_labels")
    return Response([{**ProjectSerializer(p, context={"request": request}).data} for p in qs])


@api_view(["GET"])
def project_detail(request, slug):
    project = project_for(request.user, slug)
    data = ProjectSerializer(project, context={"request": request}).data
    data["stats"] = stats.project_stats(project)
    return Response(data)


@api_view(["GET"])
def frames(request, slug):
    project = project_for(request.user, slug)
    qs = Frame.objects.filter(project=project).select_related("clip").prefetch_related("annotations__form_label")
    for param, field in (("split", "split"), ("status", "status"), ("clip", "clip__key")):
        if request.query_params.get(param):
            qs = qs.filter(**{field: request.query_params[param]})
    paginator = LimitOffsetPagination()
    page = paginator.paginate_queryset(qs.order_by("id"), request)
    return paginator.get_paginated_response(FrameSerializer(page, many=True).data)


@api_view(["GET"])
def frame_detail(request, slug, frame_id):
    project = project_for(request.user, slug)
    frame = get_object_or_404(Frame.objects.select_related("clip"), project=project, pk=frame_id)
    return Response(FrameSerializer(frame).data)


@api_view(["GET"])
def frame_image(request, slug, frame_id):
    project = project_for(request.user, slug)
    frame = get_object_or_404(Frame, project=project, pk=frame_id)
    if not frame.has_image:
        raise Http404("this frame's image is missing")
    try:
        return FileResponse(frame.open_image(), content_type="image/jpeg")
    except OSError:
        raise Http404("this frame's image cannot be read") from None


@api_view(["GET", "PATCH"])
def annotation_detail(request, slug, annotation_id):
    project = project_for(request.user, slug)
    ann = get_object_or_404(Annotation, project=project, pk=annotation_id)
    if request.method == "PATCH":
        if not isinstance(request.data, dict):
            raise InputError("send a JSON object")
        data = dict(request.data)
        version = data.pop("version", None)
        ann = editing.save_edit(ann.pk, request.user, data, version)
    return Response(AnnotationSerializer(ann).data)


@api_view(["GET"])
def revisions(request, slug):
    project = project_for(request.user, slug)
    qs = Revision.objects.filter(project=project).select_related("user")
    for param in ("frame", "annotation"):
        if request.query_params.get(param, "").isdigit():
            qs = qs.filter(**{param: int(request.query_params[param])})
    paginator = LimitOffsetPagination()
    page = paginator.paginate_queryset(qs, request)
    return paginator.get_paginated_response(RevisionSerializer(page, many=True).data)


def _save_upload(upload) -> tuple[str, str]:
    """Store an uploaded file; returns (storage name, local path) for the job, which removes it."""
    if upload.size > settings.POSEREVIEW_MAX_UPLOAD_BYTES:
        raise InputError(f"{upload.name}: {upload.size:,} bytes exceeds the upload limit of "
                         f"{settings.POSEREVIEW_MAX_UPLOAD_BYTES:,} bytes")
    name = default_storage.save(f"uploads/{uuid.uuid4().hex}/{os.path.basename(upload.name)}", upload)
    return name, default_storage.path(name)


def check_import_folder(path: str) -> str:
    """A server folder an import may read: absolute, existing, and inside POSEREVIEW_IMPORT_ROOTS if set."""
    real = os.path.realpath(path)
    roots = [os.path.realpath(r) for r in settings.POSEREVIEW_IMPORT_ROOTS]
    if roots and not any(real == r or real.startswith(r + os.sep) for r in roots):
        raise InputError(f"{path}: not inside an allowed import folder ({', '.join(roots)})")
    if not os.path.isdir(real):
        raise InputError(f"{path}: no such folder on the server")
    return real


def import_params(request) -> dict:
    """Job params for an import: an uploaded JSON or zip, or a JSON path and image folder on the server."""
    data = request.data
    params = {"form_label": data.get("form_label") or None, "copy_images": str(data.get("copy_images", "")).lower() in TRUE,
              "source_name": data.get("source_name") or None}
    upload = request.FILES.get("file")
    if upload is not None:
        params["upload"], path = _save_upload(upload)
        params["source_name"] = params["source_name"] or os.path.basename(upload.name)
        if upload.name.lower().endswith(".zip"):
            params["zip"] = path
        else:
            params["annotation_path"] = path
    elif data.get("annotation_path"):
        params["annotation_path"] = data["annotation_path"]
        check_import_folder(os.path.dirname(data["annotation_path"]) or "/")
    else:
        raise InputError("send a 'file' (COCO JSON or CVAT zip) or an 'annotation_path' on the server")
    if data.get("images_dir"):
        params["images_dir"] = check_import_folder(data["images_dir"])
    return params


@api_view(["GET", "POST"])
def project_jobs(request, slug):
    if request.method == "GET":
        project = project_for(request.user, slug)
        qs = Job.objects.filter(project=project).select_related("project", "created_by")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request)
        return paginator.get_paginated_response(JobSerializer(page, many=True).data)
    kind = request.data.get("kind")
    if kind not in JOB_ROLES:
        raise InputError(f"'kind' must be one of {sorted(JOB_ROLES)}")
    project = project_for(request.user, slug, JOB_ROLES[kind])
    if kind == "import":
        params = import_params(request)
    else:
        params = request.data.get("params") or {}
        if not isinstance(params, dict):
            raise InputError("'params' must be an object")
    if kind == "merge":
        params.setdefault("projects", [project.slug])
    job = start_job(project, kind, params, request.user)
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


def _visible_job(request, job_id) -> Job:
    job = get_object_or_404(Job.objects.select_related("project", "created_by"), pk=job_id)
    if not job_visible(request.user, job):
        raise Http404("No such job.")
    return job


@api_view(["GET"])
def job_detail(request, job_id):
    return Response(JobSerializer(_visible_job(request, job_id)).data)


@api_view(["GET"])
def job_download(request, job_id):
    job = _visible_job(request, job_id)
    if not job.result_file:
        raise Http404("this job has no result file")
    return FileResponse(job.result_file.open("rb"), as_attachment=True,
                        filename=os.path.basename(job.result_file.name))


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
    verified_only = request.query_params.get("verified_only", "").lower() in TRUE
    path, etag = exporting.cached_coco_file(project, subset, int(version) if version else None, verified_only)
    quoted = f'"{etag}"'
    if quoted in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = Response(status=status.HTTP_304_NOT_MODIFIED)
    else:
        response = FileResponse(open(path, "rb"), content_type="application/json",
                                filename=f"{project.slug}-{subset}.json")
    response["ETag"] = quoted
    response["Cache-Control"] = "private, no-cache"
    return response


@api_view(["GET"])
def clips(request, slug):
    project = project_for(request.user, slug)
    rows = (project.clips.annotate(frames_count=Count("frames", distinct=True),
                                   annotated=Count("frames__annotations", distinct=True))
            .values("key", "frames_count", "annotated"))
    return Response(list(rows))
