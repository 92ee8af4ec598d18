"""Top-down training augmentation: box jitter, scale, rotation, flip (with flip pairs), colour.

Geometry is one affine per sample, so keypoints follow the pixels exactly.
A horizontal flip mirrors the crop; the person's left side then looks like a
right side, so keypoint i of the target is source keypoint flip_index[i].
Some samples use the whole frame as the box, because unlabelled frames are
predicted without a detector (the frame is the box).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..transforms import Vector, apply_affine, bbox_to_center_scale, get_affine, warp_affine


@dataclass
class AugmentConfig:
    flip: float = 0.5            # probability of a horizontal flip
    scale: tuple[float, float] = (0.75, 1.25)
    rotation: float = 30.0       # degrees, uniform in +-rotation ...
    rotation_prob: float = 0.6   # ... applied with this probability
    shift: float = 0.08          # centre shift, std as a fraction of the box size
    full_frame: float = 0.25     # probability of using the whole frame as the box
    colour: float = 0.2          # brightness / contrast jitter amplitude
    padding: float = 1.25

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def crop_sample(image: npt.NDArray[np.uint8], keypoints: npt.ArrayLike, bbox: Vector, input_size: tuple[int, int],
                flip_index: list[int], rng: np.random.Generator | None,
                cfg: AugmentConfig) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """One training crop.

    image (H, W, 3) uint8; keypoints (K, 3) [x, y, v] in image pixels; bbox [x, y, w, h].
    rng None means no augmentation (validation). Returns crop (H_in, W_in, 3)
    float32 RGB 0..255 and keypoints (K, 3) in crop pixels (v unchanged).
    """
    w_in, h_in = input_size
    kp = np.asarray(keypoints, dtype=np.float64).copy()
    box = np.asarray(bbox, dtype=np.float64)
    rot, flip = 0.0, False
    if rng is not None and rng.random() < cfg.full_frame:
        box = np.array([0.0, 0.0, image.shape[1], image.shape[0]])
    center, scale = bbox_to_center_scale(box, w_in / h_in, cfg.padding)
    if rng is not None:
        center = center + rng.normal(0.0, cfg.shift, 2).clip(-2.5 * cfg.shift, 2.5 * cfg.shift) * box[2:4]
        scale = scale * rng.uniform(*cfg.scale)
        if rng.random() < cfg.rotation_prob:
            rot = rng.uniform(-cfg.rotation, cfg.rotation)
        flip = rng.random() < cfg.flip
    m = get_affine(center, scale, rot, input_size, flip=flip)
    crop = warp_affine(image, m, input_size)
    kp[:, :2] = apply_affine(kp[:, :2], m)
    if flip:
        kp = kp[flip_index]
    if rng is not None and cfg.colour > 0:
        alpha = 1.0 + rng.uniform(-cfg.colour, cfg.colour)       # contrast
        beta = 255.0 * rng.uniform(-cfg.colour, cfg.colour) / 2   # brightness
        crop = np.clip(crop * alpha + beta, 0, 255)
    return crop.astype(np.float32), kp
