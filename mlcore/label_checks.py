"""Label checks that need no model: the poses of one clip, compared with each other and with themselves.

Every function takes one person's poses over a clip, in frame order: keypoints (N, K, 3) as
[x, y, v] (v > 0: labelled) and boxes (N, 4) as [x, y, w, h], and returns `Flag` records
naming the frame row, the keypoints involved, a score and a plain-words reason. Distances are
divided by the body size (the box diagonal), so a threshold means the same near the camera and
far from it.

- ``swaps``: a left/right pair whose two points sit where the clip's neighbouring frames have
  the other side (the pair fits its neighbours better crossed than as labelled), or, in a
  clip too short for neighbours, whose left-to-right direction opposes the rest of the body's.
- ``bone_lengths``: a bone (a skeleton link) whose length over body size is far from the clip's
  typical one (robust z-score: median and MAD over the clip's frames).
- ``collapsed``: two different keypoints within a few pixels of each other where the clip
  normally keeps them apart (a point dropped twice, or on top of another).
- ``outside_box``: a labelled point far outside the person's box.
- ``off_track``: a point far from where the clip's nearest labelled frames put it, relative to
  the body (the temporal jump check of frames that are not adjacent in the video).

Frames of a clip are ordered; neighbours are the nearest labelled rows before and after, so a
clip sampled every few video frames still has them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

SWAP_MARGIN = 0.003         # crossed fits the neighbours better by this much of the body size
SWAP_NEIGHBOURS = 1         # labelled frames taken on each side for the swap check
SWAP_AGREEMENT = 0.5        # ... and by this share of the pair's separation (1: a clean mirror image)
BODY_SWAP_COSINE = -0.5     # one-frame clips: the pair points against the rest of the body
BONE_Z = 8.0                # robust z-score of a bone length over the clip
BONE_MIN_CHANGE = 0.4       # ... and at least this share of the typical length
COLLAPSE_PX = 3.0           # two points closer than this many pixels
COLLAPSE_BODY = 0.01        # ... or this share of the body size, whichever is more
COLLAPSE_APART = 4.0        # ... where the clip's typical distance is at least this many times more
OUTSIDE_MARGIN = 0.05       # beyond the box by this share of the body size
OFF_TRACK = 0.1             # a point this far (share of body size) from its neighbours' median position
OFF_TRACK_RATIO = 6.0       # ... and this many times its usual distance in the clip (plus the floor),
OFF_TRACK_SUPPORTED = 2.0   # ... or this many times where a bone it ends is unusual too (robust z over
BONE_SUPPORT_Z = 3.0        # this): arms swing during a row, so their track alone says little
OFF_TRACK_FLOOR = 0.01
NEIGHBOURS = 2              # labelled frames taken on each side
MIN_FRAMES = 4              # clip statistics need this many frames with the bone


@dataclass(frozen=True)
class Flag:
    """One suspect label: `row` of the clip's arrays, the check's `kind`, keypoint indices, score, reason."""

    row: int
    kind: str
    keypoints: tuple[int, ...]
    score: float
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)


def as_arrays(keypoints: Any, boxes: Any) -> tuple[Array, Array, npt.NDArray[np.bool_], Array]:
    """(N, K, 3), (N, 4) -> xy (N, K, 2), boxes, labelled mask (N, K), body size (N,) (at least 1 px)."""
    kp = np.asarray(keypoints, dtype=np.float64).reshape(len(keypoints), -1, 3) if len(keypoints) else \
        np.zeros((0, 0, 3))
    bx = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ok = np.nan_to_num(kp[..., 2], nan=0.0) > 0
    diag = np.maximum(np.hypot(bx[:, 2], bx[:, 3]), 1.0)
    return np.nan_to_num(kp[..., :2]), bx, ok, diag


def neighbour_rows(present: npt.NDArray[np.bool_], row: int, count: int = NEIGHBOURS) -> list[int]:
    """Up to `count` rows where `present` is true on each side of `row` (nearest first)."""
    before = [i for i in range(row - 1, -1, -1) if present[i]][:count]
    after = [i for i in range(row + 1, len(present)) if present[i]][:count]
    return before + after


def body_relative(xy: Array, bx: Array, diag: Array) -> Array:
    """Points relative to the box centre, in body sizes: (N, K, 2)."""
    centre = bx[:, :2] + bx[:, 2:] / 2
    out: Array = (xy - centre[:, None, :]) / diag[:, None, None]
    return out


def swaps(keypoints: Any, boxes: Any, flip_pairs: Sequence[tuple[int, int]], names: Sequence[str],
          margin: float = SWAP_MARGIN, agree: float = SWAP_AGREEMENT) -> list[Flag]:
    xy, bx, ok, diag = as_arrays(keypoints, boxes)
    rel = body_relative(xy, bx, diag)
    flags: list[Flag] = []
    for lt, r in flip_pairs:
        both = ok[:, lt] & ok[:, r]
        for i in np.flatnonzero(both):
            nb = neighbour_rows(both, int(i), SWAP_NEIGHBOURS)
            if nb:
                # The pair's left -> right vector against its neighbours': motion shared by both points cancels.
                v, ref = rel[i, r] - rel[i, lt], np.median(rel[nb, r] - rel[nb, lt], axis=0)
                score = float(np.linalg.norm(v - ref) - np.linalg.norm(v + ref))
                # Crossed must fit clearly (a share of the pair's own size), not just by the noise of two points.
                agreement = score / max(float(np.linalg.norm(v) + np.linalg.norm(ref)), 1e-9)
                if score > margin and agreement > agree:
                    flags.append(Flag(int(i), "swap", (lt, r), round(score, 4),
                                      f"{names[lt]} and {names[r]} look swapped: crossed, they fit the clip's "
                                      f"neighbouring frames better by {score:.0%} of the body size"))
                continue
            cosine = _body_side_cosine(xy[i], ok[i], flip_pairs, lt, r)
            if cosine is not None and cosine < BODY_SWAP_COSINE:
                flags.append(Flag(int(i), "swap", (lt, r), round(-cosine, 4),
                                  f"{names[lt]} and {names[r]} look swapped: left-to-right runs against the "
                                  f"rest of the body's left-to-right direction"))
    return flags


def _body_side_cosine(xy: Array, ok: npt.NDArray[np.bool_], flip_pairs: Sequence[tuple[int, int]],
                      lt: int, r: int) -> float | None:
    """Cosine between the pair's left -> right vector and the mean unit left -> right of the other pairs."""
    others = [xy[b] - xy[a] for a, b in flip_pairs if (a, b) != (lt, r) and ok[a] and ok[b]]
    units = [v / n for v in others if (n := float(np.linalg.norm(v))) > 1e-6]
    v = xy[r] - xy[lt]
    norm = float(np.linalg.norm(v))
    if len(units) < 2 or norm <= 1e-6:
        return None
    mean = np.mean(units, axis=0)
    if float(np.linalg.norm(mean)) < 0.5:  # the other pairs disagree among themselves: no body direction
        return None
    return float(np.dot(v / norm, mean / np.linalg.norm(mean)))


