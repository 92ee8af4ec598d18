"""Split versions: which subset every clip belongs to, kept stable as clips are added."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotations.models.media import Clip
from annotations.models.projects import Project


class Subset(models.TextChoices):
    TRAIN = "train", "Train"
    VAL = "val", "Validation"
    TEST = "test", "Test"


class SplitVersion(models.Model):
    """A clip-level assignment to train/val/test. A new version keeps its parent's assignments."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="split_versions")
    number = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    seed = models.IntegerField(default=42)
    ratios = models.JSONField(help_text='{"train": 0.7, "val": 0.15, "test": 0.15}')
    summary = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["project", "-number"]
        constraints = [models.UniqueConstraint(fields=["project", "number"], name="unique_split_number")]

    def __str__(self) -> str:
        return f"{self.project.slug} split v{self.number}"

    @classmethod
    def current(cls, project) -> SplitVersion | None:
        return cls.objects.filter(project=project).order_by("-number").first()


class ClipSplit(models.Model):
    version = models.ForeignKey(SplitVersion, on_delete=models.CASCADE, related_name="assignments")
    clip = models.ForeignKey(Clip, on_delete=models.CASCADE, related_name="split_assignments")
    subset = models.CharField(max_length=5, choices=Subset.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "clip"], name="one_subset_per_clip")]
