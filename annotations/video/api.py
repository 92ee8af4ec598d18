"""REST endpoints of the video area: uploads (whole or chunked), extraction, clip timeline data,
interpolation and temporal checks. Rules live in services/; these only translate HTTP.

Roles: adding videos and extracting frames shape the dataset (PI, like imports); interpolating is
annotation work (annotator); feeding the label-error queue is a reviewer's call.
"""

from __future__ import annotations

from django.db.models import Count, Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.response import Response

from annotations.core import serving
from annotations.core.errors import InputError
from annotations.core.files import remove_upload, save_upload
from annotations.core.jobs import start_job
from annotations.core.permissions import project_for
from annotations.core.schema import OBJECT, file_response, responses
from annotations.core.serializers import JobSerializer
from annotations.core.throttling import UploadRateThrottle
from annotations.models import Clip, Frame, Job, Role, Video
from annotations.video import extraction as videos
from annotations.video import temporal
from annotations.video import uploads as video_uploads
from annotations.video.serializers import (
    ExtractionOptionsSerializer,
    InterpolateSerializer,
    ThresholdSerializer,
    UploadBeginSerializer,
    UploadStateSerializer,
    VideoSerializer,
    VideoUploadSerializer,
)
from annotations.video.timeline import timeline_data
from annotations.video.uploads import OffsetMismatch


def _video_dict(video: Video) -> dict:
    return {"id": video.pk, "name": video.name, "source_name": video.source_name, "fps": video.fps,
            "duration": video.duration, "width": video.width, "height": video.height, "codec": video.codec,
            "rotation": video.rotation, "frame_count": video.frame_count,
            "variable_frame_rate": video.variable_frame_rate, "created_at": video.created_at,
            # clips_with_counts is the Prefetch(to_attr=...) of _with_clip_counts, which the stubs cannot see.
            "clips": [{"key": c.key, "frames": c.n_frames} for c in video.clips_with_counts]}  # type: ignore[attr-defined]


def _with_clip_counts(qs):
    return qs.prefetch_related(Prefetch("clips", queryset=Clip.objects.annotate(n_frames=Count("frames")),
                                        to_attr="clips_with_counts"))


def _accepted(job: Job) -> Response:
    return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(methods=["GET"], summary="A project's videos", responses=responses({200: VideoSerializer(many=True)}))
@extend_schema(methods=["POST"], summary="Upload a video and extract its frames (PI)",
               request={"multipart/form-data": VideoUploadSerializer},
               responses=responses({202: JobSerializer}, errors=(400, 401, 403, 404, 413, 429)))
@api_view(["GET", "POST"])
@throttle_classes([UploadRateThrottle])
def project_videos(request, slug):
    """GET: the project's videos. POST (multipart): `file` plus extraction options -> extraction job."""
    if request.method == "GET":
        project = project_for(request.user, slug)
        qs = _with_clip_counts(Video.objects.filter(project=project).order_by("name"))
        return Response([_video_dict(v) for v in qs])
    project = project_for(request.user, slug, Role.PI)
    upload = request.FILES.get("file")
    if upload is None:
        raise InputError("send the video as 'file' (multipart), or use the chunked upload endpoints")
    videos.check_video_file_name(upload.name)
    options = videos.extraction_options(request.data)
    name, _path = save_upload(upload)
    try:
        job = videos.start_extraction(project, name, upload.name, options, request.user)
    except BaseException:
        remove_upload(name)
        raise
    return _accepted(job)


@extend_schema(summary="A video", responses=responses({200: VideoSerializer}))
@api_view(["GET"])
def video_detail(request, slug, video_id):
    project = project_for(request.user, slug)
    video = get_object_or_404(_with_clip_counts(Video.objects.filter(project=project)), pk=video_id)
    return Response(_video_dict(video))