def robust_z(values: Array, floor: float) -> tuple[Array, float]:
    """(x - median) / max(1.4826 MAD, floor) over the finite values; NaN stays NaN. Returns (z, median)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.full_like(values, np.nan), float("nan")
    med = float(np.median(finite))
    spread = max(1.4826 * float(np.median(np.abs(finite - med))), floor, 1e-9)
    z: Array = (values - med) / spread
    return z, med


def bone_z(keypoints: Any, boxes: Any, links: Sequence[tuple[int, int]],
           flip_pairs: Sequence[tuple[int, int]] = ()) -> Array:
    """(N, K): the largest |robust z| of the bones (not across the body) that end at each point; 0 if none."""
    xy, _bx, ok, diag = as_arrays(keypoints, boxes)
    across = {frozenset(p) for p in flip_pairs}
    out = np.zeros(ok.shape)
    for a, b in links:
        both = ok[:, a] & ok[:, b]
        if frozenset((a, b)) in across or both.sum() < MIN_FRAMES:
            continue
        length = np.where(both, np.linalg.norm(xy[:, a] - xy[:, b], axis=1) / diag, np.nan)
        z, _med = robust_z(length, floor=0.05 * float(np.nanmedian(length)))
        z = np.nan_to_num(np.abs(z), nan=0.0)
        out[:, a], out[:, b] = np.maximum(out[:, a], z), np.maximum(out[:, b], z)
    return out


def bone_lengths(keypoints: Any, boxes: Any, links: Sequence[tuple[int, int]], names: Sequence[str],
                 z_limit: float = BONE_Z, min_change: float = BONE_MIN_CHANGE,
                 flip_pairs: Sequence[tuple[int, int]] = ()) -> list[Flag]:
    """Links across the body (a flip pair: eye to eye, hip to hip) are left out: their length is the view's."""
    xy, _bx, ok, diag = as_arrays(keypoints, boxes)
    across = {frozenset(p) for p in flip_pairs}
    per_row: dict[int, list[tuple[int, int, float, float, float]]] = {}
    for a, b in links:
        if frozenset((a, b)) in across:
            continue
        both = ok[:, a] & ok[:, b]
        if both.sum() < MIN_FRAMES:
            continue
        length = np.where(both, np.linalg.norm(xy[:, a] - xy[:, b], axis=1) / diag, np.nan)
        z, med = robust_z(length, floor=0.05 * float(np.nanmedian(length)))
        for i in np.flatnonzero(both):
            change = abs(length[i] - med) / max(med, 1e-9)
            if abs(z[i]) > z_limit and change > min_change:
                per_row.setdefault(int(i), []).append((a, b, float(z[i]), float(length[i]), med))
    flags: list[Flag] = []
    for row, bones in per_row.items():
        # A point placed wrong stretches every bone it ends: name the shared end where there is one.
        count: dict[int, int] = {}
        for a, b, *_ in bones:
            count[a], count[b] = count.get(a, 0) + 1, count.get(b, 0) + 1
        shared = tuple(sorted(k for k, c in count.items() if c >= 2))
        points = shared or tuple(sorted(count))
        wa, wb, wz, wlen, wmed = max(bones, key=lambda t: abs(t[2]))
        words = "longer" if wlen > wmed else "shorter"
        more = f"; {len(bones)} bones affected" if len(bones) > 1 else ""
        flags.append(Flag(row, "bone_length", points, round(abs(wz), 3),
                          f"the {names[wa]}-{names[wb]} bone is {wlen / wmed:.1f} times its typical length in this "
                          f"clip ({words}; robust z {wz:+.1f}){more}",
                          {"bones": [[names[a], names[b]] for a, b, *_ in bones]}))
    return flags


