"""Interpolation: fill the frames between two keyframes a person labelled, as unverified annotations.

Linear per keypoint, in time where the frames have timestamps (variable-frame-rate videos) and by
frame number otherwise. Visibility-aware: a point is filled only where both keyframes label it
(v > 0); it is occluded (v = 1) in between if either end is. Results are annotations with source
"interpolated" and every keypoint "unverified", so they show up for review like any pre-annotation.

Never overwritten: an annotation a person edited or with any verified keypoint. Interpolated,
predicted or heuristic-only annotations that nobody touched are refreshed (with a Revision).
"""

from __future__ import annotations

import numpy as np
from django.db import transaction

from annotations.core.errors import InputError
from annotations.models import Annotation, Clip, Frame, FrameStatus, Job, KeypointState, Project, Revision


def lerp_keypoints(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Keypoints (K, 3) at both ends and t in (0, 1) -> (K, 3) in between.

    Points unlabelled at either end come out unlabelled (0, 0, 0); v is the smaller of the two
    (occluded if either end is occluded).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = (a[:, 2] > 0) & (b[:, 2] > 0)
    out = np.zeros_like(a)
    out[both, :2] = a[both, :2] + t * (b[both, :2] - a[both, :2])
    out[both, 2] = np.minimum(a[both, 2], b[both, 2])
    return out


def is_keyframe(ann: Annotation) -> bool:
    """A person's labels: not interpolated, with at least one labelled, verified point."""
    if ann.source == "interpolated" and not ann.human_edited:
        return False
    kp, states = ann.keypoints, ann.keypoint_states
    return any(kp[3 * i + 2] > 0 and s == KeypointState.VERIFIED for i, s in enumerate(states) if 3 * i + 2 < len(kp))


def replaceable(ann: Annotation) -> bool:
    """Interpolation may refresh it: nobody edited it and no point of it is verified."""
    return not ann.human_edited and KeypointState.VERIFIED not in ann.keypoint_states


def _index(frame: Frame) -> int:
    """The frame's position in its clip (interpolation works on frames that have one)."""
    if frame.frame_index is None:
        raise TypeError(f"frame {frame.file_name} has no frame index")
    return frame.frame_index


def _position(frame: Frame, a: Frame, b: Frame) -> float:
    t, t_a, t_b = frame.timestamp, a.timestamp, b.timestamp
    if t is not None and t_a is not None and t_b is not None and t_b > t_a:
        return (t - t_a) / (t_b - t_a)
    return (_index(frame) - _index(a)) / (_index(b) - _index(a))


def keyframe_pairs(frames: list[Frame], anns: dict[tuple[int, int], Annotation], start: int | None,
                   end: int | None) -> list[tuple[int, Frame, Frame]]:
    """(instance, frame a, frame b) for each stretch to fill: the two frames asked for, or every pair
    of consecutive keyframes of each person in the clip."""
    instances = sorted({inst for (_fid, inst) in anns})
    if start is not None or end is not None:
        by_id = {f.pk: f for f in frames}
        if start not in by_id or end not in by_id:
            raise InputError("both keyframes must be frames of this clip")
        a, b = sorted((by_id[start], by_id[end]), key=_index)
        if not any(_index(a) < _index(f) < _index(b) for f in frames):
            raise InputError(f"frames {a.file_name} and {b.file_name} have no frames between them")
        pairs = [(i, a, b) for i in instances
                 if (a.pk, i) in anns and (b.pk, i) in anns
                 and is_keyframe(anns[a.pk, i]) and is_keyframe(anns[b.pk, i])]
        if not pairs:
            raise InputError(f"{a.file_name} and {b.file_name} are not both keyframes (frames a person labelled)")
        return pairs
    pairs = []
    for inst in instances:
        keys = [f for f in frames if (f.pk, inst) in anns and is_keyframe(anns[f.pk, inst])]
        pairs += list(zip([inst] * len(keys), keys, keys[1:]))
    return pairs


def interpolate_clip(project: Project, clip: Clip, *, start_frame: int | None = None, end_frame: int | None = None,
                     user=None, job: Job | None = None) -> dict:
    """Fill the frames between keyframes of `clip` (two given frame ids, or all consecutive keyframes).

    Returns counts: pairs, created, updated (refreshed earlier fills), kept (not overwritten:
    human or verified annotations), frames (ids filled, in order).
    """
    K = project.num_keypoints
    frames = list(Frame.objects.filter(clip=clip, frame_index__isnull=False).order_by("frame_index"))
    anns = {(a.frame_id, a.instance): a for a in Annotation.objects.filter(frame__clip=clip)}
    pairs = keyframe_pairs(frames, anns, start_frame, end_frame)
    created, updated, revisions, kept, filled = [], [], [], 0, []
    for inst, a, b in pairs:
        ann_a, ann_b = anns[a.pk, inst], anns[b.pk, inst]
        kp_a = np.asarray(ann_a.padded_keypoints(K)[0], dtype=np.float64).reshape(K, 3)
        kp_b = np.asarray(ann_b.padded_keypoints(K)[0], dtype=np.float64).reshape(K, 3)
        box_a, box_b = np.asarray(ann_a.bbox, dtype=np.float64), np.asarray(ann_b.bbox, dtype=np.float64)
        label = ann_a.form_label if ann_a.form_label_id == ann_b.form_label_id else None
        note = f"interpolated between {a.file_name} and {b.file_name}"
        for frame in frames:
            if not _index(a) < _index(frame) < _index(b):
                continue
            current = anns.get((frame.pk, inst))
            if current is not None and not replaceable(current):
                kept += 1
                continue
            t = _position(frame, a, b)
            kp = lerp_keypoints(kp_a, kp_b, t)
            box = box_a + t * (box_b - box_a)
            content = {"keypoints": [round(float(v), 2) if j % 3 < 2 else int(v) for j, v in enumerate(kp.ravel())],
                       "keypoint_states": [KeypointState.UNVERIFIED.value] * K,
                       "bbox": [round(float(v), 2) for v in box], "area": round(float(box[2] * box[3]), 2),
                       "form_label": label, "source": "interpolated"}
            if current is None:
                ann = Annotation(project=project, frame=frame, instance=inst, updated_by=user, **content)
                created.append(ann)
            else:
                before = current.snapshot()
                for key, value in content.items():
                    setattr(current, key, value)
                current.version += 1
                current.updated_by = user
                updated.append((current, before))
            filled.append(frame.pk)
        if job:
            job.report(0.8 * len(filled) / max(len(frames), 1), note)
    with transaction.atomic():
        for ann in created:
            ann.save()  # save() counts labelled points; a clip has hundreds of frames, not 100k
            revisions.append(Revision(project=project, frame_id=ann.frame_id, annotation=ann, user=user, job=job,
                                      kind="edit", before=None, after=ann.snapshot(), note="interpolated"))
        for ann, before in updated:
            ann.save()
            revisions.append(Revision(project=project, frame_id=ann.frame_id, annotation=ann, user=user, job=job,
                                      kind="edit", before=before, after=ann.snapshot(), note="re-interpolated"))
        Revision.objects.bulk_create(revisions)
        Frame.objects.filter(pk__in=filled, status=FrameStatus.UNLABELLED).update(status=FrameStatus.PREANNOTATED)
    return {"clip": clip.key, "pairs": len(pairs), "created": len(created), "updated": len(updated), "kept": kept,
            "frames": filled[:5000]}


def parse_frame_id(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"frame ids must be numbers, got {value!r}") from None


def temporal_summary(report: dict) -> dict:
    """The temporal report in a job result: JSON keys are strings."""
    return {"threshold": report["threshold"], "flagged": report["flagged"], "queue": report.get("queue"),
            "frames": {str(k): v for k, v in report["frames"].items()}}
