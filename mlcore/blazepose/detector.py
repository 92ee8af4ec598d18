"""BlazePose's person detector on a whole frame: SSD anchors, box and keypoint decoding, weighted NMS.

Options from the mediapipe 0.10.14 wheel's PoseDetectionCpu graph (expanded
from ``pose_landmark_cpu.binarypb``):

- ImageToTensorCalculator: 224 x 224, keep_aspect_ratio (letterbox), range [-1, 1], BORDER_ZERO.
- SsdAnchorsCalculator: input 224 x 224, num_layers 5, strides 8, 16, 32, 32, 32,
  aspect_ratios [1.0], anchor offsets 0.5, fixed_anchor_size, and the proto's
  default interpolated_scale_aspect_ratio 1.0 (two anchors per layer):
  28 x 28 x 2 + 14 x 14 x 2 + 7 x 7 x 6 = 2254 anchors.
- TensorsToDetectionsCalculator: 12 coords (box x, y, w, h then 4 keypoints x, y),
  x/y/w/h scale 224, reverse_output_order (x before y), sigmoid scores clipped at
  +-100, min_score_thresh 0.5.
- NonMaxSuppressionCalculator: WEIGHTED, IoU, min_suppression_threshold 0.3.

Keypoints: 0 hip centre, 1 a point on the full-body circle (the ROI's
alignment points), 2 shoulder centre, 3 a point on the upper-body circle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..transforms import apply_affine, get_affine, invert_affine, warp_affine
from .torch_builder import TFLiteModule

INPUT_SIZE = 224
STRIDES = (8, 16, 32, 32, 32)
NUM_KEYPOINTS = 4
MIN_SCORE = 0.5
NMS_IOU = 0.3
SCORE_CLIP = 100.0


@dataclass
class Detection:
    """One person: box (4,) [x, y, w, h] and keypoints (4, 2) in image pixels, score in 0..1."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float


def ssd_anchors(input_size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """Anchor centres (A, 2) [x, y] in 0..1, in MediaPipe's order (layers with one stride merged, 2 per layer)."""
    anchors: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        per_cell = 2 * (last - layer)     # aspect ratio 1.0 + the interpolated scale, per merged layer
        n = int(np.ceil(input_size / strides[layer]))
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(grid, per_cell, axis=0))
        layer = last
    return np.concatenate(anchors)


def decode(regressors: np.ndarray, score_logits: np.ndarray, anchors: np.ndarray,
           min_score: float = MIN_SCORE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw outputs (A, 12), (A, 1) -> boxes (D, 4) [xmin, ymin, xmax, ymax], keypoints (D, 4, 2), scores (D,).

    Coordinates are 0..1 of the 224 x 224 letterboxed input. Only scores >= min_score are kept.
    """
    raw = np.asarray(regressors, dtype=np.float64) / INPUT_SIZE
    scores = 1.0 / (1.0 + np.exp(-np.clip(np.asarray(score_logits, np.float64)[:, 0], -SCORE_CLIP, SCORE_CLIP)))
    keep = scores >= min_score
    raw, a, scores = raw[keep], anchors[keep], scores[keep]
    cx, cy = raw[:, 0] + a[:, 0], raw[:, 1] + a[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = raw[:, 4:4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) + a[:, None, :]
    return boxes, kps, scores


def _area(b: np.ndarray) -> np.ndarray:
    """Areas of boxes (..., 4) [xmin, ymin, xmax, ymax]."""
    return np.asarray(np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1), dtype=np.float64)


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with boxes (M, 4), all [xmin, ymin, xmax, ymax]."""
    lo = np.maximum(box[:2], others[:, :2])
    hi = np.minimum(box[2:], others[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    union = _area(box) + _area(others) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 threshold: float = NMS_IOU) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED non-max suppression: each cluster (IoU > threshold with the best remaining)
    becomes its score-weighted mean box and keypoints, keeping the best score. Best first."""
    order = list(np.argsort(-scores, kind="stable"))
    out = []
    while order:
        best = order[0]
        sim = _iou(boxes[best], boxes[order])
        members = [i for i, s in zip(order, sim) if s > threshold]
        order = [i for i, s in zip(order, sim) if s <= threshold]
        w = scores[members][:, None]
        box = (boxes[members] * w).sum(0) / w.sum()
        kps = (keypoints[members] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, kps, float(scores[best])))
        if not members:   # cannot happen (a box overlaps itself) unless it is empty; avoid looping forever
            order = order[1:]
    return out


class PoseDetector:
    """Whole-frame person detection with the detector network (a ``TFLiteModule`` from ``load_detector_net``)."""

    def __init__(self, net: TFLiteModule, min_score: float = MIN_SCORE) -> None:
        self.net = net.eval()
        self.anchors = ssd_anchors()
        self.min_score = min_score

    def letterbox_matrix(self, height: int, width: int) -> np.ndarray:
        """2 x 3 image -> 224 x 224 input matrix: the whole frame centred, aspect kept."""
        side = float(max(height, width))
        return get_affine((width / 2, height / 2), (side, side), 0.0, (INPUT_SIZE, INPUT_SIZE))

    def input_tensor(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """image (H, W, 3) uint8 RGB -> network input (224, 224, 3) float32 in [-1, 1] (border -1), and the matrix."""
        m = self.letterbox_matrix(*image.shape[:2])
        x = np.round(warp_affine(image, m, (INPUT_SIZE, INPUT_SIZE))) / 127.5 - 1.0
        return x.astype(np.float32), m

    def detect(self, image: np.ndarray) -> list[Detection]:
        """People in image (H, W, 3) uint8 RGB, best first; boxes and keypoints in image pixels."""
        x, m = self.input_tensor(image)
        with torch.no_grad():
            regressors, logits = self.net(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()))
        boxes, kps, scores = decode(regressors[0].numpy(), logits[0].numpy(), self.anchors, self.min_score)
        inv = invert_affine(m)
        out = []
        for box, kp, score in weighted_nms(boxes, kps, scores):
            corners = apply_affine(box.reshape(2, 2) * INPUT_SIZE, inv)
            out.append(Detection(box=np.concatenate([corners[0], corners[1] - corners[0]]),
                                 keypoints=apply_affine(kp * INPUT_SIZE, inv), score=score))
        return out