@extend_schema(summary="Extract a stored video again", request=ExtractionOptionsSerializer,
               responses=responses({202: JobSerializer}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def video_extract(request, slug, video_id):
    """Extract a stored video again at another rate; frames people worked on stay."""
    project = project_for(request.user, slug, Role.PI)
    video = get_object_or_404(Video, project=project, pk=video_id)
    return _accepted(videos.start_reextraction(video, videos.extraction_options(request.data), request.user))


# -- chunked uploads ------------------------------------------------------------------------------

@extend_schema(summary="Begin a chunked upload", request=UploadBeginSerializer,
               responses=responses({201: UploadStateSerializer}, errors=(400, 401, 403, 404, 429)))
@api_view(["POST"])
@throttle_classes([UploadRateThrottle])
def upload_begin(request, slug):
    """{file_name, size} -> {id, offset: 0, size, chunk_size}."""
    project = project_for(request.user, slug, Role.PI)
    upload = video_uploads.begin(project, request.user, request.data.get("file_name", ""), request.data.get("size"))
    return Response(upload.as_dict(), status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], summary="Where a chunked upload stands",
               responses=responses({200: UploadStateSerializer}))
@extend_schema(methods=["PATCH"], summary="Append bytes to a chunked upload", parameters=[
    OpenApiParameter("Upload-Offset", int, OpenApiParameter.HEADER, required=True,
                     description="Where these bytes start.")],
    request={"application/octet-stream": OpenApiTypes.BINARY},
    responses=responses({200: UploadStateSerializer}, errors=(400, 401, 403, 404, 409, 413)))
@extend_schema(methods=["DELETE"], summary="Abandon a chunked upload", responses=responses({204: None}))
@api_view(["GET", "PATCH", "DELETE"])
def upload_detail(request, slug, upload_id):
    """GET: where the upload stands. PATCH: raw bytes at header Upload-Offset (409 with the server's
    offset if they do not start there). DELETE: abandon it."""
    project = project_for(request.user, slug, Role.PI)
    if request.method == "GET":
        return Response(video_uploads.state(project, request.user, upload_id).as_dict())
    if request.method == "DELETE":
        video_uploads.discard(project, request.user, upload_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
    length = request.META.get("CONTENT_LENGTH")
    try:
        upload = video_uploads.append(project, request.user, upload_id, request.headers.get("Upload-Offset"),
                                      request._request, int(length) if length and length.isdigit() else None)
    except OffsetMismatch as exc:
        return Response({"detail": str(exc), "offset": exc.offset}, status=status.HTTP_409_CONFLICT)
    response = Response(upload.as_dict())
    response["Upload-Offset"] = str(upload.offset)
    return response


@extend_schema(summary="Finish a chunked upload and extract its frames", request=ExtractionOptionsSerializer,
               responses=responses({202: JobSerializer}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def upload_complete(request, slug, upload_id):
    """Extraction options -> the extraction job of the complete upload."""
    project = project_for(request.user, slug, Role.PI)
    options = videos.extraction_options(request.data)
    name, file_name = video_uploads.finish(project, request.user, upload_id)
    try:
        job = videos.start_extraction(project, name, file_name, options, request.user)
    except BaseException:
        remove_upload(name)
        raise
    return _accepted(job)


# -- clips ----------------------------------------------------------------------------------------

@extend_schema(summary="A clip's timeline data", responses=responses({200: OBJECT}))
@api_view(["GET"])
def clip_timeline(request, slug, key):
    """Everything the timeline page draws: frames in order with status, priority, annotations and jumps."""
    project = project_for(request.user, slug)
    clip = get_object_or_404(Clip, project=project, key=key)
    return Response(timeline_data(project, clip, request.user))


@extend_schema(summary="Interpolate a clip's unlabelled frames", request=InterpolateSerializer,
               responses=responses({202: JobSerializer}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def clip_interpolate(request, slug, key):
    """{start_frame, end_frame (optional frame ids), method: linear} -> interpolation job."""
    project = project_for(request.user, slug, Role.ANNOTATOR)
    clip = get_object_or_404(Clip, project=project, key=key)
    method = request.data.get("method") or "linear"
    if method != "linear":
        raise InputError(f"unknown method {method!r}; only linear interpolation is available")
    params = {"clip": clip.key, "method": method}
    for field in ("start_frame", "end_frame"):
        value = request.data.get(field)
        if value not in (None, ""):
            if not str(value).isdigit():
                raise InputError(f"'{field}' must be a frame id")
            params[field] = int(value)
    return _accepted(start_job(project, Job.Kind.INTERPOLATE, params, request.user))


@extend_schema(methods=["GET"], summary="Jump scores of a clip's annotations", parameters=[
    OpenApiParameter("threshold", float, description="A fraction of the body's box diagonal, above 0, below 10.")],
    responses=responses({200: OBJECT}))
@extend_schema(methods=["POST"], summary="Jump scores, fed to the label-error queue", request=ThresholdSerializer,
               responses=responses({200: OBJECT}))
@api_view(["GET", "POST"])
def clip_temporal(request, slug, key):
    """GET: jump scores of the clip's annotations. POST: the same, also fed to the label-error queue."""
    project = project_for(request.user, slug, Role.REVIEWER if request.method == "POST" else Role.ANNOTATOR)
    clip = get_object_or_404(Clip, project=project, key=key)
    threshold = request.data.get("threshold") if request.method == "POST" else request.query_params.get("threshold")
    try:
        threshold = float(threshold) if threshold not in (None, "") else temporal.DEFAULT_THRESHOLD
    except ValueError:
        raise InputError("'threshold' must be a number (a fraction of the body's box diagonal)") from None
    if not 0 < threshold < 10:
        raise InputError("'threshold' must be above 0 and below 10")
    report = (temporal.check_and_feed(clip, threshold) if request.method == "POST"
              else temporal.check_clip(clip, threshold))
    report["frames"] = {str(k): v for k, v in report["frames"].items()}
    return Response(report)


@extend_schema(summary="A frame's thumbnail", responses=responses(file_response("image/jpeg", "The thumbnail JPEG.")))
@api_view(["GET"])
def frame_thumbnail(request, slug, frame_id):
    project = project_for(request.user, slug)
    frame = get_object_or_404(Frame, project=project, pk=frame_id)
    if not frame.thumbnail:
        raise Http404("this frame has no thumbnail")
    return serving.serve_stored(request, frame.thumbnail.name, "image/jpeg")
