"""Trainable heatmap heads for any project skeleton on BlazePose's 64 x 64 features, their decoding, and the
whole network (backbone + heads) that is exported to ONNX.

``KeypointHeads``: features (N, 48, 64, 64) -> heatmap logits (N, K, 64, 64), the sum of

- ``base``: a 1 x 1 convolution initialised, for each project keypoint whose name BlazePose has
  (COCO-17, SpineTrack's heels and big toes via ``LANDMARK_ALIASES``), with BlazePose's own heatmap
  channel for that landmark, and zero for points it lacks (a spine point, a custom point);
- ``refine``: on the features average-pooled to 32 x 32, two 3 x 3 convolutions (hidden channels, ReLU,
  the second dilated) and a 1 x 1 output convolution initialised to zero, upsampled bilinearly to 64 x 64,
  so training starts from BlazePose's heatmaps exactly and learns the project's conventions and new
  points as a residual. (At 32 x 32 a training step costs about a third of the same layers at 64 x 64 on
  CPU, and the full-resolution base keeps BlazePose's precision.)

A heatmap cell (i, j) is crop point (4 j, 4 i) of the 256 x 256 crop (MediaPipe's refinement scale,
``STRIDE`` = 4). Training targets are 2-D Gaussians normalised to sum 1; the loss is the cross-entropy
of the softmax over the 64 x 64 cells (``heatmap_loss``). ``decode_heatmaps`` takes the arg-max cell
and the softmax-weighted mean of a ``window`` x ``window`` neighbourhood (sub-cell position); its score is
the probability mass of that window (0..1).

``PoseNetWithHeads``: crop (N, 3, 256, 256) RGB in [0, 1] -> (heatmaps (N, K, 64, 64), presence (N, 1),
landmarks (N, 195)); the landmarks and presence are BlazePose's own, used for the ROI rotation
fallback and the presence threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..skeletons import MEDIAPIPE33, Skeleton, normalise_name
from ..transforms import apply_affine, invert_affine
from .models import FEATURE_CHANNELS, INPUT_SIZE, BlazePoseLandmarkNet

HEATMAP_SIZE = 64
STRIDE = INPUT_SIZE // HEATMAP_SIZE
HEATMAP_CONV = "233"          # the 1 x 1 convolution of pose_landmark_full.tflite that writes the 39 heatmaps

# Project keypoint names whose BlazePose landmark has another name (SpineTrack's feet).
LANDMARK_ALIASES = {"left_heel": "left_heel", "right_heel": "right_heel",
                    "left_big_toe": "left_foot_index", "right_big_toe": "right_foot_index"}


def landmark_index(skeleton: Skeleton, mirrored: bool = False) -> npt.NDArray[np.int64]:
    """(K,) BlazePose landmark index (0..32) of each keypoint of ``skeleton`` by name, -1 where it has none.

    mirrored: each left/right point takes its twin's landmark (left_wrist <- BlazePose's right wrist), for
    labels that name sides as a mirror does (BlazePose's are the person's own)."""
    names = {normalise_name(n): i for i, n in enumerate(MEDIAPIPE33.keypoints)}
    out = []
    for n in skeleton.keypoints:
        key = normalise_name(n)
        out.append(names.get(LANDMARK_ALIASES.get(key, key), -1))
    index = np.asarray(out, dtype=np.int64)
    return index[skeleton.flip_index] if mirrored else index


class KeypointHeads(nn.Module):
    """Heatmap logits for K keypoints from features (N, 48, 64, 64); see the module docstring."""

    source: Tensor

    def __init__(self, num_keypoints: int, hidden: int = 32, source: npt.NDArray[np.int64] | None = None) -> None:
        super().__init__()
        self.num_keypoints, self.hidden = num_keypoints, hidden
        self.base = nn.Conv2d(FEATURE_CHANNELS, num_keypoints, 1)
        self.refine = nn.Sequential(
            nn.Conv2d(FEATURE_CHANNELS, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(hidden, num_keypoints, 1))
        out = self.refine[-1]
        assert isinstance(out, nn.Conv2d) and out.bias is not None and self.base.bias is not None
        for p in (self.base.weight, self.base.bias, out.weight, out.bias):
            nn.init.zeros_(p)
        self.register_buffer("source", torch.as_tensor(
            source if source is not None else np.full(num_keypoints, -1), dtype=torch.int64))

    def init_from_blazepose(self, net: BlazePoseLandmarkNet, source: npt.NDArray[np.int64]) -> None:
        """Copy BlazePose's heatmap channel ``source[k]`` into base channel k (k with source[k] >= 0)."""
        conv = net.graph.convs[HEATMAP_CONV]
        assert isinstance(conv, nn.Conv2d) and conv.bias is not None and self.base.bias is not None
        with torch.no_grad():
            for k, s in enumerate(np.asarray(source).tolist()):
                if s >= 0:
                    self.base.weight[k].copy_(conv.weight[s])
                    self.base.bias[k].copy_(conv.bias[s])
            self.source.copy_(torch.as_tensor(source, dtype=torch.int64))

    def learned(self) -> npt.NDArray[np.bool_]:
        """(K,) True for keypoints these heads predict: a BlazePose channel to start from, or output weights
        that training moved off zero. A point no training frame labelled keeps a flat heatmap, whose arg-max
        is a corner of the crop, not a prediction."""
        out = self.refine[-1]
        assert isinstance(out, nn.Conv2d) and out.bias is not None and self.base.bias is not None
        with torch.no_grad():
            moved = (self.base.weight.flatten(1).abs().sum(1) + self.base.bias.abs()
                     + out.weight.flatten(1).abs().sum(1) + out.bias.abs()) > 0
        return np.asarray((self.source >= 0).cpu().numpy() | moved.cpu().numpy(), dtype=bool)

    def forward(self, features: Tensor) -> Tensor:
        """features (N, 48, 64, 64) -> heatmap logits (N, K, 64, 64)."""
        coarse: Tensor = self.refine(F.avg_pool2d(features, 2))
        base: Tensor = self.base(features)
        return base + F.interpolate(coarse, size=features.shape[-2:], mode="bilinear",
                                                   align_corners=False)

    def config(self) -> dict[str, Any]:
        return {"num_keypoints": self.num_keypoints, "hidden": self.hidden}


