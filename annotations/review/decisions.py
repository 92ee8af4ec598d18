"""Review decisions: annotators submit frames, reviewers accept, reject (with a comment) or fix them.

Every status change is a FrameTransition (who, when, from, to, why). A submitted frame leaves the
annotation queues and waits in the `review` queue, oldest first. A rejected frame goes back to
the queue it was submitted from (or `label_error` when it came from nowhere), first in line,
carrying the reviewer's comment for the annotator.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from annotations.core.errors import InputError
from annotations.models import Annotation, Frame, FrameStatus, FrameTransition, Queue, QueueItem
from annotations.models.review import ANNOTATION_QUEUES, DECISION_QUEUES
from annotations.review import claims, queues

DECISIONS = ("accept", "reject", "fix")


def _record(frame: Frame, user, action: str, to_status: str, queue: str, comment: str = "") -> FrameTransition:
    transition = FrameTransition.objects.create(project_id=frame.project_id, frame=frame, user=user, action=action,
                                                from_status=frame.status, to_status=to_status, queue=queue or "",
                                                comment=comment)
    frame.status = to_status
    frame.save(update_fields=["status"])
    return transition


def _locked(frame: Frame) -> Frame:
    locked = Frame.objects.select_for_update().get(pk=frame.pk)
    if Frame.project.is_cached(frame):
        locked.project = frame.project  # the caller's row: no second query for it
    return locked


def submit(frame: Frame, user, queue: str | None = None) -> FrameTransition:
    """An annotator is done with a frame: it leaves the annotation queues and waits for review.

    Through a queue, the caller must still hold the frame: LeaseLost (409) when their claim lapsed and
    someone else took it."""
    if queue:
        queues.check_queue(queue)
    with transaction.atomic():
        frame = _locked(frame)
        if queue:
            claims.check_holder(frame, user)
        if not Annotation.objects.filter(frame=frame).exists():
            raise InputError("nothing to submit: place the keypoints of this frame first")
        if frame.status == FrameStatus.ACCEPTED:
            raise InputError("this frame was accepted already; a reviewer can still fix it")
        claims.close_items(frame, user, ANNOTATION_QUEUES)
        transition = _record(frame, user, FrameTransition.Action.SUBMIT, FrameStatus.SUBMITTED, queue or "")
        # Oldest submission first: the priority is minus the submission time.
        queues.set_priorities(frame.project, Queue.REVIEW, {frame.pk: -timezone.now().timestamp()},
                              {frame.pk: {"submitted_from": queue or "", "submitted_by": user.get_username()}},
                              reopen=True)
    return transition


def decide(frame: Frame, user, decision: str, comment: str = "", queue: str | None = None) -> FrameTransition:
    """A reviewer's decision on a frame: accept, fix (accept after their own corrections) or reject.

    Rejecting needs a comment; the frame goes back to an annotation queue, first in line.
    """
    if decision not in DECISIONS:
        raise InputError(f"'decision' must be one of {DECISIONS}")
    comment = (comment or "").strip()
    if decision == "reject" and not comment:
        raise InputError("a rejection needs a comment that tells the annotator what to fix")
    if queue:
        queues.check_queue(queue)
    with transaction.atomic():
        frame = _locked(frame)
        if queue:
            claims.check_holder(frame, user)
        if not Annotation.objects.filter(frame=frame).exists():
            raise InputError("this frame has no annotation to decide on")
        review_item = QueueItem.objects.filter(frame=frame, queue=Queue.REVIEW).first()
        claims.close_items(frame, user, DECISION_QUEUES)
        if decision == "reject":
            back_to = (review_item.signals.get("submitted_from") if review_item else "") or Queue.LABEL_ERROR
            if back_to not in ANNOTATION_QUEUES:
                back_to = Queue.LABEL_ERROR
            queues.requeue(frame, back_to, signals={"rejected": comment, "rejected_by": user.get_username()})
            return _record(frame, user, FrameTransition.Action.REJECT, FrameStatus.REJECTED, queue or "", comment)
        action = FrameTransition.Action.FIX if decision == "fix" else FrameTransition.Action.ACCEPT
        return _record(frame, user, action, FrameStatus.ACCEPTED, queue or "", comment)


def back_to_review(frame: Frame, user, comment: str) -> FrameTransition | None:
    """An accepted frame whose content changed outside the editor (a restored revision) waits for review
    again: status "submitted", back in the `review` queue, the change recorded as a submission with
    `comment`. Other frames are already on their way (submitted: in review; rejected: back with an
    annotator; unlabelled or annotated: not submitted yet) and stay where they are."""
    with transaction.atomic():
        frame = _locked(frame)
        if frame.status != FrameStatus.ACCEPTED:
            return None
        transition = _record(frame, user, FrameTransition.Action.SUBMIT, FrameStatus.SUBMITTED, "", comment)
        queues.set_priorities(frame.project, Queue.REVIEW, {frame.pk: -timezone.now().timestamp()},
                              {frame.pk: {"submitted_from": "", "submitted_by": user.get_username(),
                                          "restored": comment}}, reopen=True)
    return transition


def last_rejection(frame: Frame) -> FrameTransition | None:
    """The latest rejection of a frame still waiting for its fix (shown to the annotator in the editor)."""
    if frame.status != FrameStatus.REJECTED:
        return None
    return frame.transitions.filter(action=FrameTransition.Action.REJECT).select_related("user").first()