def collapsed(keypoints: Any, boxes: Any, names: Sequence[str], px: float = COLLAPSE_PX,
              share: float = COLLAPSE_BODY, apart: float = COLLAPSE_APART,
              flip_pairs: Sequence[tuple[int, int]] = ()) -> list[Flag]:
    """A flip pair (left and right of one joint) may coincide, seen from the side: those are the swap check's."""
    xy, _bx, ok, diag = as_arrays(keypoints, boxes)
    across = {frozenset(p) for p in flip_pairs}
    n, k = ok.shape
    flags: list[Flag] = []
    if n == 0:
        return flags
    # (N, K, K) distances in pixels and the clip's typical distance per pair in body sizes.
    dist = np.linalg.norm(xy[:, :, None, :] - xy[:, None, :, :], axis=-1)
    both = ok[:, :, None] & ok[:, None, :]
    body = np.where(both, dist / diag[:, None, None], np.nan)
    with warnings.catch_warnings():  # pairs never labelled together in the clip: NaN, on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        typical = np.nanmedian(body, axis=0)
    for i in range(n):
        limit = max(px, share * diag[i])
        for a, b in zip(*np.nonzero(np.triu(both[i] & (dist[i] < limit), 1)), strict=True):
            if frozenset((int(a), int(b))) in across:
                continue
            usual = typical[a, b] * diag[i]
            if not np.isfinite(usual) or usual >= apart * limit or n == 1:
                flags.append(Flag(i, "collapsed", (int(a), int(b)), round(float(dist[i, a, b]), 2),
                                  f"{names[a]} and {names[b]} are {dist[i, a, b]:.1f} px apart (one point placed "
                                  f"twice?); in this clip they are usually {usual:.0f} px apart"))
    return flags


