"""A person's own working copy of a frame: a honeypot attempt (GoldAttempt) or a consensus vote
(ConsensusVote). Either is saved through the same endpoints and with the same rules as an annotation
(validated, optimistic-locked), shown to the person as an unlabelled frame of the queue with nobody
else's points, and handed on when they submit: a honeypot is scored against the gold, a vote counts
towards the frame's consensus (annotations/consensus/voting.py). The frame's Annotation is never
written from here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from annotations.consensus import voting
from annotations.core import hot_path
from annotations.core.errors import InputError, StaleEdit
from annotations.core.limits import check_bbox, coordinate_limit
from annotations.gold import scoring, serving
from annotations.models import ConsensusVote, FrameLease, FrameStatus, GoldAttempt, KeypointState
from annotations.review.editing import EDITABLE, box_around, merged_pose

OPEN = "open"  # GoldAttempt.Status.OPEN and ConsensusVote.Status.OPEN
WorkingCopy = GoldAttempt | ConsensusVote


def open_attempt(frame, user) -> WorkingCopy | None:
    """The person's open working copy of this frame (a honeypot or a consensus vote), if any."""
    if user is None or not user.is_authenticated:
        return None
    return _first_of("frame_id = %s AND user_id = %s AND status = 'open'", [frame.pk, user.pk],
                     lambda model: model.objects.filter(frame=frame, user=user, status=OPEN))


def attempt_by_draft(project, user, draft_id: int) -> WorkingCopy | None:
    """The person's working copy that has this id (the id the editor saves it under)."""
    if user is None or not user.is_authenticated:
        return None
    return _first_of("project_id = %s AND user_id = %s AND draft_id = %s", [project.pk, user.pk, draft_id],
                     lambda model: model.objects.filter(project=project, user=user, draft_id=draft_id)
                     .select_related("frame", "project", "user"))


def _first_of(where: str, params: list, rows: Callable[[Any], QuerySet]) -> WorkingCopy | None:
    """The first of `rows(GoldAttempt)`, else of `rows(ConsensusVote)`, both the rows `where` selects.
    Every editor request asks and nearly always finds none: one raw statement answers (core/hot_path.py),
    and only a found row is read."""
    models = (GoldAttempt, ConsensusVote)
    found = hot_path.first_table_with_row([m._meta.db_table for m in models], where, params)
    return None if found is None else rows(models[found]).first()


def shown_status(attempt: WorkingCopy) -> str:
    """The frame's status as the person sees it: a pool frame, annotated once they saved."""
    return FrameStatus.ANNOTATED if attempt.version else FrameStatus.UNLABELLED


def _content(attempt: WorkingCopy, K: int) -> tuple[list, list]:
    kpts = list(attempt.keypoints) or [0, 0, 0] * K
    states = list(attempt.keypoint_states) or [KeypointState.UNVERIFIED.value] * K
    missing = K - len(kpts) // 3
    return kpts + [0, 0, 0] * max(missing, 0), states + [KeypointState.UNVERIFIED.value] * max(missing, 0)


def annotation_data(attempt: WorkingCopy) -> dict:
    """The working copy in the shape of the REST annotation (AnnotationSerializer)."""
    kpts, states = _content(attempt, attempt.project.num_keypoints)
    return {"id": attempt.draft_id, "frame": attempt.frame_id, "instance": 0, "keypoints": kpts,
            "keypoint_states": states, "bbox": attempt.bbox or [0.0, 0.0, 0.0, 0.0], "area": attempt.area,
            "form_label": attempt.form_label or None, "source": "human", "human_edited": True,
            "version": attempt.version, "updated_at": attempt.updated_at.isoformat()}


def _stored(attempt: WorkingCopy) -> dict:
    """What a 409 carries, as for an annotation (editing.stored_state)."""
    data = annotation_data(attempt)
    return {k: data[k] for k in ("keypoints", "keypoint_states", "bbox", "area", "form_label", "version", "id",
                                 "updated_at")} | {"updated_by": attempt.user.get_username()}


def disguise(payload: dict, attempt: WorkingCopy) -> dict:
    """The editor's payload of a honeypot: the frame as an unlabelled frame of the queue with the person's
    working copy (none until they save), no review history and no gold anywhere."""
    payload["frame"]["status"] = shown_status(attempt)
    payload["annotation"] = None
    if attempt.version:
        data = annotation_data(attempt)
        payload["annotation"] = {**{k: data[k] for k in ("id", "instance", "version", "keypoints", "keypoint_states",
                                                         "bbox", "form_label", "source", "updated_at")},
                                 "updated_by": attempt.user.get_username()}
    if "instances" in payload:  # every person on the frame: here the working copy alone
        payload["instances"] = [payload["annotation"]] if payload["annotation"] else []
    payload["rejection"] = None
    if payload.get("lease"):
        payload["lease"]["signals"] = serving.shown(attempt.item).signals if attempt.item else {}
    return payload


