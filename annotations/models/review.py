"""Review queues, frame leases and the review trail.

A queue is an ordering of a project's frames by a stored priority (QueueItem). Who is working
on a frame is a FrameLease: one plain row per frame, whatever queue it was claimed through, so a
frame that sits in two queues is still never handed to two people at once (a unique index on the
frame of plain leases guarantees it). A frame collecting independent annotations (consensus) is
held by several people at once, each with their own shared lease. Status changes of a frame (submit,
accept, reject, fix) are FrameTransition rows; keypoint changes stay Revisions.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotations.models.media import Clip, Frame
from annotations.models.projects import FormLabel, Project, Role


class Queue(models.TextChoices):
    UNCERTAIN = "uncertain", "Most uncertain"
    LABEL_ERROR = "label_error", "Suspected label errors"
    UNVERIFIED_SPINE = "unverified_spine", "Unverified spine points"
    NEW_PREANNOTATED = "new_preannotated", "New pre-annotated frames"
    AUDIT = "audit", "Random audit"
    REVIEW = "review", "Submitted, awaiting review"


# Annotators correct frames from these queues and submit them; reviewers decide on frames from
# the others (accept, reject with a comment, fix).
ANNOTATION_QUEUES = (Queue.UNCERTAIN, Queue.LABEL_ERROR, Queue.UNVERIFIED_SPINE, Queue.NEW_PREANNOTATED)
DECISION_QUEUES = (Queue.REVIEW, Queue.AUDIT)
QUEUE_ROLES: dict[str, str] = {**{q: Role.ANNOTATOR for q in ANNOTATION_QUEUES},
                               **{q: Role.REVIEWER for q in DECISION_QUEUES}}


class QueueItem(models.Model):
    """A frame's place in one queue: higher priority first. Done items stay for the record.

    signals: why the frame is here, e.g. {"jump": 41.2} from the timeline check, model
    uncertainty terms from the score job, or {"rejected": "comment"} after a rejection.
    clip, split and form_label are the frame's, copied here so that a claim filtered by any of
    them walks one index in priority order instead of looking every frame up. Database triggers
    (migration 0003) keep split and form_label in step with the frame and its annotation,
    whichever code changes them (a new split, an edit, an import).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="queue_items", db_index=False)
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="queue_items", db_index=False)
    clip = models.ForeignKey(Clip, on_delete=models.CASCADE, related_name="+", db_index=False)
    queue = models.CharField(max_length=20, choices=Queue.choices)
    split = models.CharField(max_length=5, blank=True, default="")
    form_label = models.ForeignKey(FormLabel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                   db_index=False)
    priority = models.FloatField(default=0.0)
    signals = models.JSONField(default=dict, blank=True)
    done_at = models.DateTimeField(null=True, blank=True, help_text="when the frame left the queue")
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["frame", "queue"], name="one_item_per_frame_and_queue")]
        indexes = [
            # The claim query walks these in order and stops at the first free frame.
            models.Index("project", "queue", models.F("priority").desc(), "id", name="queue_open_order",
                         condition=Q(done_at__isnull=True)),
            models.Index("project", "queue", "clip", models.F("priority").desc(), "id", name="queue_open_clip_order",
                         condition=Q(done_at__isnull=True)),
            models.Index("project", "queue", "split", models.F("priority").desc(), "id",
                         name="queue_open_split_order", condition=Q(done_at__isnull=True)),
            models.Index("project", "queue", "form_label", models.F("priority").desc(), "id",
                         name="queue_open_label_order", condition=Q(done_at__isnull=True)),
            # The queues dashboard's oldest and median open item: read off this order, never sorted.
            models.Index("project", "queue", "updated_at", name="queue_open_age", condition=Q(done_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.frame_id} in {self.queue} ({self.priority:g})"

    @property
    def is_open(self) -> bool:
        return self.done_at is None


class FrameLease(models.Model):
    """Who is working on a frame until when. Expired leases are free for the next claim.

    shared: one of the leases of a frame collecting independent annotations (annotations/consensus/),
    held beside those of the other people voting on it; a plain lease is the frame's only one.
    """

    # Indexed by the (frame, user) constraint: no index of its own.
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="leases", db_index=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="frame_leases")
    item = models.ForeignKey(QueueItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    claimed_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    shared = models.BooleanField(default=False, db_default=False)  # raw inserts of plain leases leave it out

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["frame"], condition=Q(shared=False), name="one_plain_lease_per_frame"),
            models.UniqueConstraint(fields=["frame", "user"], name="one_lease_per_frame_and_user"),
        ]

    def __str__(self) -> str:
        return f"frame {self.frame_id} leased to {self.user_id} until {self.expires_at:%H:%M:%S}"


class QueueSkip(models.Model):
    """A person passed on a queue item; it is not offered to them again while it stays queued."""

    item = models.ForeignKey(QueueItem, on_delete=models.CASCADE, related_name="skips")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "user"], name="one_skip_per_item_and_user")]


class FrameTransition(models.Model):
    """A change of a frame's review status: who, when, from what to what, and why."""

    class Action(models.TextChoices):
        SUBMIT = "submit", "Submitted"
        ACCEPT = "accept", "Accepted"
        REJECT = "reject", "Rejected"
        FIX = "fix", "Fixed and accepted"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="transitions", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    queue = models.CharField(max_length=20, blank=True, help_text="the queue the frame was worked from")
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["frame", "created_at"]), models.Index(fields=["project", "created_at"]),
                   models.Index(fields=["project", "frame", "created_at"], name="transition_accepts_by_frame",
                                condition=Q(action__in=["accept", "fix"]))]

    def __str__(self) -> str:
        return f"{self.frame_id}: {self.from_status} -> {self.to_status} ({self.action})"
