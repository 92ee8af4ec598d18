"""REST endpoints of the review area: queues and claims, the editor's frame payload, submit and
review decisions, a frame's history and restoring a revision. Rules live in services/."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from annotations.core.errors import InputError
from annotations.core.params import queue_filters
from annotations.core.permissions import project_for
from annotations.core.schema import OBJECT, responses
from annotations.core.serializers import AnnotationSerializer, validated
from annotations.gold import attempts, blinding, serving
from annotations.learning.payloads import people_predictions
from annotations.models import (
    Annotation,
    ConsensusFrame,
    Frame,
    FrameLease,
    FrameStatus,
    QueueItem,
    Revision,
    Role,
)
from annotations.models.review import DECISION_QUEUES, QUEUE_ROLES
from annotations.review import claims, editing, history, queues
from annotations.review import decisions as review
from annotations.review.mean_pose import cached_mean_pose
from annotations.review.serializers import (
    AnnotationCreateSerializer,
    ClaimSerializer,
    DecisionSerializer,
    HistorySerializer,
    MoveOnSerializer,
    QueueFiltersSerializer,
    QueueListSerializer,
    RestoreSerializer,
    TransitionSerializer,
)


def item_data(item: QueueItem | None, lease: FrameLease | None = None) -> dict | None:
    """A claimed queue item as the editor and scripts see it (with where to edit it)."""
    if item is None:
        return None
    project_slug = item.project.slug  # the caller's project when _claimed set it (no query)
    return {
        "id": item.pk, "queue": item.queue, "frame": item.frame_id, "priority": item.priority,
        "signals": item.signals,
        "lease_expires_at": lease.expires_at.isoformat() if lease else None,
        "edit_url": reverse("frame-edit", args=[project_slug, item.frame_id]) + f"?queue={item.queue}",
    }


def _claimed(project, queue: str, user, filters: dict) -> dict | None:
    item = serving.claim_next(project, queue, user, **filters)  # annotation queues mix in honeypots
    if item is None:
        return None
    item.project = project  # the same row: item_data reads its slug without another query
    lease = FrameLease.objects.filter(frame_id=item.frame_id, user=user).first()
    return item_data(item, lease)


def _queue_role(queue: str) -> str:
    queues.check_queue(queue)
    return QUEUE_ROLES[queue]


@extend_schema(summary="The review queues", responses=responses({200: QueueListSerializer}))
@api_view(["GET"])
def queue_list(request, slug):
    """Every queue with its open items, frames leased now and whether the caller may work it."""
    project = project_for(request.user, slug)
    return Response({"queues": queues.queue_overview(project, request.user),
                     "filters": {"clips": list(project.clips.values_list("key", flat=True)),
                                 "splits": ["train", "val", "test"],
                                 "form_labels": list(project.form_labels.values_list("name", flat=True))}})


@extend_schema(summary="Claim the next frame of a queue", request=QueueFiltersSerializer,
               responses=responses({200: ClaimSerializer}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def queue_claim(request, slug, queue):
    """Lease the next frame of a queue: {"item": {...}} or {"item": null} when the queue is empty."""
    project = project_for(request.user, slug, _queue_role(queue))
    return Response({"item": _claimed(project, queue, request.user, queue_filters(request.data))})


@extend_schema(summary="Recompute the built-in queues", request=None,
               responses=responses({200: inline_serializer("QueueSizes", fields={"sizes": serializers.JSONField()})}))
@api_view(["POST"])
def queue_refresh(request, slug):
    """Recompute the built-in queues (unverified spine points, pre-annotated, audit sample)."""
    project = project_for(request.user, slug, Role.REVIEWER)
    return Response({"sizes": queues.refresh_builtin_queues(project)})


def _frame(request, slug, frame_id, minimum=Role.ANNOTATOR):
    project = project_for(request.user, slug, minimum)
    frame = get_object_or_404(Frame.objects.select_related("clip"), project=project, pk=frame_id)
    frame.project = project  # the row project_for read, with the caller's role already cached on the user
    return project, frame


@extend_schema(summary="Renew, release or skip the caller's claim on a frame", request=MoveOnSerializer,
               parameters=[OpenApiParameter("action", OpenApiTypes.STR, OpenApiParameter.PATH,
                                            enum=["renew", "release", "skip"])],
               responses=responses({200: OBJECT}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def frame_lease(request, slug, frame_id, action):
    """renew, release or skip the caller's claim on a frame."""
    if action not in ("renew", "release", "skip"):
        raise Http404("No such lease action.")
    project, frame = _frame(request, slug, frame_id)
    if action == "renew":
        lease = claims.renew(frame, request.user)
        if lease is None:
            return Response({"detail": "you hold no lease on this frame (it expired or was released)"},
                            status=status.HTTP_404_NOT_FOUND)
        return Response({"lease_expires_at": lease.expires_at.isoformat()})
    if action == "release":
        return Response({"released": claims.release(frame, request.user)})
    queue = validated(MoveOnSerializer, request.data).get("queue") or None
    if (attempt := attempts.open_attempt(frame, request.user)) is not None:
        attempts.skip(attempt, request.user)  # a honeypot: never served to this person again
        skipped = 1
    else:
        skipped = claims.skip(frame, request.user, queue)
    nxt = (_claimed(project, queue, request.user, queue_filters(request.data))
           if queue and request.data.get("next") else None)
    return Response({"skipped": skipped, "next": nxt})


