"""Keypoints smoothed along a clip: each point the median of its own and its neighbouring frames' predictions.

In an exercise clip much of the body hardly moves (feet, knees, head in a row), and a per-frame model's
error there is mostly noise from frame to frame; a moving point (a wrist) needs a short window or none.
So each keypoint has its own radius, chosen on held-out clips of the training set
(``choose_radii``), never on the clips it is scored on. Radius r = the r frames before and after in the
clip's frame order; ``WHOLE_CLIP`` = every frame of the clip; 0 = unchanged.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .metrics import oks_per_keypoint

WHOLE_CLIP = -1
RADII = (0, 1, 2, 3, WHOLE_CLIP)


def clip_orders(clip_ids: Sequence[Hashable], frames: Sequence[float | None]) -> list[list[int]]:
    """Row indices per clip in frame order; frames without a number, and clips where a frame holds several
    instances (who is who across frames is unknown), are left out."""
    by_clip: dict[str, list[int]] = {}
    for i, (c, f) in enumerate(zip(clip_ids, frames, strict=True)):
        if f is not None:
            by_clip.setdefault(str(c), []).append(i)
    out = []
    for rows in by_clip.values():
        numbers = [frames[i] for i in rows]
        if len(set(numbers)) == len(numbers) and len(rows) > 1:
            out.append(sorted(rows, key=lambda i: float(frames[i])))  # type: ignore[arg-type]
    return out


def smooth_in_clips(keypoints: npt.ArrayLike, clip_ids: Sequence[Hashable], frames: Sequence[float | None],
                    radius: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Keypoints (N, K, 3) [x, y, score] -> (N, K, 3) with x, y of keypoint k the median over the frames within
    ``radius[k]`` (K,) of each frame in its clip (``WHOLE_CLIP``: the whole clip; 0: unchanged), NaN points
    left out of the median. Scores stay."""
    kp = np.asarray(keypoints, dtype=np.float64)
    out = kp.copy()
    r = np.broadcast_to(np.asarray(radius, dtype=np.int64), (kp.shape[1],))
    for rows in clip_orders(clip_ids, frames):
        xy = kp[rows, :, :2]                                   # (n, K, 2)
        n = len(rows)
        with warnings.catch_warnings():  # a point no frame of the window has (NaN) stays NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            for k in np.flatnonzero(r != 0):
                if r[k] == WHOLE_CLIP:
                    out[rows, k, :2] = np.nanmedian(xy[:, k], axis=0)
                    continue
                for j, row in enumerate(rows):
                    out[row, k, :2] = np.nanmedian(xy[max(0, j - r[k]):min(n, j + r[k] + 1), k], axis=0)
    return out


def choose_radii(keypoints: npt.ArrayLike, labels: npt.ArrayLike, areas: npt.ArrayLike, sigmas: npt.ArrayLike,
                 clip_ids: Sequence[Hashable], frames: Sequence[float | None],
                 radii: Sequence[int] = RADII) -> dict[str, Any]:
    """Per keypoint, the radius whose smoothed predictions score the highest mean OKS term on these frames.

    keypoints (N, K, 3) predictions of frames the model did not train on, labels (N, K, 3), areas (N,),
    sigmas (K,); 0 (unchanged) is always a candidate. Ties go to the smaller window. Returns
    {"radius": [K ints], "mean_oks_term": {radius: [K floats, None where unlabelled]}, "frames": N}.
    """
    order = [*sorted({0, *(r for r in radii if r >= 0)}), *([WHOLE_CLIP] if WHOLE_CLIP in radii else [])]
    terms = {}
    for r in order:
        smoothed = smooth_in_clips(keypoints, clip_ids, frames, np.full(np.shape(keypoints)[1], r))
        t = oks_per_keypoint(smoothed, np.asarray(labels, dtype=np.float64), np.asarray(areas, dtype=np.float64),
                             np.asarray(sigmas, dtype=np.float64))
        with np.errstate(invalid="ignore"):
            terms[r] = np.array([np.nanmean(t[:, k]) if np.isfinite(t[:, k]).any() else np.nan
                                 for k in range(t.shape[1])])
    table = np.stack([terms[r] for r in order])                # (R, K)
    best = []
    for k in range(table.shape[1]):
        col = table[:, k]
        best.append(order[int(np.nanargmax(col))] if np.isfinite(col).any() else 0)
    # None where no frame labels the point (JSON has no NaN)
    return {"radius": best, "mean_oks_term": {str(r): [round(float(v), 4) if np.isfinite(v) else None
                                                       for v in terms[r]] for r in order},
            "frames": int(np.shape(keypoints)[0])}
