"""Marking frames as gold (a frozen copy of their verified points and form label), unmarking them,
importing a gold set, the honeypot rate, and the gold state the REST API shows reviewers."""

from __future__ import annotations

import json

from django.db import transaction
from django.db.models import Avg, Count, Q
from django.utils import timezone

from annotations.consensus import voting
from annotations.core.errors import InputError
from annotations.datasets.formats.coco import parse_coco
from annotations.models import Annotation, Frame, GoldAttempt, GoldFrame, KeypointState, QueueItem
from annotations.models.review import ANNOTATION_QUEUES
from annotations.review.editing import box_around

MAX_FRAMES = 5000  # frame ids in one mark or unmark request
MAX_IMPORT_BYTES = 50 * 1024**2


def _frame_ids(ids) -> list[int]:
    if (not isinstance(ids, list) or not ids or len(ids) > MAX_FRAMES
            or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids)):
        raise InputError(f"'frames' must be a list of 1 to {MAX_FRAMES} frame ids")
    return list(dict.fromkeys(ids))


def _freeze(project, ann: Annotation) -> dict | str:
    """The gold fields from an annotation (only points a person verified), or why it cannot be gold."""
    kpts, states = ann.padded_keypoints(project.num_keypoints)
    gold = [v if states[i // 3] == KeypointState.VERIFIED else 0 for i, v in enumerate(kpts)]
    if not any(v > 0 for v in gold[2::3]):
        return "no point of its annotation was verified by a person"
    bbox, area = (ann.bbox, ann.area) if ann.area > 0 else box_around(gold)
    return {"keypoints": gold, "keypoint_states": [str(s) for s in states], "bbox": bbox, "area": area,
            "form_label": label.name if (label := ann.form_label) is not None else ""}


def _store(project, frame_id: int, fields: dict, user, source: str, version: int | None) -> GoldFrame:
    gold, _ = GoldFrame.objects.update_or_create(
        frame_id=frame_id, defaults={**fields, "project": project, "source": source, "annotation_version": version,
                                     "active": True, "marked_by": user, "marked_at": timezone.now()})
    # Gold frames are served through honeypots only: their open items in the annotation queues close.
    QueueItem.objects.filter(frame_id=frame_id, queue__in=ANNOTATION_QUEUES, done_at__isnull=True).update(
        done_at=timezone.now(), done_by=user)
    return gold


def mark(project, frame_ids, user) -> dict:
    """Mark frames gold, freezing their annotation's verified points and form label now (marking again
    refreezes). Returns {"marked": [frame ids], "refused": [{"frame", "reason"}]}."""
    ids = _frame_ids(frame_ids)
    frames = {f.pk: f for f in Frame.objects.filter(project=project, pk__in=ids)}
    anns = {a.frame_id: a for a in Annotation.objects.filter(frame__in=list(frames), instance=0)
            .select_related("form_label")}
    marked, refused = [], []
    with transaction.atomic():
        for frame_id in ids:
            frame, ann = frames.get(frame_id), anns.get(frame_id)
            if frame is None or ann is None:
                reason = "no such frame in this project" if frame is None else "the frame has no annotation"
                refused.append({"frame": frame_id, "reason": reason})
                continue
            fields = _freeze(project, ann)
            if isinstance(fields, str):
                refused.append({"frame": frame_id, "reason": fields})
                continue
            _store(project, frame_id, fields, user, GoldFrame.Source.MARKED, ann.version)
            marked.append(frame_id)
    return {"marked": marked, "refused": refused}


def unmark(project, frame_ids) -> dict:
    """Frames stop being gold: no longer served; their scored attempts stay in the accuracy figures."""
    ids = _frame_ids(frame_ids)
    n = GoldFrame.objects.filter(project=project, frame_id__in=ids, active=True).update(active=False)
    return {"unmarked": n}


def import_gold(project, upload, user) -> dict:
    """A gold set from a COCO keypoints JSON file: each image's first person becomes the gold of the
    project's frame with the same file name (the frame's own annotation is not touched). Points the file
    labels are gold; its `attributes.form_label` is the gold label when it is one of the project's.
    Returns {"marked", "unmatched" (file names without a frame), "problems"}."""
    if upload is None:
        raise InputError("'file': send the gold set as a COCO keypoints JSON file")
    if upload.size > MAX_IMPORT_BYTES:
        raise InputError(f"'file' is over {MAX_IMPORT_BYTES:,} bytes")
    try:
        data = json.loads(upload.read())
        parsed = parse_coco(data, project.get_skeleton(), upload.name or "gold.json")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"'file': {exc}") from None
    names = {img["id"]: img["file_name"] for img in parsed.images}
    frames = dict(Frame.objects.filter(project=project, file_name__in=list(names.values()))
                  .values_list("file_name", "id"))
    labels = set(project.form_labels.values_list("name", flat=True))
    marked, unmatched = [], []
    problems = [p.as_dict() for p in parsed.problems]
    with transaction.atomic():
        for row, record in enumerate(parsed.annotations):
            name = names.get(record["image_id"], "")
            if record["instance"] > 0:
                problems.append({"file": upload.name, "id": record["id"], "reason": "a second person on an image: "
                                 "gold frames hold one", "action": "skipped"})
                continue
            if name not in frames:
                unmatched.append(name)
                continue
            points = parsed.keypoints[row]
            flat = [round(float(v), 2) if j < 2 else int(v) for p in points for j, v in enumerate(p)]
            if not any(v > 0 for v in flat[2::3]):
                problems.append({"file": upload.name, "id": record["id"], "reason": "no labelled point",
                                 "action": "skipped"})
                continue
            label = record.get("form_label")
            fields = {"keypoints": flat, "keypoint_states": [KeypointState.VERIFIED.value] * len(points),
                      "bbox": [float(b) for b in parsed.bboxes[row]], "area": float(parsed.areas[row]),
                      "form_label": label if label in labels else ""}
            _store(project, frames[name], fields, user, GoldFrame.Source.IMPORTED, None)
            marked.append(frames[name])
    return {"marked": marked, "unmatched": sorted(set(unmatched)), "problems": problems}


def set_rate(project, rate) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise InputError("'honeypot_rate' must be a number from 0 to 1")
    project.honeypot_rate = float(rate)
    project.save(update_fields=["honeypot_rate"])
    return project.honeypot_rate


def gold_state(frame_ids) -> dict[int, dict]:
    """{frame id: {source, form_label, marked_by, marked_at, attempts, mean_oks}} of active gold frames."""
    rows = (GoldFrame.objects.filter(frame_id__in=list(frame_ids), active=True)
            .annotate(n=Count("attempts", filter=Q(attempts__status=GoldAttempt.Status.SCORED)),
                      mean=Avg("attempts__oks", filter=Q(attempts__status=GoldAttempt.Status.SCORED)))
            .values_list("frame_id", "source", "form_label", "marked_by__username", "marked_at", "n", "mean"))
    return {fid: {"source": source, "form_label": label or None, "marked_by": by, "marked_at": at.isoformat(),
                  "attempts": n, "mean_oks": round(mean, 4) if mean is not None else None}
            for fid, source, label, by, at, n, mean in rows}


def with_gold_state(rows: list[dict]) -> list[dict]:
    """Serialised frames with `gold` and `consensus` (their state, or null): for reviewers and PIs only."""
    ids = [r["id"] for r in rows]
    gold, consensus = gold_state(ids), voting.state(ids)
    for r in rows:
        r["gold"], r["consensus"] = gold.get(r["id"]), consensus.get(r["id"])
    return rows
