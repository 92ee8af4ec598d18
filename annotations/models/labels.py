"""Human annotations (keypoints, box, form label) and their revision history.

Model output lives elsewhere (predictions); nothing here is ever written by a model
without a person or an import behind it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotations.models.media import Frame
from annotations.models.point_fields import KeypointsField, KeypointStatesField
from annotations.models.projects import FormLabel, Project


class KeypointState(models.TextChoices):
    VERIFIED = "verified", "Verified by a person"
    UNVERIFIED = "unverified", "Unverified"
    PREDICTED = "predicted", "Accepted from a model prediction, unverified"
    HEURISTIC = "heuristic", "Placed by the spine heuristic, unverified"


class Annotation(models.Model):
    """One person instance on a frame.

    keypoints: flat COCO list [x1, y1, v1, ...] of length 3 * K' where K' <= the project's K
    (a skeleton that gained keypoints later reads the missing tail as unlabelled).
    keypoint_states: K' KeypointState values.
    version: optimistic-locking counter, bumped by every save.
    """

    SOURCE_CHOICES = [("import", "Import"), ("human", "Edited in PoseReview"), ("model", "Accepted prediction"),
                      ("interpolated", "Interpolated between keyframes"),
                      ("consensus", "Consensus of independent annotations")]

    # Covered by the (project, updated_at) and unique (frame, instance) indexes.
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations", db_index=False)
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="annotations", db_index=False)
    instance = models.PositiveSmallIntegerField(default=0, help_text="person index within the frame")
    # Stored as double precision[] and smallint[] (point_fields): rows ~40% smaller than with jsonb,
    # written by binary COPY and exported without PostgreSQL formatting numbers as text.
    keypoints = KeypointsField()
    keypoint_states = KeypointStatesField()
    num_keypoints = models.PositiveSmallIntegerField(default=0, help_text="count of labelled points (v > 0)")
    bbox = models.JSONField(help_text="[x, y, w, h] in pixels")
    area = models.FloatField()
    # RESTRICT: a label in use cannot be deleted alone, but deleting its project takes both.
    form_label = models.ForeignKey(FormLabel, null=True, blank=True, on_delete=models.RESTRICT,
                                   related_name="annotations")
    source = models.CharField(max_length=12, choices=SOURCE_CHOICES, default="import")
    human_edited = models.BooleanField(default=False, help_text="a person changed it in PoseReview")
    import_digest = models.CharField(max_length=32, blank=True, help_text="digest of the last imported content")
    source_annotation_id = models.BigIntegerField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["frame_id", "instance"]
        constraints = [models.UniqueConstraint(fields=["frame", "instance"], name="unique_instance_per_frame")]
        indexes = [models.Index(fields=["project", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.frame} #{self.instance}"

    def save(self, *args, **kwargs):
        self.num_keypoints = sum(1 for v in self.keypoints[2::3] if v > 0)
        if kwargs.get("update_fields") is not None and "keypoints" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "num_keypoints"}
        super().save(*args, **kwargs)

    def padded_keypoints(self, num_keypoints: int) -> tuple[list[float], list[str]]:
        """Keypoints (3K flat) and states (K) padded with unlabelled points up to K."""
        missing = num_keypoints - len(self.keypoints) // 3
        kpts = list(self.keypoints) + [0, 0, 0] * max(missing, 0)
        states = list(self.keypoint_states) + [KeypointState.UNVERIFIED] * max(missing, 0)
        return kpts, states

    def snapshot(self) -> dict:
        """The editable content, as stored in a Revision's before/after."""
        return {
            "keypoints": self.keypoints,
            "keypoint_states": self.keypoint_states,
            "bbox": self.bbox,
            "area": self.area,
            "form_label": label.name if (label := self.form_label) is not None else None,
            "version": self.version,
        }


class Revision(models.Model):
    """One change to an annotation: who, when, what it was before and after."""

    KIND_CHOICES = [
        ("import", "Updated by a re-import"),
        ("import_conflict", "Re-import conflict (not applied)"),
        ("edit", "Edited"),
        ("restore", "Restored"),
        ("review", "Review decision"),
        ("consensus", "Consensus of independent annotations"),
    ]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="revisions")
    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="revisions")
    annotation = models.ForeignKey(Annotation, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="revisions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    note = models.TextField(blank=True)
    job = models.ForeignKey("Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="revisions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "created_at"]),
            # The dataset dashboard's people charts read edits through these without sorting or reading
            # the snapshots: per frame (who saved it, when first) and per person in time order.
            models.Index(fields=["project", "frame", "user", "created_at"], name="revision_edits_by_frame",
                         condition=models.Q(kind__in=["edit", "restore"])),
            models.Index(fields=["project", "user", "created_at"], include=["frame"], name="revision_edits_by_user",
                         condition=models.Q(kind__in=["edit", "restore"])),
        ]
