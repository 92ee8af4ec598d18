"""Gold frames as annotators see them when browsing (the frames REST, a frame, the gallery, its history):
a pool frame nobody worked on, unlabelled and without annotations, so that browsing never shows a gold
frame's stored annotation, status or that it is gold. Filters treat it the same way: it is listed under
"unlabelled", "no label" and "not annotated", and under nothing else. Reviewers and PIs see everything.
(A honeypot someone holds opens in the editor with their own working copy: annotations/gold/attempts.py.)"""

from __future__ import annotations

from django.db.models import Case, CharField, Exists, F, OuterRef, Value, When

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


def shown_status(blind: bool):
    """The status a frame shows the caller, as an expression the frames REST filters on (`alias`): for an
    annotator (`blind`) a gold frame reads as SHOWN_AS says (unlabelled), so a status filter lists it
    exactly where blind_queryset would."""
    if not blind:
        return F("status")
    return Case(When(_gold(), then=Value(SHOWN_AS["status"][1])), default=F("status"), output_field=CharField())


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


def hides(project, user, frame_id: int) -> bool:
    """Whether `user` must see this frame as a pool frame: a gold frame, to someone who is no reviewer."""
    return not sees_gold(project, user) and bool(gold_ids([frame_id]))


def hides_annotation(project, user, ann) -> bool:
    """hides() for an annotation fetched with select_related("frame__gold"): no query of its own."""
    try:
        gold = ann.frame.gold
    except GoldFrame.DoesNotExist:
        return False
    return gold.active and not sees_gold(project, user)


def blind_editor(project, user, payload: dict, *, own_copy: bool) -> dict:
    """The editor's payload for an annotator: a gold frame opened by its address (not served to them as
    a honeypot: `own_copy` false) reads as an unlabelled pool frame with nobody's points, and a gold
    neighbour shows no points (onion skin, copy previous)."""
    if sees_gold(project, user):
        return payload
    sides = [n for n in (payload.get("neighbours") or {}).values() if n]
    gold = gold_ids([payload["frame"]["id"], *(n["id"] for n in sides)])
    if payload["frame"]["id"] in gold and not own_copy:
        payload["frame"]["status"] = FrameStatus.UNLABELLED.value
        payload["annotation"], payload["instances"], payload["rejection"] = None, [], None
    for n in sides:
        if n["id"] in gold:
            n["keypoints"], n["people"] = None, {}
    return payload
