"""MediaPipe's region of interest for the landmark network: a rotated square, the 256 x 256 crop, its inverse.

Constants from the mediapipe 0.10.14 wheel's expanded PoseLandmarkCpu graph
(``pose_landmark_cpu.binarypb`` with its registered subgraphs):

- PoseDetectionToRoi: AlignmentPointsRectsCalculator with
  rotation_vector_start_keypoint_index 0 (hip centre), end index 1 (a point on
  the body's circle), target angle 90 degrees: centre = keypoint 0, side =
  2 x |kp1 - kp0|, rotation = 90 deg - atan2(-(y1 - y0), x1 - x0) (radians,
  normalised to [-pi, pi)); then RectTransformationCalculator scale_x =
  scale_y = 1.25, square_long: true.
- PoseLandmarkByRoiCpu: ImageToTensorCalculator 256 x 256, keep_aspect_ratio,
  float range [0, 1], border mode unspecified (= replicate on CPU).
- Landmarks go back by LandmarkProjectionCalculator: crop point n (0..1) ->
  image R(rotation) (n - 0.5) * side + centre, R = [[cos, -sin], [sin, cos]]
  in pixel axes (y down). A positive rotation turns the crop's "up" clockwise
  in the image: a body lying with its head to the right (rotation +90 deg)
  stands upright in the crop.

Geometry here uses ``mlcore.transforms``' pixel-index convention: the 2 x 3
matrix ``roi_matrix`` maps image pixels to crop pixels and
``apply_affine(points, invert_affine(m))`` maps crop points back exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..transforms import get_affine, invert_affine

CROP_SIZE = 256
ROI_SCALE = 1.25
TARGET_ANGLE = math.pi / 2
START_KEYPOINT, END_KEYPOINT = 0, 1


@dataclass(frozen=True)
class Roi:
    """A rotated square in image pixels: centre (x, y), side length, rotation in radians (MediaPipe's sign)."""

    center_x: float
    center_y: float
    size: float
    rotation: float = 0.0


def normalize_radians(angle: float) -> float:
    """An angle in [-pi, pi), as MediaPipe's NormalizeRadius."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def alignment_rotation(start: np.ndarray, end: np.ndarray, target: float = TARGET_ANGLE) -> float:
    """Rotation (radians) that brings the vector start -> end (pixels, (2,) each) to ``target`` (90 deg = up)."""
    return normalize_radians(target - math.atan2(-(float(end[1]) - float(start[1])), float(end[0]) - float(start[0])))


def roi_from_alignment(keypoints: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """MediaPipe's ROI from alignment points (K >= 2, 2) in pixels: kp0 = hip centre, kp1 on the body circle."""
    start, end = np.asarray(keypoints[START_KEYPOINT], float), np.asarray(keypoints[END_KEYPOINT], float)
    side = 2.0 * float(np.hypot(*(end - start))) * scale
    return Roi(float(start[0]), float(start[1]), side, alignment_rotation(start, end))


def roi_from_box(box: np.ndarray, rotation: float = 0.0, scale: float = ROI_SCALE) -> Roi:
    """A square ROI around a person box [x, y, w, h]: its centre, side = scale x the long side."""
    x, y, w, h = (float(v) for v in box)
    return Roi(x + w / 2, y + h / 2, scale * max(w, h), rotation)


def roi_matrix(roi: Roi, size: int = CROP_SIZE) -> np.ndarray:
    """2 x 3 matrix: image pixel -> crop pixel of a size x size crop (inverse of MediaPipe's projection)."""
    return get_affine((roi.center_x, roi.center_y), (roi.size, roi.size), math.degrees(roi.rotation), (size, size))


def crop_to_image(points: np.ndarray, roi: Roi, size: int = CROP_SIZE) -> np.ndarray:
    """Crop pixels (..., 2) -> image pixels, MediaPipe's LandmarkProjectionCalculator formula."""
    n = np.asarray(points, dtype=np.float64) / size - 0.5
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    x = (c * n[..., 0] - s * n[..., 1]) * roi.size + roi.center_x
    y = (s * n[..., 0] + c * n[..., 1]) * roi.size + roi.center_y
    return np.stack([x, y], axis=-1)


def warp_replicate(image: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """Bilinear warp of image (H, W, C) by the 2 x 3 matrix m into (size, size, C) float32, edge pixels replicated."""
    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape[:2]
    inv = invert_affine(m)
    u, v = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
    sx = np.clip(inv[0, 0] * u + inv[0, 1] * v + inv[0, 2], 0, w - 1)
    sy = np.clip(inv[1, 0] * u + inv[1, 1] * v + inv[1, 2], 0, h - 1)
    x0 = np.minimum(np.floor(sx).astype(np.int64), w - 2 if w > 1 else 0)
    y0 = np.minimum(np.floor(sy).astype(np.int64), h - 2 if h > 1 else 0)
    fx = (sx - x0).astype(np.float32)[..., None]
    fy = (sy - y0).astype(np.float32)[..., None]
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
    bottom = img[y1, x0] * (1 - fx) + img[y1, x1] * fx
    return np.asarray(top * (1 - fy) + bottom * fy, dtype=np.float32)


def crop_roi(image: np.ndarray, roi: Roi, size: int = CROP_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """The landmark network's input for ``roi``: image (H, W, 3) uint8 RGB -> (size, size, 3) float32 in [0, 1].

    Pixel values are rounded to 8 bits as MediaPipe's uint8 warp does. Also
    returns the 2 x 3 image-to-crop matrix.
    """
    m = roi_matrix(roi, size)
    crop = np.round(warp_replicate(image, m, size)) / 255.0
    return crop.astype(np.float32), m
