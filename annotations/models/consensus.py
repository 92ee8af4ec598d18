"""Consensus: frames that need N independent annotations, each person's vote, and what they agree on.

A ConsensusFrame collects votes until `required` people have submitted one; each ConsensusVote is a
person's own working copy (like a honeypot attempt: saved through the annotation endpoints under its
draft id, never shown to the others). When all are in, the consensus (per keypoint the median of the
people who placed it, the form label by vote) becomes the frame's annotation and the agreement is kept
here; a frame below the project's threshold goes to the review queue.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotations.models.media import Frame
from annotations.models.projects import Project
from annotations.models.working_copy import WorkingCopy


class ConsensusFrame(models.Model):
    """A frame that needs `required` independent annotations, and (once complete) their consensus.

    oks_per_keypoint: per keypoint of the skeleton, the mean OKS over pairs of people where at least one
    placed it (one placing it and the other not counts 0); None where nobody did. disagreeing: keypoint
    indices below the threshold. form_agreement: the share of pairs of people with the same form label.
    """

    class Status(models.TextChoices):
        COLLECTING = "collecting", "Collecting annotations"
        AGREED = "agreed", "Agreed"
        DISPUTED = "disputed", "Below the agreement threshold: in review"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="consensus_frames", db_index=False)
    frame = models.OneToOneField(Frame, on_delete=models.CASCADE, related_name="consensus")
    required = models.PositiveSmallIntegerField(help_text="independent annotations needed")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COLLECTING)
    keypoints = models.JSONField(default=list, blank=True)
    form_label = models.CharField(max_length=50, blank=True)
    oks_per_keypoint = models.JSONField(default=list, blank=True)
    mean_oks = models.FloatField(null=True, blank=True)
    form_agreement = models.FloatField(null=True, blank=True)
    disagreeing = models.JSONField(default=list, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["frame_id"]
        indexes = [models.Index(fields=["project", "status"], name="consensus_project_status")]

    def __str__(self) -> str:
        return f"consensus on frame {self.frame_id} ({self.status})"


class ConsensusVote(WorkingCopy):
    """One person's independent annotation of a consensus frame (their working copy, working_copy.py, then
    submitted)."""

    class Status(models.TextChoices):
        OPEN = "open", "Being worked on"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"

    consensus = models.ForeignKey(ConsensusFrame, on_delete=models.CASCADE, related_name="votes")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)

    class Meta:
        ordering = ["submitted_at", "id"]
        constraints = [models.UniqueConstraint(fields=["consensus", "user"], name="one_vote_per_frame_and_user")]
        indexes = [models.Index(fields=["frame", "user"], name="consensusvote_frame_user")]

    def __str__(self) -> str:
        return f"{self.user_id} on consensus frame {self.frame_id} ({self.status})"
