"""Moving keypoint arrays between skeletons by keypoint name."""

from __future__ import annotations

import numpy as np

from .base import Skeleton, normalise_name


def remap_index(from_skel: Skeleton, to_skel: Skeleton) -> np.ndarray:
    """Source index of each target keypoint, -1 where the source lacks that name.

    Returns (K_to,) int array. Names are compared after ``normalise_name``, so a
    CVAT category's "Left Shoulder" matches the preset's "left_shoulder".
    """
    source = {normalise_name(n): i for i, n in enumerate(from_skel.keypoints)}
    return np.array([source.get(normalise_name(n), -1) for n in to_skel.keypoints], dtype=np.int64)


def remap(keypoints: np.ndarray, from_skel: Skeleton, to_skel: Skeleton) -> np.ndarray:
    """Keypoints of ``from_skel`` re-ordered into ``to_skel``, by name.

    keypoints: (K_from, C) or (N, K_from, C) (C is usually 3: x, y, v or score).
    Returns (K_to, C) or (N, K_to, C) float64; keypoints the source does not
    have come back as zeros, i.e. v = 0 "not labelled". Extra source points
    are dropped.
    """
    kpts = np.asarray(keypoints, dtype=np.float64)
    single = kpts.ndim == 2
    if single:
        kpts = kpts[None]
    if kpts.ndim != 3 or kpts.shape[1] != from_skel.num_keypoints:
        raise ValueError(f"expected (N, {from_skel.num_keypoints}, C) keypoints, got {np.shape(keypoints)}")
    index = remap_index(from_skel, to_skel)
    out = np.zeros((kpts.shape[0], to_skel.num_keypoints, kpts.shape[2]), dtype=np.float64)
    have = index >= 0
    out[:, have] = kpts[:, index[have]]
    return out[0] if single else out
