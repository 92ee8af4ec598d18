"""The pose checks of one person's clip: mlcore.label_checks, with two refinements that read the clip.

- A swap flagged against the neighbouring frames is kept only where crossing the pair fits them better
  by several times how much the pair's left -> right vector usually changes between neighbouring frames
  of this clip: the eyes or hips of a person seen from the side barely change, so a small crossing
  stands out, while two elbows that overlap in a side view swing past each other during a row and
  their order flips by the labeller's choice (and changes nothing measurable). A one-frame clip's swap
  (against the body's direction) needs the pair at least SINGLE_SWAP_APART of the body size apart.
- An off-track point is kept only where it is far from both sides: from where the frames before put it
  and from where the frames after put it. A clip labelled every few video frames can move a lot between
  two of them (the bar lowered); a point that follows one side is that motion, not a slip.

Arrays and records are mlcore.label_checks' (keypoints (N, K, 3), boxes (N, 4), Flag).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlcore import label_checks as lc

SWAP_WANDER = 1.0          # crossed fits better by this many times the pair's usual change between neighbours
SWAP_WANDER_FLOOR = 0.005  # ... plus this share of the body size (a pair that never moves still has noise)
SINGLE_SWAP_APART = 0.05   # one-frame clips: the pair this far apart (share of body size), or nothing to see
SIDE_NEIGHBOURS = 2        # labelled frames taken on each side of an off-track point


def pair_vectors(keypoints: Any, boxes: Any, lt: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) left -> right vectors in body sizes, and the (N,) mask of frames with both points."""
    xy, bx, ok, diag = lc.as_arrays(keypoints, boxes)
    rel = lc.body_relative(xy, bx, diag)
    return rel[:, r] - rel[:, lt], ok[:, lt] & ok[:, r]


def usual_pair_change(vec: np.ndarray, both: np.ndarray, skip: int) -> float:
    """Median distance of the pair's vector from its neighbours' (as the swap check takes them), over the
    clip's frames other than `skip` and not leaning on it; NaN with none."""
    present = both.copy()
    present[skip] = False
    changes = [float(np.linalg.norm(vec[i] - np.median(vec[nb], axis=0)))
               for i in np.flatnonzero(present) if (nb := lc.neighbour_rows(present, int(i), lc.SWAP_NEIGHBOURS))]
    return float(np.median(changes)) if changes else float("nan")


def steady_swaps(keypoints: Any, boxes: Any, flip_pairs: Sequence[tuple[int, int]], names: Sequence[str],
                 wander: float = SWAP_WANDER, apart: float = SINGLE_SWAP_APART) -> list[lc.Flag]:
    kept = []
    for flag in lc.swaps(keypoints, boxes, flip_pairs, names):
        lt, r = flag.keypoints
        vec, both = pair_vectors(keypoints, boxes, lt, r)
        if lc.neighbour_rows(both, flag.row, lc.SWAP_NEIGHBOURS):
            usual = usual_pair_change(vec, both, flag.row)
            ratio = flag.score / ((0.0 if np.isnan(usual) else usual) + SWAP_WANDER_FLOOR)
            if ratio > wander:
                kept.append(lc.Flag(flag.row, flag.kind, flag.keypoints, flag.score,
                                    f"{flag.reason} ({ratio:.1f} times the pair's usual change between frames)",
                                    {**flag.extra, "wander_ratio": round(ratio, 3)}))
        elif float(np.linalg.norm(vec[flag.row])) >= apart:
            kept.append(flag)
    return kept


def side_distances(keypoints: Any, boxes: Any, row: int, point: int) -> list[float]:
    """Distance (body sizes) of the point from the median of the labelled frames before it, and of those
    after it: one number per side that has frames."""
    xy, bx, ok, diag = lc.as_arrays(keypoints, boxes)
    rel = lc.body_relative(xy, bx, diag)
    before = [i for i in range(row - 1, -1, -1) if ok[i, point]][:SIDE_NEIGHBOURS]
    after = [i for i in range(row + 1, len(ok)) if ok[i, point]][:SIDE_NEIGHBOURS]
    return [float(np.linalg.norm(rel[row, point] - np.median(rel[side, point], axis=0)))
            for side in (before, after) if side]


def two_sided_off_track(keypoints: Any, boxes: Any, names: Sequence[str], support: np.ndarray,
                        limit: float = lc.OFF_TRACK) -> list[lc.Flag]:
    return [flag for flag in lc.off_track(keypoints, boxes, names, support=support)
            if min(side_distances(keypoints, boxes, flag.row, flag.keypoints[0])) > limit]


def check_poses(keypoints: Any, boxes: Any, *, links: Sequence[tuple[int, int]],
                flip_pairs: Sequence[tuple[int, int]], names: Sequence[str]) -> list[lc.Flag]:
    """mlcore.label_checks.check_poses with the swap and off-track checks above."""
    if len(keypoints) == 0:
        return []
    support = lc.bone_z(keypoints, boxes, links, flip_pairs)
    flags = [*steady_swaps(keypoints, boxes, flip_pairs, names),
             *lc.bone_lengths(keypoints, boxes, links, names, flip_pairs=flip_pairs),
             *lc.collapsed(keypoints, boxes, names, flip_pairs=flip_pairs), *lc.outside_box(keypoints, boxes, names),
             *two_sided_off_track(keypoints, boxes, names, support)]
    return sorted(flags, key=lambda f: (f.row, f.kind, f.keypoints))
