"""Uncertainty signals, a combined review priority, queue diversity and label-error scores.

Shapes: N frames (one predicted instance each), K keypoints, S samples.
Every signal is "higher = more doubtful"; per-keypoint signals are (N, K) and
a frame's value is the mean over its keypoints (NaN-aware; NaN = signal not
available for that frame, e.g. no flip prediction or a clip of one frame).
Distances are divided by the instance size sqrt(w * h) of its box, so a
5-pixel wobble on a distant lifter counts more than on a close one.

Signals
- confidence: 1 - keypoint score (the model's own doubt).
- flip: distance between the prediction and the prediction on the mirrored
  image (mapped back, sides swapped). Test-time augmentation disagreement.
- spread: RMS distance of S MC-dropout passes (or S ensemble members) from
  their mean.
- temporal: distance of a keypoint from where its neighbouring frames of the
  same clip put it: from the linear interpolation between the previous and
  next frame (by frame number), or, at either end of a clip, half the distance
  to the one neighbour. Real motion is smooth, a jump is a suspect.
- form: 1 - (p_top1 - p_top2) of the form classifier (small margin = unsure);
  ``form_entropy`` is also given.

Combined priority (``combine``): each available signal is turned into its rank
within the batch, scaled to 0..1 (ties share the mean rank), and the frame's
priority is the weighted mean of its available ranks, default weights
confidence 1, flip 1, spread 1, temporal 1, form 0.5. Ranks make signals with
different units comparable without tuning scales, and a frame missing one
signal is ranked on the others. Priority is relative to the batch it was
computed in: re-score the pool together, not frame by frame.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

DEFAULT_WEIGHTS = {"confidence": 1.0, "flip": 1.0, "spread": 1.0, "temporal": 1.0, "form": 0.5}


def _size(bboxes: npt.ArrayLike) -> Floats:
    b = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    return np.sqrt(np.maximum(b[:, 2] * b[:, 3], 1.0))


def frame_mean(per_keypoint: npt.ArrayLike) -> Floats:
    """(N, K) -> (N,) mean over keypoints, ignoring NaN (NaN if all are NaN)."""
    a = np.asarray(per_keypoint, dtype=np.float64)
    ok = ~np.isnan(a)
    return np.where(ok.any(1), np.where(ok, a, 0).sum(1) / np.maximum(ok.sum(1), 1), np.nan)


def confidence(scores: npt.ArrayLike) -> Floats:
    """Keypoint scores (N, K) -> doubt (N, K) = 1 - score, clipped to 0..1."""
    return 1.0 - np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)


def flip_disagreement(keypoints: npt.ArrayLike, flip_keypoints: npt.ArrayLike, bboxes: npt.ArrayLike) -> Floats:
    """(N, K, 2|3) and its mirrored-input twin (N, K, 2|3; NaN rows if missing) -> (N, K) distance / box size."""
    a = np.asarray(keypoints, dtype=np.float64)[..., :2]
    b = np.asarray(flip_keypoints, dtype=np.float64)[..., :2]
    dist: Floats = np.linalg.norm(a - b, axis=-1)
    return dist / _size(bboxes)[:, None]


def sample_spread(samples: npt.ArrayLike, bboxes: npt.ArrayLike) -> Floats:
    """S predictions per frame (S, N, K, 2|3) -> (N, K) RMS spread / box size.

    The S predictions are MC-dropout passes or ensemble members.
    """
    s = np.asarray(samples, dtype=np.float64)[..., :2]
    centre = s.mean(axis=0, keepdims=True)
    rms: Floats = np.sqrt(((s - centre) ** 2).sum(-1).mean(0))
    return rms / _size(bboxes)[:, None]


def temporal_jump(keypoints: npt.ArrayLike, clip_ids: Sequence[Hashable], frames: Sequence[float | None],
                  bboxes: npt.ArrayLike) -> Floats:
    """Keypoints (N, K, 2|3) of frames from clips -> (N, K) deviation from the neighbours / box size.

    clip_ids: N clip ids; frames: N frame numbers (None = unknown, such frames
    get NaN). Frames are ordered by number within each clip; several
    instances with the same clip and frame are compared with the other frames only.
    """
    kp = np.asarray(keypoints, dtype=np.float64)[..., :2]
    n, k = kp.shape[:2]
    out = np.full((n, k), np.nan)
    size = _size(bboxes)
    by_clip: dict[str, list[int]] = {}
    for i, (c, f) in enumerate(zip(clip_ids, frames, strict=True)):
        if f is not None:
            by_clip.setdefault(str(c), []).append(i)
    for rows in by_clip.values():
        rows = sorted(rows, key=lambda i: cast(float, frames[i]))  # only frames with a number are here
        fr = np.array([frames[i] for i in rows], dtype=np.float64)
        for j, i in enumerate(rows):
            prev = [r for r in range(j - 1, -1, -1) if fr[r] < fr[j]]
            nxt = [r for r in range(j + 1, len(rows)) if fr[r] > fr[j]]
            if prev and nxt:
                p, q = prev[0], nxt[0]
                t = (fr[j] - fr[p]) / (fr[q] - fr[p])
                expected = kp[rows[p]] + t * (kp[rows[q]] - kp[rows[p]])
                out[i] = np.linalg.norm(kp[i] - expected, axis=-1) / size[i]
            elif prev or nxt:
                r = prev[0] if prev else nxt[0]
                out[i] = 0.5 * np.linalg.norm(kp[i] - kp[rows[r]], axis=-1) / size[i]
    return out


def form_margin(probs: npt.ArrayLike) -> Floats:
    """Form probabilities (N, C) -> 1 - (top1 - top2), in 0..1."""
    p = np.sort(np.asarray(probs, dtype=np.float64), axis=1)
    if p.shape[1] < 2:
        return np.zeros(len(p))
    return 1.0 - (p[:, -1] - p[:, -2])


def form_entropy(probs: npt.ArrayLike) -> Floats:
    """Form probabilities (N, C) -> entropy / log(C), in 0..1."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    ent: Floats = -(p * np.log(p)).sum(1)
    return ent / float(np.log(max(p.shape[1], 2)))


