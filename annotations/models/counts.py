"""Per-clip figures that the project page and the dataset dashboard sum instead of counting a million
frames and annotations on every request.

One row per clip that has (or had) frames, kept current by database triggers (migration 0011) on every
statement that inserts, deletes or changes frames and annotations, whichever code runs it (imports by
COPY, edits, splits, deletes): each such statement recounts the clips it touched. No Python writes here.
"""

from __future__ import annotations

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
