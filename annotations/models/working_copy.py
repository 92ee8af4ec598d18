"""The fields a person's own blind working copy of a frame has, whatever it is for.

A honeypot attempt (gold.GoldAttempt) and a consensus vote (consensus.ConsensusVote) are both a working
copy: served through an annotation queue, saved by the editor through `annotations/<draft_id>/` under an
id drawn from the annotation id sequence (so no annotation ever has it), with the annotation's own
content and optimistic-locking version, never shown to anyone else. Each adds its status and what its
submission means (a score, a vote).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from annotations.models.media import Frame
from annotations.models.projects import Project
from annotations.models.review import QueueItem


class WorkingCopy(models.Model):
    """Abstract: who works on which frame, through which queue item, and what they have placed so far."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+", db_index=False)
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    queue = models.CharField(max_length=20, blank=True, help_text="the annotation queue it was served through")
    item = models.ForeignKey(QueueItem, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    draft_id = models.BigIntegerField(unique=True)
    keypoints = models.JSONField(default=list, blank=True)
    keypoint_states = models.JSONField(default=list, blank=True)
    bbox = models.JSONField(default=list, blank=True)
    area = models.FloatField(default=0.0)
    form_label = models.CharField(max_length=50, blank=True)
    version = models.PositiveIntegerField(default=0)
    served_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