def rank01(values: npt.ArrayLike) -> Floats:
    """Values (N,) -> ranks scaled to 0..1 (ties share their mean rank; NaN stays NaN)."""
    v = np.asarray(values, dtype=np.float64)
    out = np.full(v.shape, np.nan)
    ok = ~np.isnan(v)
    m = int(ok.sum())
    if m == 0:
        return out
    if m == 1:
        out[ok] = 0.5
        return out
    vals = v[ok]
    order = np.argsort(vals, kind="mergesort")
    ranks = np.empty(m)
    ranks[order] = np.arange(m, dtype=np.float64)
    for u in np.unique(vals):       # average ties so equal signals get equal priority
        same = vals == u
        if same.sum() > 1:
            ranks[same] = ranks[same].mean()
    out[ok] = ranks / (m - 1)
    return out


def combine(signals: Mapping[str, npt.ArrayLike], weights: dict[str, float] | None = None) -> Floats:
    """Per-frame signals {name: (N,)} -> priority (N,) in 0..1 (see the module docstring).

    Signals not in ``weights`` get weight 1. A frame with no available signal gets 0.
    """
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    names = [n for n in signals if weights.get(n, 1.0) > 0]
    if not names:
        raise ValueError("no signals to combine")
    n = len(np.asarray(signals[names[0]]))
    total = np.zeros(n)
    wsum = np.zeros(n)
    for name in names:
        r = rank01(signals[name])
        ok = ~np.isnan(r)
        w = weights.get(name, 1.0)
        total[ok] += w * r[ok]
        wsum[ok] += w
    return np.where(wsum > 0, total / np.maximum(wsum, 1e-12), 0.0)


