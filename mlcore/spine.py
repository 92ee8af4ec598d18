"""Spine heuristic: a first guess for neck, hip and spine_01..05 from body keypoints.

Assumptions (say them, because reviewers correct what this gets wrong):
- The trunk is treated as a straight segment from the pelvis centre (mid-hips)
  to the neck (mid-shoulders, nudged 10% of the trunk length towards the head
  when ears or nose are labelled). Real spines curve; in the side views that
  dominate exercise videos the lumbar and thoracic curves are exactly what a
  reviewer must fix, so the guess only has to be close enough to drag.
- spine_01 (lumbar) .. spine_05 (thoracic) sit at 1/6 .. 5/6 of the way from
  hip to neck, evenly spaced.
- One labelled shoulder (or hip) stands in for the midpoint when its partner is
  missing, which is common in side views where the far side is hidden.
Every point this places is marked heuristic, never verified, and gets
visibility 1 (placed, unconfirmed).
"""

from __future__ import annotations

import numpy as np

from .skeletons import Skeleton

SPINE_CHAIN = ("spine_01", "spine_02", "spine_03", "spine_04", "spine_05")
NECK_TOWARDS_HEAD = 0.10


def _mid(kpts: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint of two keypoints where both are labelled, else the labelled one.

    kpts: (N, K, 3). Returns xy (N, 2) and ok (N,) bool.
    """
    va, vb = kpts[:, a, 2] > 0, kpts[:, b, 2] > 0
    both = va & vb
    xy = np.where(both[:, None], (kpts[:, a, :2] + kpts[:, b, :2]) / 2,
                  np.where(va[:, None], kpts[:, a, :2], kpts[:, b, :2]))
    return xy, va | vb


def fill_spine(keypoints: np.ndarray, skeleton: Skeleton, only_missing: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Place neck, hip and spine_01..05 of ``skeleton`` by the heuristic.

    keypoints: (N, K, 3) float array [x, y, v] in the skeleton's order.
    only_missing: leave points that are already labelled (v > 0) alone.
    Returns (filled (N, K, 3) copy, heuristic mask (N, K) bool: True where this placed a point).
    Skeletons without these names come back unchanged with an all-False mask.
    """
    kpts = np.array(keypoints, dtype=np.float64, copy=True)
    if kpts.ndim != 3 or kpts.shape[1:] != (skeleton.num_keypoints, 3):
        raise ValueError(f"expected (N, {skeleton.num_keypoints}, 3) keypoints, got {kpts.shape}")
    mask = np.zeros(kpts.shape[:2], dtype=bool)
    names = {n: i for i, n in enumerate(skeleton.keypoints)}
    needed = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    if not all(n in names for n in needed):
        return kpts, mask

    neck_xy, neck_ok = _mid(kpts, names["left_shoulder"], names["right_shoulder"])
    hip_xy, hip_ok = _mid(kpts, names["left_hip"], names["right_hip"])
    head_idx = [names[n] for n in ("left_ear", "right_ear", "nose") if n in names]
    if head_idx:
        head_v = kpts[:, head_idx, 2] > 0                        # (N, H)
        count = head_v.sum(axis=1)
        head_xy = (kpts[:, head_idx, :2] * head_v[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
        has_head = (count > 0) & neck_ok
        neck_xy = np.where(has_head[:, None], neck_xy + NECK_TOWARDS_HEAD * (head_xy - neck_xy), neck_xy)

    trunk_ok = neck_ok & hip_ok
    placements = [("neck", neck_xy, neck_ok), ("hip", hip_xy, hip_ok)]
    for j, name in enumerate(SPINE_CHAIN, start=1):
        t = j / (len(SPINE_CHAIN) + 1)
        placements.append((name, hip_xy + t * (neck_xy - hip_xy), trunk_ok))

    for name, xy, ok in placements:
        if name not in names:
            continue
        i = names[name]
        target = ok & (~(kpts[:, i, 2] > 0) if only_missing else True)
        kpts[target, i, :2] = xy[target]
        kpts[target, i, 2] = 1
        mask[target, i] = True
    return kpts, mask
