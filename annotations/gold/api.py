"""REST of gold frames and honeypots: the rate, marking, unmarking and importing gold frames (PI), the
gold frames, scored attempts and per-annotator accuracy (reviewers and PIs). Annotators never see any
of it: to them a honeypot is a frame of their queue."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.response import Response

from annotations.core.lists import ProjectListView
from annotations.core.pagination import BoundedPagination, text_param
from annotations.core.permissions import project_for
from annotations.core.schema import PAGE_PARAMETERS, page_of, responses
from annotations.core.serializers import validated
from annotations.core.throttling import ImportRateThrottle
from annotations.gold import accuracy, marking
from annotations.gold.filters import AttemptFilter
from annotations.gold.serializers import (
    AccuracySerializer,
    AttemptSerializer,
    FrameIdsSerializer,
    GoldFrameSerializer,
    GoldImportSerializer,
    GoldSettingsSerializer,
    GoldSummarySerializer,
    ImportResultSerializer,
    MarkResultSerializer,
    UnmarkResultSerializer,
)
from annotations.models import GoldAttempt, GoldFrame, Role

USER_PARAMETER = OpenApiParameter("user", str, description="Only this person's attempts (a username).")


def summary(project) -> dict:
    return {"honeypot_rate": project.honeypot_rate,
            "gold_frames": GoldFrame.objects.filter(project=project, active=True).count(),
            "scored_attempts": GoldAttempt.objects.filter(project=project, status=GoldAttempt.Status.SCORED).count()}


@extend_schema(methods=["GET"], summary="The honeypot rate and how many gold frames and attempts (reviewer)",
               responses=responses({200: GoldSummarySerializer}))
@extend_schema(methods=["PATCH"], summary="Set the honeypot rate (PI)", request=GoldSettingsSerializer,
               responses=responses({200: GoldSummarySerializer}))
@api_view(["GET", "PATCH"])
def gold_settings(request, slug):
    project = project_for(request.user, slug, Role.PI if request.method == "PATCH" else Role.REVIEWER)
    if request.method == "PATCH":
        marking.set_rate(project, validated(GoldSettingsSerializer, request.data)["honeypot_rate"])
    return Response(summary(project))


@extend_schema(methods=["GET"], summary="The project's gold frames, paged (reviewer)", parameters=PAGE_PARAMETERS,
               responses=responses({200: page_of(GoldFrameSerializer, "GoldFramePage")}))
@extend_schema(methods=["POST"], summary="Mark frames gold: their verified points and form label, frozen (PI)",
               request=FrameIdsSerializer, responses=responses({200: MarkResultSerializer}))
@api_view(["GET", "POST"])
def gold_frames(request, slug):
    if request.method == "POST":
        project = project_for(request.user, slug, Role.PI)
        return Response(marking.mark(project, validated(FrameIdsSerializer, request.data)["frames"], request.user))
    project = project_for(request.user, slug, Role.REVIEWER)
    paginator = BoundedPagination()
    page = paginator.paginate_queryset(GoldFrame.objects.filter(project=project, active=True)
                                       .select_related("frame").order_by("frame_id"), request)
    state = marking.gold_state([g.frame_id for g in page])
    return paginator.get_paginated_response([{"frame": g.frame_id, "file_name": g.frame.file_name,
                                              **state[g.frame_id]} for g in page if g.frame_id in state])


@extend_schema(summary="Frames stop being gold; their scored attempts stay (PI)", request=FrameIdsSerializer,
               responses=responses({200: UnmarkResultSerializer}))
@api_view(["POST"])
def gold_unmark(request, slug):
    project = project_for(request.user, slug, Role.PI)
    return Response(marking.unmark(project, validated(FrameIdsSerializer, request.data)["frames"]))


@extend_schema(summary="Import a gold set from a COCO keypoints file (PI)",
               request={"multipart/form-data": GoldImportSerializer},
               responses=responses({200: ImportResultSerializer}, errors=(400, 401, 403, 404, 413, 429)))
@api_view(["POST"])
@throttle_classes([ImportRateThrottle])
def gold_import(request, slug):
    project = project_for(request.user, slug, Role.PI)
    return Response(marking.import_gold(project, request.FILES.get("file"), request.user))


@extend_schema(summary="Per-annotator accuracy on gold frames, and over time (reviewer)",
               parameters=[USER_PARAMETER], responses=responses({200: AccuracySerializer}))
@api_view(["GET"])
def gold_accuracy(request, slug):
    project = project_for(request.user, slug, Role.REVIEWER)
    user = text_param(request, "user")
    unit, rows = accuracy.over_time(project, user)
    return Response({"annotators": accuracy.per_annotator(project, user), "unit": unit,
                     "columns": ["period", "user", "attempts", "mean_oks", "mean_pixel_error", "form_agreement"],
                     "over_time": rows})


@extend_schema(summary="Scored honeypot attempts, newest first, paged (reviewer)",
               responses=responses({200: AttemptSerializer(many=True)}))
class AttemptList(ProjectListView):
    queryset = GoldAttempt.objects.none()
    filterset_class = AttemptFilter
    serializer_class = AttemptSerializer
    minimum_role = Role.REVIEWER

    def project_queryset(self, project):
        return (GoldAttempt.objects.filter(project=project, status=GoldAttempt.Status.SCORED)
                .select_related("user", "frame", "gold").order_by("-submitted_at", "-id"))

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        names = self.project.skeleton["keypoints"]
        return self.get_paginated_response([attempt_row(a, names) for a in page])


def attempt_row(a, names):
    """An attempt as AttemptSerializer describes it, per-keypoint figures keyed by the skeleton's names."""
    return {
        "id": a.pk, "frame": a.frame_id, "file_name": a.frame.file_name, "user": a.user.get_username(),
        "queue": a.queue, "submitted_at": a.submitted_at.isoformat(), "oks": a.oks,
        "oks_per_keypoint": dict(zip(names, a.oks_per_keypoint, strict=False)), "pixel_error": a.pixel_error,
        "pixel_error_per_keypoint": dict(zip(names, a.pixel_error_per_keypoint, strict=False)),
        "form_label": a.form_label or None, "gold_form_label": a.gold.form_label or None,
        "form_agreement": a.form_agreement, "missed": a.missed, "extra": a.extra}
