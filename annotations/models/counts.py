"""Per-clip figures that the project page and the dataset dashboard sum instead of counting a million
frames and annotations on every request.

One row per clip that has (or had) frames, kept current by database triggers (migration 0011) on every
statement that inserts, deletes or changes frames and annotations, whichever code runs it (imports by
COPY, edits, splits, deletes): each such statement recounts the clips it touched. No Python writes here.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class ClipCounts(models.Model):
    """Counts of one clip's frames and annotations.

    by_status: {frame status: frames}. by_split_label: {"<split>|<form label id or empty>": frames}, the
    distinct frames of each split whose annotations carry that label (a frame with two labels counts
    under both, once each). annotated: frames with at least one annotation.
    """

    # No foreign-key constraints: triggers write these rows while Django deletes clips and frames, and a
    # trigger on the clip table removes a deleted clip's row.
    clip = models.OneToOneField("Clip", primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                related_name="+")
    project = models.ForeignKey("Project", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    frames = models.IntegerField(default=0)
    missing_images = models.IntegerField(default=0)
    annotated = models.IntegerField(default=0)
    by_status = models.JSONField(default=dict)
    by_split_label = models.JSONField(default=dict)
    first_hours = models.JSONField(default=dict)
    first_minutes = models.JSONField(default=dict)
    first_min = models.DateTimeField(null=True)
    first_max = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"counts of clip {self.clip_id}"


class ClipKeypointCounts(models.Model):
    """Per keypoint of one clip's annotations: how many label it and how many a person verified.

    labelled (K,), verified (K,): position i counts annotations whose point i has visibility > 0 (and,
    for verified, state "verified"). Kept by triggers (migration 0012) on annotation statements that add,
    remove or change points, apart from the per-clip counts so their recounts stay cheap.
    """

    clip = models.OneToOneField("Clip", primary_key=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                related_name="+")
    project = models.ForeignKey("Project", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    labelled = ArrayField(models.IntegerField(), default=list)
    verified = ArrayField(models.IntegerField(), default=list)

    def __str__(self) -> str:
        return f"keypoint counts of clip {self.clip_id}"


class AgreementPair(models.Model):
    """OKS between two people's last saved versions of a frame (triggers of migration 0012 keep it).

    One row per ordered pair (a, b) of people with an edit or restore snapshot of the frame: oks treats
    a's points as the prediction and b's as the truth, with b's area (a's when b has none); no row where
    that area is 0 or no point is labelled by both. same_form_label compares the snapshots' labels.
    """

    project = models.ForeignKey("Project", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    frame = models.ForeignKey("Frame", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    user_a = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                               related_name="+")
    user_b = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                               related_name="+")
    oks = models.FloatField()
    same_form_label = models.BooleanField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["frame", "user_a", "user_b"], name="agreement_pair_once")]
        indexes = [models.Index(fields=["project", "frame"], name="agreement_by_project")]

    def __str__(self) -> str:
        return f"agreement on frame {self.frame_id}"