def diverse_order(priority: npt.ArrayLike, clip_ids: Sequence[Hashable],
                  max_per_clip: int = 2) -> npt.NDArray[np.int64]:
    """Queue order: highest priority first, but at most ``max_per_clip`` frames of a clip in the top part.

    Frames of one clip are near-duplicates; a reviewer learns more from the
    worst frame of five clips than the five worst frames of one. The first
    pass takes frames by priority, skipping a clip once it has
    ``max_per_clip``; the skipped frames follow, again by priority.
    Returns indices (N,) into the inputs.
    """
    p = np.asarray(priority, dtype=np.float64)
    order = np.argsort(-p, kind="mergesort")
    taken: dict[str, int] = {}
    head: list[int] = []
    tail: list[int] = []
    for i in order:
        c = str(clip_ids[i])
        if taken.get(c, 0) < max_per_clip:
            taken[c] = taken.get(c, 0) + 1
            head.append(i)
        else:
            tail.append(i)
    return np.array(head + tail, dtype=np.int64)


def label_error_scores(pred: npt.ArrayLike, human: npt.ArrayLike, areas: npt.ArrayLike, sigmas: npt.ArrayLike,
                       min_score: float = 0.5, max_similarity: float = 0.5, min_joints: int = 3,
                       form_probs: npt.ArrayLike | None = None, human_form: Sequence[Hashable | None] | None = None,
                       classes: Sequence[Hashable] | None = None,
                       min_form_prob: float = 0.8) -> dict[str, npt.NDArray[Any]]:
    """Where a confident model disagrees with the human label (seed 004's outlier check).

    pred (N, K, 3) [x, y, score]; human (N, K, 3) [x, y, v]; areas (N,) OKS areas; sigmas (K,).
    A joint is suspect when the model's score >= ``min_score``, the human
    labelled it, and their per-keypoint OKS similarity is < ``max_similarity``
    (0.5 is, e.g., about 80 px on the hips of a 300-px person). A frame is
    flagged with >= ``min_joints`` suspect joints, or when the form model gives
    another label than the human's with probability >= ``min_form_prob``.
    Returns joints (N, K) bool, count (N,), form_disagrees (N,) bool,
    score (N,) = suspect joints / labelled joints + the disagreeing form
    probability (0 when it agrees), and flagged (N,) bool.
    """
    from .metrics import oks_per_keypoint

    p = np.asarray(pred, dtype=np.float64)
    h = np.asarray(human, dtype=np.float64)
    ks = oks_per_keypoint(p, h, areas, sigmas)
    labelled = h[..., 2] > 0
    joints = labelled & (p[..., 2] >= min_score) & (np.nan_to_num(ks, nan=1.0) < max_similarity)
    count = joints.sum(1)
    form_dis = np.zeros(len(p), dtype=bool)
    form_p = np.zeros(len(p))
    if form_probs is not None and human_form is not None and classes is not None:
        probs = np.asarray(form_probs, dtype=np.float64)
        top = probs.argmax(1)
        for i, lab in enumerate(human_form):
            if lab is None:
                continue
            if classes[top[i]] != lab and probs[i, top[i]] >= min_form_prob:
                form_dis[i] = True
                form_p[i] = probs[i, top[i]]
    score = count / np.maximum(labelled.sum(1), 1) + form_p
    return {"joints": joints, "count": count, "form_disagrees": form_dis, "score": score,
            "flagged": (count >= min_joints) | form_dis}


def error_capture(priority: npt.ArrayLike, is_error: npt.ArrayLike, top: float = 0.2) -> dict[str, float]:
    """How well a priority finds the bad frames: of the error frames, the share in the top ``top`` by priority.

    Returns capture (recall of errors in the top share), precision (errors
    among the top share), what random order would give on average
    (capture = top, precision = base rate), and the ceiling: the best
    possible capture when there are more errors than places at the top.
    """
    p = np.asarray(priority, dtype=np.float64)
    err = np.asarray(is_error, dtype=bool)
    n_top = max(1, int(round(top * len(p))))
    top_idx = np.argsort(-p, kind="mergesort")[:n_top]
    caught = err[top_idx].sum()
    return {"capture": float(caught / err.sum()) if err.any() else float("nan"),
            "precision": float(caught / n_top), "random_capture": float(n_top / len(p)),
            "random_precision": float(err.mean()), "errors": int(err.sum()), "top_n": int(n_top),
            "ceiling": float(min(1.0, n_top / err.sum())) if err.any() else float("nan")}