def save_draft(copy: WorkingCopy, user, data: dict, expected_version) -> WorkingCopy:
    """Apply an edit (keypoints, keypoint_states, bbox, form_label) to the working copy, as
    editing.save_edit does to an annotation: StaleEdit when `expected_version` is not the stored one."""
    if not isinstance(expected_version, int) or isinstance(expected_version, bool):
        raise InputError("'version' (the version this edit started from) is required")
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise InputError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        model = ConsensusVote if isinstance(copy, ConsensusVote) else GoldAttempt
        attempt = (model.objects.select_for_update(of=("self",))  # type: ignore[attr-defined]
                   .select_related("project", "frame", "user").get(pk=copy.pk, user=user))
        if attempt.status != OPEN:
            raise InputError("this frame was submitted already; it cannot be changed any more")
        if attempt.version != expected_version:
            raise StaleEdit(f"annotation {attempt.draft_id} was saved by someone else (version {attempt.version}, "
                            f"your edit started from {expected_version})", _stored(attempt))
        project, frame = attempt.project, attempt.frame
        K = project.num_keypoints
        limit = coordinate_limit(frame.width, frame.height)
        kpts, states = merged_pose(data, *_content(attempt, K), K, limit)
        if "bbox" in data:
            bbox = check_bbox(data["bbox"], limit)
            attempt.bbox, attempt.area = bbox, bbox[2] * bbox[3]
        if "form_label" in data:
            name = data["form_label"]
            if name is not None and not isinstance(name, str):
                raise InputError("'form_label' must be a form label name or null")
            if name is not None and not project.form_labels.filter(name=name).exists():
                raise InputError(f"unknown form label {name!r}")
            attempt.form_label = name or ""
        attempt.keypoints, attempt.keypoint_states = kpts, [str(s) for s in states]
        if "bbox" not in data and attempt.area <= 0:
            attempt.bbox, attempt.area = box_around(kpts)
        attempt.version += 1
        attempt.save()
    return attempt


def create_draft(attempt: WorkingCopy, user, data: dict, instance=None) -> WorkingCopy:
    """The first save of a working copy (the editor creates an annotation): StaleEdit when one exists
    already. A working copy holds one person: a second one is refused."""
    if instance not in (None, 0, "0"):
        raise InputError("'instance': this frame holds one person only")
    if attempt.version:
        raise StaleEdit(f"frame {attempt.frame_id} already has an annotation (version {attempt.version})",
                        _stored(attempt))
    return save_draft(attempt, user, data, 0)


def submit(attempt: WorkingCopy, user) -> WorkingCopy:
    """A honeypot is scored against the gold, a vote counts towards the consensus; either way the frame
    leaves the person's queue for good."""
    if isinstance(attempt, ConsensusVote):
        return voting.submit_vote(attempt, user)
    with transaction.atomic():
        attempt = (GoldAttempt.objects.select_for_update(of=("self",)).select_related("gold", "project")
                   .get(pk=attempt.pk, user=user))
        if attempt.status != OPEN:
            raise InputError("this frame was submitted already")
        if not attempt.version:
            raise InputError("nothing to submit: place the keypoints of this frame first")
        gold = attempt.gold
        result = scoring.score(attempt.keypoints, attempt.form_label or None, gold.keypoints, gold.area,
                               gold.form_label or None, attempt.project.skeleton["sigmas"])
        for field, value in result.items():
            setattr(attempt, field, value)
        attempt.status, attempt.submitted_at = GoldAttempt.Status.SCORED, timezone.now()
        attempt.save()
        FrameLease.objects.filter(frame_id=attempt.frame_id, user=user).delete()
    return attempt


def skip(attempt: WorkingCopy, user) -> None:
    """The person passes on the frame: it is not served to them again, and nothing is scored."""
    if isinstance(attempt, ConsensusVote):
        voting.skip_vote(attempt, user)
        return
    GoldAttempt.objects.filter(pk=attempt.pk, status=OPEN).update(status=GoldAttempt.Status.SKIPPED)
    FrameLease.objects.filter(frame_id=attempt.frame_id, user=user).delete()
