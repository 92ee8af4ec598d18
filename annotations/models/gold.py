"""Gold frames and honeypot attempts.

A GoldFrame is a frozen copy of a frame's verified keypoints and form label that a PI marked (or
imported) as the truth: later edits of the frame's Annotation never change it. Annotators meet gold
frames blind in their annotation queues (at the project's `honeypot_rate`); what they place there is a
GoldAttempt, a working copy of its own that is scored against the gold when submitted and never
written into the frame's Annotation.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from annotations.models.media import Frame
from annotations.models.projects import Project
from annotations.models.working_copy import WorkingCopy


class GoldFrame(models.Model):
    """A frame's gold keypoints (flat 3K; only points a person verified, others (0, 0, 0)) and form label."""

    class Source(models.TextChoices):
        MARKED = "marked", "Marked by a PI"
        IMPORTED = "imported", "Imported gold set"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="gold_frames", db_index=False)
    frame = models.OneToOneField(Frame, on_delete=models.CASCADE, related_name="gold")
    keypoints = models.JSONField()
    keypoint_states = models.JSONField()
    bbox = models.JSONField(help_text="[x, y, w, h] in pixels")
    area = models.FloatField(help_text="the OKS scale (COCO's s^2)")
    form_label = models.CharField(max_length=50, blank=True, help_text="the gold form label's name; empty: none")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MARKED)
    annotation_version = models.PositiveIntegerField(null=True, blank=True,
                                                     help_text="the annotation version it was frozen from")
    active = models.BooleanField(default=True, help_text="served as a honeypot; unmarked frames keep their attempts")
    marked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["frame_id"]
        indexes = [models.Index(fields=["project", "active"], name="goldframe_project_active")]

    def __str__(self) -> str:
        return f"gold frame {self.frame_id}"


class GoldAttempt(WorkingCopy):
    """One person's work on a gold frame served to them blind: their working copy (working_copy.py), then
    its scores.

    oks_per_keypoint: per keypoint of the skeleton, null where the gold has no point; a gold point the
    person left out scores 0. pixel_error: mean distance over points both placed.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Being worked on"
        SCORED = "scored", "Submitted and scored"
        SKIPPED = "skipped", "Skipped"

    gold = models.ForeignKey(GoldFrame, on_delete=models.CASCADE, related_name="attempts")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    oks = models.FloatField(null=True, blank=True, help_text="mean per-keypoint OKS over the gold's points")
    oks_per_keypoint = models.JSONField(default=list, blank=True)
    pixel_error = models.FloatField(null=True, blank=True, help_text="mean pixels over points both placed")
    pixel_error_per_keypoint = models.JSONField(default=list, blank=True)
    form_agreement = models.BooleanField(null=True, blank=True, help_text="same form label as the gold")
    missed = models.PositiveSmallIntegerField(default=0, help_text="gold points the person did not place")
    extra = models.PositiveSmallIntegerField(default=0, help_text="points placed where the gold has none")

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["gold", "user"], name="one_attempt_per_gold_and_user")]
        indexes = [
            models.Index(fields=["frame", "user"], name="goldattempt_frame_user"),
            models.Index(fields=["project", "submitted_at"], name="goldattempt_scored",
                         condition=Q(status="scored")),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} on gold frame {self.frame_id} ({self.status})"
