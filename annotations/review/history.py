"""A frame's history (revisions of its annotation and its review transitions) and restoring a revision.

Restoring writes the stored content of an earlier revision back through save_edit, so it is
optimistic-locked and is itself a new Revision (kind "restore"): history only ever grows. The content
changed, so an accepted frame goes back to review (decisions.back_to_review).

Each revision carries two overlays (its keypoints before and after, drawn over the frame by the
history page), with the points it changed marked.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from annotations.core.errors import InputError
from annotations.models import Annotation, Frame, FrameTransition, Revision
from annotations.review import decisions, editing


def overlay(snapshot: dict | None, other: dict | None, skeleton: dict) -> dict | None:
    """What the history page draws of one snapshot: labelled points (x, y, occluded, changed against
    `other`, name) and bones between labelled points; None when there is no snapshot."""
    if not snapshot:
        return None
    kpts = snapshot.get("keypoints") or []
    theirs = (other or {}).get("keypoints") or []
    names = skeleton.get("keypoints") or []
    points, where = [], {}
    for i in range(len(kpts) // 3):
        x, y, v = kpts[3 * i:3 * i + 3]
        if v <= 0:
            continue
        where[i] = (x, y)
        points.append({"x": x, "y": y, "occluded": v == 1, "changed": theirs[3 * i:3 * i + 3] != [x, y, v],
                       "name": names[i] if i < len(names) else f"#{i}"})
    bones = [{"x1": where[a][0], "y1": where[a][1], "x2": where[b][0], "y2": where[b][1]}
             for a, b in (tuple(e) for e in skeleton.get("links") or [])
             if a in where and b in where]
    return {"points": points, "bones": bones}


def describe_change(before: dict | None, after: dict | None, names: list[str]) -> list[str]:
    """Short human-readable differences between two annotation snapshots."""
    if not after:
        return ["removed from the frame"] if before else []
    if not before:
        labelled = sum(1 for v in after.get("keypoints", [])[2::3] if v > 0)
        return [f"created with {labelled} labelled points"]
    out = []
    old, new = before.get("keypoints") or [], after.get("keypoints") or []
    old_states, new_states = before.get("keypoint_states") or [], after.get("keypoint_states") or []
    moved, shown, hidden, confirmed = [], [], [], []
    for i in range(max(len(old), len(new)) // 3):
        a = old[3 * i:3 * i + 3] or [0, 0, 0]
        b = new[3 * i:3 * i + 3] or [0, 0, 0]
        name = names[i] if i < len(names) else f"#{i}"
        if a[2] == 0 and b[2] > 0:
            shown.append(name)
        elif a[2] > 0 and b[2] == 0:
            hidden.append(name)
        elif a != b:
            moved.append(name)
        elif i < len(old_states) and i < len(new_states) and old_states[i] != new_states[i] \
                and new_states[i] == "verified":
            confirmed.append(name)
    for verb, items in (("moved", moved), ("placed", shown), ("removed", hidden), ("confirmed", confirmed)):
        if items:
            out.append(f"{verb} {', '.join(items[:6])}{' …' if len(items) > 6 else ''}")
    if before.get("form_label") != after.get("form_label"):
        out.append(f"form label {before.get('form_label') or '—'} → {after.get('form_label') or '—'}")
    return out


def frame_history(frame: Frame) -> list[dict]:
    """Newest first: every Revision of the frame and every review transition, as plain dicts."""
    skeleton = frame.project.skeleton
    names = skeleton["keypoints"]
    entries: list[dict[str, Any]] = []
    for rev in Revision.objects.filter(frame=frame).select_related("user", "annotation"):
        changes = describe_change(rev.before, rev.after, names)
        instance = rev.annotation.instance if rev.annotation is not None else (rev.after or rev.before or {}).get(
            "instance", 0)
        if instance:  # another person than the frame's first
            changes = [f"person {instance + 1}: {c}" for c in changes]
        entries.append({
            "type": "revision", "id": rev.pk, "kind": rev.kind, "kind_label": rev.get_kind_display(),
            "user": by.get_username() if (by := rev.user) is not None else None, "created_at": rev.created_at,
            "note": rev.note, "changes": changes,
            "version": (rev.after or {}).get("version"), "form_label": (rev.after or {}).get("form_label"),
            "restorable": bool(rev.after) and rev.annotation_id is not None and rev.kind != "import_conflict",
            "restorable_before": False,
            "overlay_before": overlay(rev.before, rev.after, skeleton),
            "overlay_after": overlay(rev.after, rev.before, skeleton),
        })
    for t in FrameTransition.objects.filter(frame=frame).select_related("user"):
        entries.append({
            "type": "transition", "id": t.pk, "kind": t.action, "kind_label": t.get_action_display(),
            "user": by.get_username() if (by := t.user) is not None else None, "created_at": t.created_at,
            "note": t.comment,
            "changes": [f"{t.from_status} → {t.to_status}"] + ([f"from queue {t.queue}"] if t.queue else []),
            "restorable": False,
        })
    entries.sort(key=lambda e: (e["created_at"], e["type"] == "transition", e["id"]), reverse=True)
    revisions = [e for e in entries if e["type"] == "revision" and e["restorable"]]
    if revisions:
        # The oldest change also offers the state before it: the frame as it was imported.
        oldest = Revision.objects.get(pk=revisions[-1]["id"])
        before = oldest.before or {}
        revisions[-1]["restorable_before"] = bool(before) and before.get("version") is not None \
            and any(v > 0 for v in before.get("keypoints", [])[2::3])
    return entries


def restore(revision: Revision, user, expected_version: int | None = None, which: str = "after") -> Annotation:
    """Write `revision`'s after-state (or, with which="before", the state it changed) back to its
    annotation; the result is a new "restore" Revision.

    The before-state of a frame's first revision is how it was imported: restoring it undoes
    every change made here. expected_version: the version the person looked at (None: the
    current one). Raises StaleEdit if it moved on meanwhile.
    """
    if which not in ("after", "before"):
        raise InputError("restore the state 'after' or 'before' a revision")
    after = revision.after if which == "after" else revision.before
    if not after or revision.annotation_id is None or revision.kind == "import_conflict":
        raise InputError("this revision cannot be restored (it has no stored content or its annotation is gone)")
    ann = Annotation.objects.select_related("project").get(pk=revision.annotation_id)
    K = ann.project.num_keypoints
    kpts = list(after["keypoints"]) + [0, 0, 0] * (K - len(after["keypoints"]) // 3)
    states = list(after["keypoint_states"]) + ["unverified"] * (K - len(after["keypoint_states"]))
    label = after.get("form_label")
    if label and not ann.project.form_labels.filter(name=label).exists():
        raise InputError(f"form label {label!r} of that revision no longer exists")
    data = {"keypoints": kpts, "keypoint_states": states, "bbox": after["bbox"], "form_label": label}
    version = ann.version if expected_version is None else expected_version
    note = f"restored the state {which} revision {revision.pk} (version {after.get('version')})"
    with transaction.atomic():
        ann = editing.save_edit(ann.pk, user, data, version, kind="restore", note=note)
        decisions.back_to_review(ann.frame, user, f"{note}; back to review")
    return ann
