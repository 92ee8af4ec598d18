"""Gold frames as annotators see them when browsing (the frames REST, a frame, the gallery, its history):
a pool frame nobody worked on, unlabelled and without annotations, so that browsing never shows a gold
frame's stored annotation, status or that it is gold. Filters treat it the same way: it is listed under
"unlabelled", "no label" and "not annotated", and under nothing else. Reviewers and PIs see everything.
(A honeypot someone holds opens in the editor with their own working copy: annotations/gold/attempts.py.)"""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from annotations.models import FrameStatus, GoldFrame, Role

# Filter values a gold frame disguised as a pool frame matches (None: the filter is not used).
SHOWN_AS = {"status": (None, FrameStatus.UNLABELLED.value), "label": (None, "none"), "verified": (None, "none")}


def sees_gold(project, user) -> bool:
    return project.has_role(user, Role.REVIEWER)


def _gold():
    return Exists(GoldFrame.objects.filter(frame=OuterRef("pk"), active=True))


def blind_queryset(qs, unfiltered, filters: dict):
    """Frames for an annotator: `qs` (the frames matching every filter) without gold frames, plus the gold
    frames of `unfiltered` (the frames matching only the filters that do not read the annotation or the
    status: split, clip) when the disguised frame matches the other filters."""
    shown = qs.exclude(_gold())
    if all(filters.get(name) in values for name, values in SHOWN_AS.items()):
        shown = shown | unfiltered.filter(_gold())
    return shown


def gold_ids(frame_ids) -> set[int]:
    return set(GoldFrame.objects.filter(frame_id__in=list(frame_ids), active=True).values_list("frame_id", flat=True))


def disguise_rows(rows: list[dict]) -> list[dict]:
    """Serialised frames (FrameSerializer) with every gold frame shown as an unlabelled pool frame."""
    gold = gold_ids(r["id"] for r in rows)
    for r in rows:
        if r["id"] in gold:
            r["status"], r["annotations"] = FrameStatus.UNLABELLED.value, []
    return rows


def disguise_frames(frames: list) -> list:
    """Frame objects of a gallery page with every gold frame shown as an unlabelled pool frame (in memory;
    `blind` tells the template to show none of its annotations)."""
    gold = gold_ids(f.pk for f in frames)
    for f in frames:
        f.blind = f.pk in gold
        if f.blind:
            f.status = FrameStatus.UNLABELLED
    return frames
