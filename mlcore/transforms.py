"""Top-down crop geometry: box -> centre/scale, affine matrices, warping, mapping points.

Conventions (the ones MMPose/RTMPose use with cv2.warpAffine, so models
trained there decode here the same way): coordinates are pixel indices, so
output pixel (u, v) samples the source at ``inverse(M) @ (u, v, 1)``; a point
decoded at input-space (x, y) maps back through the same inverse matrix.
Warping is bilinear with a black (0) border, done in numpy because OpenCV is
not a dependency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

# A short vector of numbers: a box [x, y, w, h], a centre (2,), a crop size (2,).
Vector = Sequence[float] | npt.NDArray[Any]


def bbox_to_center_scale(bbox: Vector, aspect_ratio: float,
                         padding: float = 1.25) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Centre (2,) and crop size (2,) = (w, h) of a box [x, y, w, h].

    The box grows by ``padding`` and then along one side until w / h equals
    ``aspect_ratio`` (model input width / height), so the person is never squashed.
    """
    x, y, w, h = (float(v) for v in bbox)
    center = np.array([x + w / 2, y + h / 2])
    w, h = w * padding, h * padding
    if w > aspect_ratio * h:
        h = w / aspect_ratio
    else:
        w = h * aspect_ratio
    return center, np.array([w, h])


def get_affine(center: Vector, scale: Vector, rotation: float, output_size: tuple[int, int],
               flip: bool = False) -> npt.NDArray[np.float64]:
    """2x3 matrix taking source pixels to crop pixels.

    center (2,), scale (2,) = crop size in source pixels (only its width sets
    the zoom; the height follows from the aspect ratio), rotation in degrees
    (positive turns the person anticlockwise in the crop), output_size (W, H).
    flip mirrors the crop horizontally (u -> W - 1 - u).
    """
    out_w, out_h = output_size
    s = out_w / float(scale[0])
    t = math.radians(rotation)
    cos, sin = math.cos(t), math.sin(t)
    lin = s * np.array([[cos, sin], [-sin, cos]])
    dst_center = np.array([out_w * 0.5, out_h * 0.5])
    trans = dst_center - lin @ np.asarray(center, dtype=np.float64)
    m = np.hstack([lin, trans[:, None]])
    if flip:
        m = np.array([[-1.0, 0.0, out_w - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
    return m


def invert_affine(m: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Inverse of a 2x3 affine matrix."""
    full = np.vstack([np.asarray(m, dtype=np.float64), [0, 0, 1]])
    return np.linalg.inv(full)[:2]


def apply_affine(points: npt.ArrayLike, m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Map points (..., 2) through a 2x3 matrix."""
    pts = np.asarray(points, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


def warp_affine(image: npt.ArrayLike, m: npt.NDArray[np.float64],
                output_size: tuple[int, int]) -> npt.NDArray[np.float32]:
    """Bilinear warp of image (H, W, C) by the 2x3 matrix m into (out_H, out_W, C) float32.

    Pixels that fall outside the source are 0, like cv2.BORDER_CONSTANT.
    """
    out_w, out_h = output_size
    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2:
        img = img[..., None]
    h, w = img.shape[:2]
    inv = invert_affine(m)
    u, v = np.meshgrid(np.arange(out_w, dtype=np.float64), np.arange(out_h, dtype=np.float64))
    sx = inv[0, 0] * u + inv[0, 1] * v + inv[0, 2]
    sy = inv[1, 0] * u + inv[1, 1] * v + inv[1, 2]
    x0 = np.floor(sx).astype(np.int64)
    y0 = np.floor(sy).astype(np.int64)
    fx = (sx - x0).astype(np.float32)[..., None]
    fy = (sy - y0).astype(np.float32)[..., None]
    out = np.zeros((out_h, out_w, img.shape[2]), dtype=np.float32)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            vals = img[np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
            out += np.where(ok[..., None], vals, 0) * (wx * wy)
    return out
