"""SimCC codec: 1-D classification targets per axis (RTMPose), kept apart from networks.

An input of W x H pixels gets W*r x-bins and H*r y-bins (split ratio r, 2.0 in
RTMPose). Decoding takes the argmax bin / r as the input-space coordinate and
the smaller of the two maxima as the keypoint score. Training targets are
un-normalised Gaussians with peak 1, so a network trained on them (with
RTMPose's KL loss on softmax(beta * logits)) outputs logits whose maxima are
comparable to a 0..1 confidence.
"""

from __future__ import annotations

import numpy as np


def decode(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float = 2.0) -> np.ndarray:
    """simcc_x (N, K, Wx), simcc_y (N, K, Wy) -> (N, K, 3) [x, y, score] in input pixels.

    score = min(max_x, max_y); a keypoint whose score is <= 0 gets score 0
    (RTMPose's convention for "not found").
    """
    sx = np.asarray(simcc_x, dtype=np.float64)
    sy = np.asarray(simcc_y, dtype=np.float64)
    x = np.argmax(sx, axis=-1).astype(np.float64) / split_ratio
    y = np.argmax(sy, axis=-1).astype(np.float64) / split_ratio
    score = np.minimum(sx.max(axis=-1), sy.max(axis=-1))
    score = np.where(score > 0, score, 0.0)
    return np.stack([x, y, score], axis=-1)


def encode(keypoints: np.ndarray, input_size: tuple[int, int], split_ratio: float = 2.0,
           sigma: tuple[float, float] = (4.9, 5.66)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training targets for keypoints (N, K, 3) [x, y, v] in input pixels (crop space).

    input_size: (W, H). sigma: Gaussian width in bins for x and y (RTMPose's
    defaults for 256x192, scaled by the caller for other sizes).
    Returns target_x (N, K, W*r), target_y (N, K, H*r) float32 with peak 1,
    and weights (N, K) float32: 1 where the point is labelled and inside the crop.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    w, h = input_size
    bx, by = int(round(w * split_ratio)), int(round(h * split_ratio))
    mu_x = kp[..., 0] * split_ratio
    mu_y = kp[..., 1] * split_ratio
    gx = np.arange(bx, dtype=np.float64)
    gy = np.arange(by, dtype=np.float64)
    tx = np.exp(-((gx - mu_x[..., None]) ** 2) / (2 * sigma[0] ** 2))
    ty = np.exp(-((gy - mu_y[..., None]) ** 2) / (2 * sigma[1] ** 2))
    inside = (kp[..., 0] >= 0) & (kp[..., 0] <= w - 1) & (kp[..., 1] >= 0) & (kp[..., 1] <= h - 1)
    weight = ((kp[..., 2] > 0) & inside).astype(np.float32)
    return tx.astype(np.float32), ty.astype(np.float32), weight
