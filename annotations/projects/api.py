"""REST of a project's data: projects, frames and their images, annotations, revisions, clips. Token auth for
scripts, session auth for pages; rules live in the feature modules."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import api_view
from rest_framework.response import Response

from annotations.core import serving
from annotations.core.errors import InputError
from annotations.core.lists import ProjectListView, ProjectObjectView
from annotations.core.permissions import project_for
from annotations.core.schema import file_response, responses
from annotations.core.serializers import (
    AnnotationSerializer,
    FrameSerializer,
    ProjectSerializer,
    RevisionSerializer,
)
from annotations.gold import attempts, blinding, marking
from annotations.gold.serializers import FrameWithGoldSerializer
from annotations.models import Annotation, Clip, Frame, Project, Revision
from annotations.projects import stats
from annotations.projects.filters import FrameFilter, RevisionFilter
from annotations.projects.serializers import (
    AnnotationEditSerializer,
    AnnotationRemoveSerializer,
    ClipRowSerializer,
    ProjectCreateSerializer,
    ProjectDetailSerializer,
)
from annotations.review import editing


@extend_schema(methods=["GET"], summary="Projects the caller may see",
               responses=responses({200: ProjectSerializer(many=True)}, errors=(401, 403)))
@extend_schema(methods=["POST"], summary="Create a project (staff)", request=ProjectCreateSerializer,
               responses=responses({201: ProjectSerializer}, errors=(400, 401, 403)))
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


@extend_schema(summary="A project with its statistics", responses=responses({200: ProjectDetailSerializer}))
@api_view(["GET"])
def project_detail(request, slug):
    project = project_for(request.user, slug)
    data = ProjectSerializer(project, context={"request": request}).data
    data["stats"] = stats.project_stats(project)
    return Response(data)


@extend_schema(summary="A project's frames, paged",
               responses=responses({200: FrameWithGoldSerializer(many=True)}))
class FrameList(ProjectListView):
    """Frames with their annotations; to annotators a gold frame is an unlabelled pool frame, in the rows
    and in the status filter (annotations/gold/blinding.py)."""

    queryset = Frame.objects.none()
    filterset_class = FrameFilter
    serializer_class = FrameSerializer

    def project_queryset(self, project):
        self.sees_gold = blinding.sees_gold(project, self.request.user)
        return (Frame.objects.filter(project=project).alias(shown_status=blinding.shown_status(not self.sees_gold))
                .select_related("clip").prefetch_related("annotations__form_label").order_by("id"))

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = self.get_serializer(page, many=True).data
        # Gold and consensus state to reviewers and PIs; never a gold frame's annotation to annotators.
        rows = marking.with_gold_state(rows) if self.sees_gold else blinding.disguise_rows(rows)
        return self.get_paginated_response(rows)


@extend_schema(summary="A frame with its annotations", responses=responses({200: FrameWithGoldSerializer}))
class FrameDetail(ProjectObjectView):
    queryset = Frame.objects.none()
    serializer_class = FrameSerializer
    lookup_url_kwarg = "frame_id"

    def project_queryset(self, project):
        return Frame.objects.filter(project=project).select_related("clip")

    def retrieve(self, request, *args, **kwargs):
        data = self.get_serializer(self.get_object()).data
        if blinding.sees_gold(self.project, request.user):  # gold and consensus state: never to annotators
            return Response(marking.with_gold_state([data])[0])
        return Response(blinding.disguise_rows([data])[0])


@extend_schema(summary="A frame's image", responses=responses(file_response("image/jpeg", "The frame's JPEG.")))
@api_view(["GET"])
def frame_image(request, slug, frame_id):
    project = project_for(request.user, slug)
    frame = get_object_or_404(Frame, project=project, pk=frame_id)
    # By the web process or the proxy in front, with an ETag and private caching (core/serving.py).
    return serving.serve_frame_image(request, frame)


@extend_schema(methods=["GET"], summary="An annotation", responses=responses({200: AnnotationSerializer}))
@extend_schema(methods=["PATCH"], summary="Edit an annotation", request=AnnotationEditSerializer,
               responses=responses({200: AnnotationSerializer}, errors=(400, 401, 403, 404, 409)))
@extend_schema(methods=["DELETE"], summary="Remove a person added to a frame", request=AnnotationRemoveSerializer,
               responses=responses({204: None}, errors=(400, 401, 403, 404, 409)))
@api_view(["GET", "PATCH", "DELETE"])
def annotation_detail(request, slug, annotation_id):
    project = project_for(request.user, slug)
    if (attempt := attempts.attempt_by_draft(project, request.user, annotation_id)) is not None:
        return _honeypot_draft(request, attempt)
    ann = get_object_or_404(Annotation.objects.select_related("frame__gold"), project=project, pk=annotation_id)
    if blinding.hides_annotation(project, request.user, ann):  # to annotators a gold frame has no annotation
        raise Http404("No Annotation matches the given query.")
    if request.method == "DELETE":
        body = request.data if isinstance(request.data, dict) else {}
        version = body.get("version", request.query_params.get("version"))
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        editing.remove_person(ann.pk, request.user, version, queue=body.get("queue") or None)
        return Response(status=204)
    if request.method == "PATCH":
        if not isinstance(request.data, dict):
            raise InputError("send a JSON object")
        data = dict(request.data)
        version = data.pop("version", None)
        queue = data.pop("queue", None) or None  # claimed through a queue: the caller must still hold it
        ann = editing.save_edit(ann.pk, request.user, data, version, queue=queue)
    return Response(AnnotationSerializer(ann).data)


def _honeypot_draft(request, attempt) -> Response:
    """The caller's working copy (a honeypot or a consensus vote), read and saved as an annotation (the frame's
    own stays as it is)."""
    if request.method == "DELETE":
        raise InputError("the frame's first person cannot be removed: remove its points instead")
    if request.method == "PATCH":
        if not isinstance(request.data, dict):
            raise InputError("send a JSON object")
        data = {k: v for k, v in request.data.items() if k not in ("version", "queue")}
        attempt = attempts.save_draft(attempt, request.user, data, request.data.get("version"))
    return Response(attempts.annotation_data(attempt))


@extend_schema(summary="A project's revisions, paged",
               responses=responses({200: RevisionSerializer(many=True)}))
class RevisionList(ProjectListView):
    queryset = Revision.objects.none()
    filterset_class = RevisionFilter
    serializer_class = RevisionSerializer

    def project_queryset(self, project):
        return Revision.objects.filter(project=project).select_related("user").order_by("-created_at", "-id")


@extend_schema(summary="A project's clips with frame counts, paged",
               responses=responses({200: ClipRowSerializer(many=True)}))
class ClipList(ProjectListView):
    queryset = Clip.objects.none()
    serializer_class = ClipRowSerializer

    def project_queryset(self, project):
        # Paged like every list: a project of a million frames has tens of thousands of clips.
        return project.clips.order_by("key", "id")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        # Counted for this page's clips only, not for every clip of the project.
        counted = Clip.objects.filter(pk__in=[c.pk for c in page]).annotate(
            frames_count=Count("frames", distinct=True), annotated=Count("frames__annotations", distinct=True))
        return self.get_paginated_response(self.get_serializer(counted.order_by("key", "id"), many=True).data)