@extend_schema(summary="Submit a frame for review", request=MoveOnSerializer,
               responses=responses({200: TransitionSerializer}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def frame_submit(request, slug, frame_id):
    """An annotator is done: the frame goes to review; with "next", the next item of the queue comes back."""
    project, frame = _frame(request, slug, frame_id)
    queue = validated(MoveOnSerializer, request.data).get("queue") or None
    if (attempt := attempts.open_attempt(frame, request.user)) is not None:
        # A honeypot: scored against the gold, the frame untouched; the answer reads as any submission's.
        status_to, transition_id = FrameStatus.SUBMITTED.value, attempts.submit(attempt, request.user).pk
    else:
        transition = review.submit(frame, request.user, queue)
        status_to, transition_id = transition.to_status, transition.pk
    nxt = None
    if queue and request.data.get("next") and project.has_role(request.user, _queue_role(queue)):
        nxt = _claimed(project, queue, request.user, queue_filters(request.data))
    return Response({"status": status_to, "transition": transition_id, "next": nxt})


@extend_schema(summary="Accept, reject or fix a frame", request=DecisionSerializer,
               responses=responses({200: TransitionSerializer}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def frame_decision(request, slug, frame_id):
    """A reviewer accepts, rejects (with a comment) or fixes a frame; optionally claims the next one."""
    project, frame = _frame(request, slug, frame_id, Role.REVIEWER)
    body = validated(DecisionSerializer, request.data)
    queue = body.get("queue") or None
    transition = review.decide(frame, request.user, body["decision"], body.get("comment", ""), queue)
    nxt = None
    if queue and request.data.get("next"):
        nxt = _claimed(project, queue, request.user, queue_filters(request.data))
    return Response({"status": transition.to_status, "transition": transition.pk, "next": nxt})


@extend_schema(summary="Create a frame's first annotation", request=AnnotationCreateSerializer,
               responses=responses({201: AnnotationSerializer}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def annotation_create(request, slug, frame_id):
    """The first annotation of a frame, or with "instance" another person on it (409 with the stored one
    if someone created it first)."""
    _, frame = _frame(request, slug, frame_id)
    if not isinstance(request.data, dict):
        raise InputError("send a JSON object")
    data = {k: v for k, v in request.data.items() if k not in ("version", "queue", "instance")}
    if (attempt := attempts.open_attempt(frame, request.user)) is not None:
        draft = attempts.create_draft(attempt, request.user, data, request.data.get("instance"))  # a honeypot
        return Response(attempts.annotation_data(draft), status=status.HTTP_201_CREATED)
    if blinding.hides(frame.project, request.user, frame.pk):
        # A gold frame is labelled by annotators only when it is served to them (a honeypot).
        raise PermissionDenied("this frame is not open for annotation here: take frames from a queue")
    if request.data.get("queue"):
        claims.check_holder(frame, request.user)
    ann = editing.create_annotation(frame, request.user, data, request.data.get("instance"))
    return Response(AnnotationSerializer(ann).data, status=status.HTTP_201_CREATED)


@extend_schema(summary="A frame's history", responses=responses({200: HistorySerializer}))
@api_view(["GET"])
def frame_history(request, slug, frame_id):
    _, frame = _frame(request, slug, frame_id)
    # A honeypot, and to annotators any gold frame, reads as a frame nobody has worked on yet.
    hidden = attempts.open_attempt(frame, request.user) or blinding.hides(frame.project, request.user, frame.pk)
    entries = [] if hidden else history.frame_history(frame)
    for e in entries:
        e["created_at"] = e["created_at"].isoformat()
    return Response({"frame": frame.pk, "entries": entries})


@extend_schema(summary="Restore a revision", request=RestoreSerializer,
               responses=responses({200: AnnotationSerializer}, errors=(400, 401, 403, 404, 409)))
@api_view(["POST"])
def revision_restore(request, slug, revision_id):
    """Restore a revision's content; the caller sends the version they are looking at."""
    project = project_for(request.user, slug)
    revision = get_object_or_404(Revision, project=project, pk=revision_id)
    version = request.data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError("'version' (the current version you are looking at) is required")
    ann = history.restore(revision, request.user, version, request.data.get("which", "after"))
    return Response(AnnotationSerializer(ann).data)


# -- the editor's payload --------------------------------------------------------------------

def annotation_payload(ann: Annotation | None, K: int) -> dict | None:
    """The annotation padded to the skeleton's K points (a grown skeleton reads new points as unlabelled)."""
    if ann is None:
        return None
    kpts, states = ann.padded_keypoints(K)
    return {"id": ann.pk, "instance": ann.instance, "version": ann.version, "keypoints": kpts,
            "keypoint_states": states, "bbox": ann.bbox,
            "form_label": label.name if (label := ann.form_label) is not None else None, "source": ann.source,
            "updated_by": by.get_username() if (by := ann.updated_by) is not None else None,
            "updated_at": ann.updated_at.isoformat() if ann.updated_at else None}


def neighbours(frame: Frame) -> tuple[int | None, int | None]:
    """Ids of the previous and next frame of the same clip (by frame index, then file name)."""
    ids = list(Frame.objects.filter(clip_id=frame.clip_id).order_by("frame_index", "file_name", "id")
               .values_list("id", flat=True))
    at = ids.index(frame.pk)
    return (ids[at - 1] if at > 0 else None), (ids[at + 1] if at + 1 < len(ids) else None)


def editor_payload(frame: Frame, user) -> dict:
    project = frame.project
    K = project.num_keypoints
    prev_id, next_id = neighbours(frame)
    wanted = [f for f in (prev_id, frame.pk, next_id) if f]
    people: dict[int, list[Annotation]] = {f: [] for f in wanted}
    for a in Annotation.objects.filter(frame__in=wanted).select_related("form_label", "updated_by"):
        people[a.frame_id].append(a)  # ordered by instance
    anns = {f: next((a for a in people[f] if a.instance == 0), None) for f in wanted}

    def side(fid):
        if fid is None:
            return None
        ann = anns.get(fid)
        return {"id": fid, "keypoints": ann.padded_keypoints(K)[0] if ann else None,
                "people": {str(a.instance): a.padded_keypoints(K)[0] for a in people[fid]},
                "edit_url": reverse("frame-edit", args=[project.slug, fid])}

    predicted = people_predictions(frame, K, limit=2, people=people[frame.pk])
    lease = claims.held_lease(frame, user)
    item = lease.item if lease is not None else None
    rejection = review.last_rejection(frame)
    can_decide = project.has_role(user, Role.REVIEWER)
    return {
        "frame": {"id": frame.pk, "file_name": frame.file_name, "clip": frame.clip.key,
                  "frame_index": frame.frame_index,
                  "width": frame.width, "height": frame.height, "split": frame.split, "status": frame.status,
                  "has_image": frame.has_image,
                  "image_url": reverse("api-frame-image", args=[project.slug, frame.pk])},
        "annotation": annotation_payload(anns.get(frame.pk), K),
        # Every person on the frame (the first is "annotation" above), each saved on its own.
        "instances": [annotation_payload(a, K) for a in people[frame.pk]],
        "max_people": editing.MAX_PEOPLE,
        "neighbours": {"prev": side(prev_id), "next": side(next_id)},
        "predictions": predicted.get(0, []),  # the first person's (as before people)
        # Every person's, by instance ("0", "1", ...): a person is offered only the model's points for them.
        "people_predictions": {str(n): preds for n, preds in predicted.items()},
        # The pose a person can drop on a frame with no prediction (fitted to a box they drag).
        "template": cached_mean_pose(project),
        "lease": ({"queue": item.queue if item is not None else None, "item": lease.item_id,
                   "expires_at": lease.expires_at.isoformat(),
                   "signals": item.signals if item is not None else {}} if lease else None),
        "rejection": ({"comment": rejection.comment,
                       "by": by.get_username() if (by := rejection.user) is not None else None,
                       "at": rejection.created_at.isoformat()} if rejection else None),
        "can_decide": can_decide,
        "decision_queues": list(DECISION_QUEUES),
        "edit_url": reverse("frame-edit", args=[project.slug, frame.pk]),
        "history_url": reverse("frame-history", args=[project.slug, frame.pk]),
        # A reviewer's editor shows the people's points side by side once their consensus went to review.
        # Otherwise the payload does not mention consensus at all: whoever is still voting labels blind.
        **({"consensus_disputed": True} if can_decide and ConsensusFrame.objects.filter(
            frame=frame, status=ConsensusFrame.Status.DISPUTED).exists() else {}),
    }


@extend_schema(summary="Everything the editor needs for one frame", responses=responses({200: OBJECT}))
@api_view(["GET"])
def frame_editor(request, slug, frame_id):
    """Everything the editor needs for one frame, in one request."""
    _, frame = _frame(request, slug, frame_id)
    payload = editor_payload(frame, request.user)
    if (attempt := attempts.open_attempt(frame, request.user)) is not None:
        payload = attempts.disguise(payload, attempt)
    # To annotators a gold frame (and a gold neighbour) opened by its address shows nobody's points.
    return Response(blinding.blind_editor(frame.project, request.user, payload, own_copy=attempt is not None))
