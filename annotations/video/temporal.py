"""Temporal checks: keypoints that jump between neighbouring frames of a clip (DeepLabCut's "jump" idea).

A person's joints move smoothly from one frame to the next; a labelled point that leaps by a
large part of the body's size between two neighbouring frames is most likely a labelling error
(a swapped left/right, a point dropped on the wrong limb, a typo'd frame). Distances are divided
by the body size, the diagonal of the person's box, so the threshold means the same for a lifter
far from the camera and one close to it.

Neighbours are adjacent frames of the clip in frame order; a pair counts only where both frames
have the person annotated, and a keypoint only where it is labelled (v > 0) in both. A frame's
jump for a keypoint is the smaller of its jumps to the previous and to the next frame: an isolated
wrong frame jumps away from both neighbours and is flagged, while its correct neighbours (one
small jump each) are not. At either end of a run only the one jump exists.
"""

from __future__ import annotations

import logging

import numpy as np
from django.utils import timezone

from annotations.models import Annotation, Clip, Frame, QueueItem
from annotations.review import queues

log = logging.getLogger(__name__)

# A keypoint that moves by more than this fraction of the body's box diagonal between neighbouring
# frames is flagged. At 30 fps a fast barbell row moves the wrists about 5 % of the diagonal per frame.
DEFAULT_THRESHOLD = 0.2


def pair_jumps(a: np.ndarray, b: np.ndarray, box_a, box_b) -> np.ndarray:
    """Keypoints (K, 3) of two neighbouring frames and their boxes [x, y, w, h] -> (K,) jump / body size.

    NaN where either end does not label the point. Body size: the mean of the two box diagonals.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diag = np.mean([np.hypot(box_a[2], box_a[3]), np.hypot(box_b[2], box_b[3])])
    dist = np.linalg.norm(a[:, :2] - b[:, :2], axis=1) / max(diag, 1.0)
    return np.where((a[:, 2] > 0) & (b[:, 2] > 0), dist, np.nan)


def frame_jumps(keypoints: np.ndarray, boxes: np.ndarray, adjacent: np.ndarray) -> np.ndarray:
    """Per-frame, per-keypoint jump (N, K) of N frames in clip order.

    keypoints: (N, K, 3) with NaN rows for frames without the person; boxes: (N, 4);
    adjacent: (N - 1,) bool, True where frame i and i + 1 are neighbours with both annotated.
    A frame's value is the smaller of its two neighbour jumps (NaN-aware; NaN if it has none).
    """
    n, k = keypoints.shape[:2]
    steps = np.full((max(n - 1, 0), k), np.nan)
    for i in range(n - 1):
        if adjacent[i]:
            steps[i] = pair_jumps(keypoints[i], keypoints[i + 1], boxes[i], boxes[i + 1])
    if n == 0:
        return np.empty((0, k))
    pad = np.full((1, k), np.nan)
    # fmin ignores a NaN side: a frame with one neighbour gets that jump, with none stays NaN.
    return np.fmin(np.vstack([pad, steps]), np.vstack([steps, pad]))


def check_clip(clip: Clip, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """Jump scores of a clip's annotations.

    Returns {"threshold", "frames": {frame_id: {"score": max jump over keypoints and people,
    "keypoints": names of the points over the threshold, "flagged": bool}}, "flagged": [frame ids]}.
    Frames without an annotated neighbour are absent.
    """
    project = clip.project
    K = project.num_keypoints
    names = project.skeleton["keypoints"]
    frames = list(Frame.objects.filter(clip=clip, frame_index__isnull=False).order_by("frame_index")
                  .values_list("id", flat=True))
    position = {fid: i for i, fid in enumerate(frames)}
    by_instance: dict[int, dict[int, Annotation]] = {}
    for ann in Annotation.objects.filter(frame_id__in=frames).only("frame_id", "instance", "keypoints", "bbox"):
        by_instance.setdefault(ann.instance, {})[ann.frame_id] = ann
    out: dict[int, dict] = {}
    for anns in by_instance.values():
        n = len(frames)
        kps = np.full((n, K, 3), np.nan)
        boxes = np.zeros((n, 4))
        present = np.zeros(n, dtype=bool)
        for fid, ann in anns.items():
            i = position[fid]
            kp = np.asarray(ann.padded_keypoints(K)[0], dtype=np.float64).reshape(K, 3)
            kps[i], boxes[i], present[i] = kp, ann.bbox, True
        jumps = frame_jumps(kps, boxes, present[:-1] & present[1:])
        for at in np.flatnonzero(~np.isnan(jumps).all(1)):
            row = jumps[at]
            score = float(np.nanmax(row))
            over = [names[j] for j in np.flatnonzero(np.nan_to_num(row, nan=0.0) > threshold)]
            entry = out.setdefault(frames[at], {"score": 0.0, "keypoints": [], "flagged": False})
            entry["score"] = round(max(entry["score"], score), 4)
            entry["keypoints"] = sorted(set(entry["keypoints"]) | set(over))
            entry["flagged"] = entry["flagged"] or bool(over)
    return {"threshold": threshold, "frames": out,
            "flagged": sorted((fid for fid, e in out.items() if e["flagged"]), key=position.__getitem__)}


def feed_label_error_queue(project, report: dict) -> bool:
    """Hand the flagged frames to the label-error review queue.

    Returns whether the queue took them. Only frames over the threshold go (a smooth frame is no
    label-error suspect); the signal names the jumping keypoints so a reviewer sees why.
    """
    flagged = {fid: e for fid, e in report["frames"].items() if e["flagged"]}
    if not flagged:
        return False
    scores = {fid: e["score"] for fid, e in flagged.items()}
    # Flat keys, as the queue shows them: jump = the largest keypoint move / body box diagonal.
    signals = {fid: {"jump": e["score"], "jump_keypoints": e["keypoints"], "jump_threshold": report["threshold"]}
               for fid, e in flagged.items()}
    queues.set_priorities(project, "label_error", scores=scores, signals=signals)
    return True


JUMP_SIGNALS = frozenset({"jump", "jump_keypoints", "jump_threshold"})


def clear_settled_jumps(clip: Clip, report: dict) -> int:
    """Take frames of the clip out of the label-error queue when only a jump put them there and this
    check no longer flags them (the points were corrected, or a neighbour changed). Returns items closed.

    Items that another signal (a model's label-error score) put or kept in the queue stay, and so
    do items already done.
    """
    still = set(report["flagged"])
    settled = [item.pk for item in QueueItem.objects.filter(project=clip.project, clip=clip, queue="label_error",
                                                            done_at__isnull=True).only("pk", "frame_id", "signals")
               if item.frame_id not in still and item.signals and set(item.signals) <= JUMP_SIGNALS]
    if not settled:
        return 0
    return QueueItem.objects.filter(pk__in=settled).update(done_at=timezone.now(), updated_at=timezone.now())


def check_and_feed(clip: Clip, threshold: float = DEFAULT_THRESHOLD) -> dict:
    """check_clip, then update the label-error queue (flagged frames in, settled jumps out).

    The result says whether the queue took the flags ("queue") and how many items left it
    ("queue_cleared").
    """
    report = check_clip(clip, threshold)
    try:
        report["queue"] = "fed" if feed_label_error_queue(clip.project, report) else "nothing flagged"
        report["queue_cleared"] = clear_settled_jumps(clip, report)
    except Exception as exc:  # the queue is another area's: a failure there must not lose the check
        log.exception("label-error queue refused the temporal scores of clip %s", clip.key)
        report["queue"] = f"failed: {type(exc).__name__}: {exc}"
    return report
