"""The pose checks of one person's clip: mlcore.label_checks, with refinements that read the clip.

- A swap flagged against the neighbouring frames is kept only where crossing the pair fits them better
  by several times how much the pair's left -> right vector usually changes between neighbouring frames
  of this clip: the eyes or hips of a person seen from the side barely change, so a small crossing
  stands out, while two elbows that overlap in a side view swing past each other during a row and
  their order flips by the labeller's choice (and changes nothing measurable). A one-frame clip's swap
  (against the body's direction) needs the pair at least SINGLE_SWAP_APART of the body size apart.
- A pair whose points nearly coincide in the clip (under TOLD_APART of the body size apart, as a rule)
  and whose left -> right vector runs against the clip's usual one in more than CROSSED_FRAMES labelled
  frames is one the labeller did not tell apart there (two elbows overlapping in a side view, the
  hidden one guessed): its crossings are the clip's convention, not slips, and are not flagged. A slip
  crosses a pair in one frame (two, where a clip has two slips of one pair); a pair well apart is
  always told apart.
- An off-track point is kept only where it is far from both sides: from where the frames before put it
  and from where the frames after put it. A clip labelled every few video frames can move a lot between
  two of them (the bar lowered); a point that follows one side is that motion, not a slip. Nor is a point
  whose left/right partner strayed the same way: both wrists off their track together is the bar moving,
  while a slip moves one point.

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
CROSSED_FRAMES = 2         # a close pair crossed in more frames than this is not told apart in the clip
TOLD_APART = 0.05          # ... close: its usual left -> right vector shorter than this share of the body
SIDE_NEIGHBOURS = 2        # labelled frames taken on each side of an off-track point
OFF_TRACK_RATIO = 4.0      # mlcore.label_checks.off_track's ratio limits, lower than its own: the two-sided
OFF_TRACK_SUPPORTED = 1.5  # and partner refinements drop most of what they would add in a clean clip
BONE_Z = 5.0               # mlcore.label_checks.bone_lengths' robust z limit, lower for the same reason
                           # (all three chosen on bench/annotation_quality.py's tuning seeds)
PARTNER_ALIKE = 0.5        # the partner's stray differs from the point's by less than this share of it


def relative(keypoints: Any, boxes: Any) -> tuple[np.ndarray, np.ndarray]:
    """(N, K, 2) positions in body sizes from the box (mlcore.label_checks.body_relative), (N, K) labelled."""
    xy, bx, ok, diag = lc.as_arrays(keypoints, boxes)
    return lc.body_relative(xy, bx, diag), ok


def pair_vectors(keypoints: Any, boxes: Any, lt: int, r: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) left -> right vectors in body sizes, and the (N,) mask of frames with both points."""
    rel, ok = relative(keypoints, boxes)
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
    return told_apart(kept, keypoints, boxes)


def told_apart(flags: list[lc.Flag], keypoints: Any, boxes: Any) -> list[lc.Flag]:
    """The swap flags of pairs told apart in the clip: their usual left -> right vector (the median) at least
    TOLD_APART long, or running against it in at most CROSSED_FRAMES labelled frames (module docstring)."""
    kept = []
    for flag in flags:
        vec, both = pair_vectors(keypoints, boxes, *flag.keypoints)
        usual = np.median(vec[both], axis=0)
        if np.linalg.norm(usual) >= TOLD_APART or int(((vec[both] @ usual) < 0).sum()) <= CROSSED_FRAMES:
            kept.append(flag)
    return kept


def strayed_with_partner(keypoints: Any, boxes: Any, row: int, point: int, partner: int | None) -> bool:
    """Whether the point's left/right partner strayed from its track (mlcore.label_checks.track_offset)
    the same way as the point."""
    if partner is None:
        return False
    rel, ok = relative(keypoints, boxes)
    if not ok[row, partner]:
        return False
    mine, theirs = lc.track_offset(rel, ok, row, point), lc.track_offset(rel, ok, row, partner)
    if mine is None or theirs is None:
        return False
    return float(np.linalg.norm(mine - theirs)) < PARTNER_ALIKE * float(np.linalg.norm(mine))


def side_distances(keypoints: Any, boxes: Any, row: int, point: int) -> list[float]:
    """Distance (body sizes) of the point from the median of the labelled frames before it, and of those
    after it: one number per side that has frames."""
    rel, ok = relative(keypoints, boxes)
    before = [i for i in range(row - 1, -1, -1) if ok[i, point]][:SIDE_NEIGHBOURS]
    after = [i for i in range(row + 1, len(ok)) if ok[i, point]][:SIDE_NEIGHBOURS]
    return [float(np.linalg.norm(rel[row, point] - np.median(rel[side, point], axis=0)))
            for side in (before, after) if side]


def two_sided_off_track(keypoints: Any, boxes: Any, names: Sequence[str], support: np.ndarray,
                        flip_pairs: Sequence[tuple[int, int]] = (), limit: float = lc.OFF_TRACK) -> list[lc.Flag]:
    partner_of = {a: b for pair in flip_pairs for a, b in (pair, pair[::-1])}
    return [flag for flag in lc.off_track(keypoints, boxes, names, limit=limit, ratio_limit=OFF_TRACK_RATIO,
                                          support=support, supported_limit=OFF_TRACK_SUPPORTED)
            if min(side_distances(keypoints, boxes, flag.row, flag.keypoints[0])) > limit
            and not strayed_with_partner(keypoints, boxes, flag.row, flag.keypoints[0],
                                         partner_of.get(flag.keypoints[0]))]


def check_poses(keypoints: Any, boxes: Any, *, links: Sequence[tuple[int, int]],
                flip_pairs: Sequence[tuple[int, int]], names: Sequence[str]) -> list[lc.Flag]:
    """mlcore.label_checks.check_poses with the swap and off-track checks above."""
    if len(keypoints) == 0:
        return []
    support = lc.bone_z(keypoints, boxes, links, flip_pairs)
    flags = [*steady_swaps(keypoints, boxes, flip_pairs, names),
             *lc.bone_lengths(keypoints, boxes, links, names, z_limit=BONE_Z, flip_pairs=flip_pairs),
             *lc.collapsed(keypoints, boxes, names, flip_pairs=flip_pairs), *lc.outside_box(keypoints, boxes, names),
             *two_sided_off_track(keypoints, boxes, names, support, flip_pairs)]
    return sorted(flags, key=lambda f: (f.row, f.kind, f.keypoints))