class PoseNetWithHeads(nn.Module):
    """BlazePose backbone + heads: crop (N, 3, 256, 256) in [0, 1] -> (heatmaps, presence, landmarks)."""

    def __init__(self, net: BlazePoseLandmarkNet, heads: KeypointHeads) -> None:
        super().__init__()
        self.net, self.heads = net, heads

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        out = self.net.run(x)
        heatmaps: Tensor = self.heads(out.features)
        return heatmaps, out.presence, out.landmarks.reshape(x.shape[0], -1)


def gaussian_targets(points: npt.NDArray[np.float64], sigma: float = 1.5,
                     size: int = HEATMAP_SIZE) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Targets for points (N, K, 3) [x, y, v] in heatmap cells: (N, K, size, size) Gaussians summing to 1,
    and weights (N, K): 1 where v > 0 and the point lies within the map (half a cell of slack), else 0."""
    n, k = points.shape[:2]
    grid = np.arange(size, dtype=np.float32)
    x = points[..., 0].astype(np.float32)[..., None]
    y = points[..., 1].astype(np.float32)[..., None]
    gx = np.exp(-((grid - x) ** 2) / (2 * sigma ** 2))                      # (N, K, size)
    gy = np.exp(-((grid - y) ** 2) / (2 * sigma ** 2))
    target = gy[..., :, None] * gx[..., None, :]
    total = target.reshape(n, k, -1).sum(-1)
    inside = (points[..., 0] >= -0.5) & (points[..., 0] <= size - 0.5) & (points[..., 1] >= -0.5) \
        & (points[..., 1] <= size - 0.5)
    weight = ((points[..., 2] > 0) & inside & (total > 1e-6)).astype(np.float32)
    target = target / np.maximum(total, 1e-12)[..., None, None]
    return target.astype(np.float32), weight


def heatmap_loss(logits: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Cross-entropy of softmax(logits) over the cells against target distributions, weighted per keypoint.

    logits, target (N, K, H, W); weight (N, K). Returns a scalar.
    """
    log_p = F.log_softmax(logits.flatten(2), dim=-1)
    ce = -(target.flatten(2) * log_p).sum(-1)
    return (ce * weight).sum() / weight.sum().clamp_min(1.0)


def decode_heatmaps(logits: npt.NDArray[np.float32] | npt.NDArray[np.float64],
                    window: int = 5) -> npt.NDArray[np.float64]:
    """Heatmap logits (N, K, H, W) -> (N, K, 3) [x, y, score], x/y in cells, score = window probability mass."""
    hm = np.asarray(logits, dtype=np.float64)
    n, k, h, w = hm.shape
    flat = hm.reshape(n, k, -1)
    flat = flat - flat.max(-1, keepdims=True)
    prob = np.exp(flat)
    prob /= prob.sum(-1, keepdims=True)
    prob = prob.reshape(n, k, h, w)
    best = prob.reshape(n, k, -1).argmax(-1)
    rows, cols = best // w, best % w
    off = window // 2
    out = np.zeros((n, k, 3))
    for i in range(n):
        for j in range(k):
            r, c = int(rows[i, j]), int(cols[i, j])
            r0, r1, c0, c1 = max(0, r - off), min(h, r + off + 1), max(0, c - off), min(w, c + off + 1)
            p = prob[i, j, r0:r1, c0:c1]
            mass = float(p.sum())
            rr, cc = np.mgrid[r0:r1, c0:c1]
            out[i, j] = [(cc * p).sum() / mass, (rr * p).sum() / mass, mass]
    return out


def decode_rows(heatmaps: npt.NDArray[np.float32] | npt.NDArray[np.float64], matrices: npt.NDArray[np.float64],
                window: int = 5) -> npt.NDArray[np.float64]:
    """Keypoints (N, K, 3) [x, y, score] in image pixels from crop heatmaps (N, K, 64, 64) and their
    image -> crop matrices (N, 2, 3). Logits and log-probabilities decode alike (softmax is shift-invariant).
    """
    dec = decode_heatmaps(heatmaps, window)
    for d, m in zip(dec, matrices, strict=True):
        d[:, :2] = apply_affine(d[:, :2] * STRIDE, invert_affine(m))
    return dec