def outside_box(keypoints: Any, boxes: Any, names: Sequence[str], margin: float = OUTSIDE_MARGIN) -> list[Flag]:
    xy, bx, ok, diag = as_arrays(keypoints, boxes)
    flags: list[Flag] = []
    for i in range(len(ok)):
        if bx[i, 2] <= 0 or bx[i, 3] <= 0:
            continue  # no box to compare with
        lo, hi = bx[i, :2], bx[i, :2] + bx[i, 2:]
        beyond = np.maximum(np.maximum(lo - xy[i], xy[i] - hi), 0.0)  # (K, 2) pixels outside, per axis
        far = np.linalg.norm(beyond, axis=1) / diag[i]
        for j in map(int, np.flatnonzero(ok[i] & (far > margin))):
            flags.append(Flag(i, "outside_box", (j,), round(float(far[j]), 4),
                              f"{names[j]} lies {far[j]:.0%} of the body size outside the person's box"))
    return flags


def track_offset(rel: Array, ok: npt.NDArray[np.bool_], row: int, point: int) -> Array | None:
    """(2,) offset of a point (rel (N, K, 2) body-relative, ok (N, K)) from the median of its neighbouring
    labelled frames; None where it has fewer than two."""
    nb = neighbour_rows(ok[:, point], row)
    if len(nb) < 2:
        return None
    return np.asarray(rel[row, point] - np.median(rel[nb, point], axis=0), dtype=np.float64)


def off_track(keypoints: Any, boxes: Any, names: Sequence[str], limit: float = OFF_TRACK,
              ratio_limit: float = OFF_TRACK_RATIO, support: Array | None = None,
              supported_limit: float = OFF_TRACK_SUPPORTED) -> list[Flag]:
    """support: bone_z of the same poses; a point whose bones are unusual needs less of a stray to be flagged."""
    xy, bx, ok, diag = as_arrays(keypoints, boxes)
    backed = (support > BONE_SUPPORT_Z) if support is not None else np.zeros(ok.shape, dtype=bool)
    rel = body_relative(xy, bx, diag)
    flags: list[Flag] = []
    for j in range(ok.shape[1]):
        rows = np.flatnonzero(ok[:, j])
        away = np.full(len(ok), np.nan)
        for i in rows:
            offset = track_offset(rel, ok, int(i), j)
            if offset is not None:
                away[i] = float(np.linalg.norm(offset))
        if np.isfinite(away).sum() < MIN_FRAMES:
            continue
        # How far this point usually strays from its neighbours in this clip (a wrist more than a knee).
        usual = float(np.nanmedian(away))
        for i in np.flatnonzero(np.isfinite(away)):
            ratio = away[i] / (usual + OFF_TRACK_FLOOR)
            if away[i] > limit and (ratio > ratio_limit or (backed[i, j] and ratio > supported_limit)):
                flags.append(Flag(int(i), "off_track", (j,), round(float(ratio), 3),
                                  f"{names[j]} is {away[i]:.0%} of the body size away from where the clip's "
                                  f"neighbouring labelled frames put it ({ratio:.1f} times its usual wander)"))
    return flags


def check_poses(keypoints: Any, boxes: Any, *, links: Sequence[tuple[int, int]],
                flip_pairs: Sequence[tuple[int, int]], names: Sequence[str]) -> list[Flag]:
    """Every check above over one person's poses of one clip, in row order."""
    if len(keypoints) == 0:
        return []
    flags = [*swaps(keypoints, boxes, flip_pairs, names),
             *bone_lengths(keypoints, boxes, links, names, flip_pairs=flip_pairs),
             *collapsed(keypoints, boxes, names, flip_pairs=flip_pairs), *outside_box(keypoints, boxes, names),
             *off_track(keypoints, boxes, names, support=bone_z(keypoints, boxes, links, flip_pairs))]
    return sorted(flags, key=lambda f: (f.row, f.kind, f.keypoints))
