"""Pose normalisation for classifiers: centre, scale and facing direction.

A form classifier should not care where the lifter stands in the frame, how
far the camera is, or whether they face left or right; it should care about
the shape of the body, including how far the trunk leans, so rotation is kept.

- centre: the pelvis centre (mid-hips; one hip if only one is labelled; the
  mean of labelled points if neither).
- scale: the trunk length, mid-shoulders to mid-hips (one side stands in for a
  missing partner); where the trunk is missing, half the larger side of the box
  around the labelled points. The trunk is used because limbs move during a row
  and the box changes with the bar path, while the trunk length does not.
- facing: +1 if the person faces image-right, -1 if image-left. Side views of
  exercises make this well defined: the nose sits in front of the ears; without
  face points, the mean head/shoulder position in front of the hips decides.
  Left-facing poses are mirrored (x -> -x) and their left/right points swapped,
  exactly like flip augmentation, so every normalised pose faces right.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

import numpy as np

from .skeletons import Skeleton


@dataclass
class Normalisation:
    """What ``normalise_pose`` did, per pose: centre (N, 2), scale (N,), facing (N,) in {+1, -1}."""

    centre: np.ndarray
    scale: np.ndarray
    facing: np.ndarray


def _pair_mid(kpts: np.ndarray, names: dict[str, int], a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint of a left/right pair (or the labelled one). kpts (N, K, 3) -> xy (N, 2), ok (N,)."""
    n = kpts.shape[0]
    if a not in names or b not in names:
        return np.zeros((n, 2)), np.zeros(n, dtype=bool)
    ia, ib = names[a], names[b]
    va, vb = kpts[:, ia, 2] > 0, kpts[:, ib, 2] > 0
    xy = np.where((va & vb)[:, None], (kpts[:, ia, :2] + kpts[:, ib, :2]) / 2,
                  np.where(va[:, None], kpts[:, ia, :2], kpts[:, ib, :2]))
    return xy, va | vb


def _mean_of(kpts: np.ndarray, idx: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Mean xy of the labelled points among ``idx``. Returns (N, 2), ok (N,)."""
    if not idx:
        return np.zeros((kpts.shape[0], 2)), np.zeros(kpts.shape[0], dtype=bool)
    v = kpts[:, idx, 2] > 0
    count = v.sum(axis=1)
    xy = (kpts[:, idx, :2] * v[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
    return xy, count > 0


def facing_direction(keypoints: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """+1 where the person faces image-right, -1 where image-left. keypoints (N, K, 3) -> (N,).

    Nose ahead of the ears first; else head/shoulders ahead of the hips; else +1.
    """
    kpts = np.asarray(keypoints, dtype=np.float64)
    names = {n: i for i, n in enumerate(skeleton.keypoints)}
    facing = np.ones(kpts.shape[0])
    decided = np.zeros(kpts.shape[0], dtype=bool)
    if "nose" in names:
        nose_ok = kpts[:, names["nose"], 2] > 0
        ears, ears_ok = _mean_of(kpts, [names[n] for n in ("left_ear", "right_ear") if n in names])
        dx = kpts[:, names["nose"], 0] - ears[:, 0]
        use = nose_ok & ears_ok & (dx != 0)
        facing[use] = np.sign(dx[use])
        decided |= use
    upper, upper_ok = _mean_of(kpts, [names[n] for n in ("nose", "left_ear", "right_ear", "left_shoulder",
                                                          "right_shoulder") if n in names])
    hips, hips_ok = _pair_mid(kpts, names, "left_hip", "right_hip")
    dx = upper[:, 0] - hips[:, 0]
    use = ~decided & upper_ok & hips_ok & (dx != 0)
    facing[use] = np.sign(dx[use])
    return facing


def normalise_pose(keypoints: np.ndarray, skeleton: Skeleton, facing: bool = True
                   ) -> tuple[np.ndarray, Normalisation]:
    """Centre, scale and (optionally) mirror poses so they face right.

    keypoints: (N, K, 3) or (K, 3) [x, y, v-or-score] in pixels.
    Returns (normalised copy, same shape; x, y in trunk lengths from the pelvis
    centre; unlabelled points (v = 0) are set to 0, 0, 0) and the Normalisation.
    """
    kpts = np.array(keypoints, dtype=np.float64, copy=True)
    single = kpts.ndim == 2
    if single:
        kpts = kpts[None]
    if kpts.ndim != 3 or kpts.shape[1:] != (skeleton.num_keypoints, 3):
        raise ValueError(f"expected (N, {skeleton.num_keypoints}, 3) keypoints, got {np.shape(keypoints)}")
    names = {n: i for i, n in enumerate(skeleton.keypoints)}
    labelled = kpts[:, :, 2] > 0

    all_mean, _ = _mean_of(kpts, list(range(skeleton.num_keypoints)))
    hips, hips_ok = _pair_mid(kpts, names, "left_hip", "right_hip")
    centre = np.where(hips_ok[:, None], hips, all_mean)

    shoulders, sh_ok = _pair_mid(kpts, names, "left_shoulder", "right_shoulder")
    trunk = np.linalg.norm(shoulders - hips, axis=1)
    big = np.where(labelled[..., None], kpts[:, :, :2], np.nan)
    with np.errstate(all="ignore"), _quiet_nan():
        extent = np.nanmax(big, axis=1) - np.nanmin(big, axis=1)     # (N, 2)
    box_half = np.nan_to_num(np.max(extent, axis=1) / 2, nan=0.0)
    scale = np.where(sh_ok & hips_ok & (trunk > 1e-6), trunk, box_half)
    scale = np.where(scale > 1e-6, scale, 1.0)  # a single point: keep units, just centre it

    face = facing_direction(kpts, skeleton) if facing else np.ones(kpts.shape[0])
    out = kpts.copy()
    out[:, :, :2] = (kpts[:, :, :2] - centre[:, None, :]) / scale[:, None, None]
    left = face < 0
    if left.any():
        out[left, :, 0] *= -1
        out[left] = out[left][:, skeleton.flip_index]
    out[~(out[:, :, 2] > 0)] = 0.0
    norm = Normalisation(centre=centre, scale=scale, facing=face)
    return (out[0] if single else out), norm


class _quiet_nan:
    """Silence numpy's all-NaN-slice warning (frames with no labelled point)."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._ctx.__exit__(exc_type, exc, tb)
