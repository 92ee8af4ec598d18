"""Test-time views of a crop (mirrored, zoomed) and their heatmaps brought back onto the plain crop's grid.

Top-down pose models are often scored on several views of each person crop: the crop mirrored
left-right (the flip test) and the crop's ROI scaled a little about its centre (multi-scale testing).
``flip_test`` averages the mirrored pass point by point, after decoding. Here each view's heatmap is
resampled onto the plain crop's 64 x 64 grid instead, and the views' probabilities are averaged before
decoding, as HRNet's and RTMPose's flip tests do: where two views disagree (an occluded wrist, a
left/right confusion) the mean heatmap keeps the stronger mode rather than the midpoint between them.

A view is a 3 x 3 matrix T from plain crop pixels to the view's crop pixels: the view's image -> crop
matrix is T @ m for the plain crop's m (2 x 3). Heatmap cell c sits at crop pixel STRIDE x c
(``heads.decode_heatmaps``), so plain cell c reads the view's map at cell T(STRIDE c) / STRIDE.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor

from .flip_test import MIRROR, averaged
from .heads import HEATMAP_SIZE, STRIDE, decode_rows
from .models import INPUT_SIZE

PLAIN = np.eye(3)
MIRRORED = MIRROR  # crop pixel u -> INPUT_SIZE - u (flip_test.MIRROR)


def zoom(scale: float) -> npt.NDArray[np.float64]:
    """The view (3, 3) whose ROI is ``scale`` times the plain ROI's side about the same centre (> 1: zoom out)."""
    c = INPUT_SIZE / 2
    return np.array([[1 / scale, 0.0, c * (1 - 1 / scale)], [0.0, 1 / scale, c * (1 - 1 / scale)], [0.0, 0.0, 1.0]])


def view_matrix(view: npt.NDArray[np.float64], m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The view's image -> crop matrix (2, 3) from the plain crop's m (2, 3)."""
    return np.asarray(view @ np.vstack([m, [0.0, 0.0, 1.0]]), dtype=np.float64)[:2]


def is_mirror(view: npt.NDArray[np.float64]) -> bool:
    """Whether the view mirrors the crop (its heatmap channels are then the left/right twins')."""
    return bool(np.linalg.det(view[:2, :2]) < 0)


def to_plain_grid(log_probs: Tensor, view: npt.NDArray[np.float64], flip_index: list[int] | None = None) -> Tensor:
    """A view's heatmaps as probabilities on the plain crop's grid.

    log_probs (N, K, 64, 64): the view's log-softmax maps (or logits: they are normalised here).
    Returns (N, K, 64, 64) probabilities, scaled by the view's area change so that a point inside both
    crops keeps a mass of about 1 (less where the view does not see it). A mirroring view's channel j is
    read as its twin ``flip_index[j]``'s.
    """
    n, k, h, w = log_probs.shape
    prob = torch.softmax(log_probs.reshape(n, k, h * w).float(), dim=-1).reshape(n, k, h, w)
    if is_mirror(view):
        if flip_index is None:
            raise ValueError("a mirroring view needs the skeleton's flip_index")
        prob = prob[:, flip_index]
    cells = torch.arange(HEATMAP_SIZE, dtype=torch.float64)
    gy, gx = torch.meshgrid(cells, cells, indexing="ij")
    t = torch.from_numpy(view)
    vx = (t[0, 0] * gx * STRIDE + t[0, 1] * gy * STRIDE + t[0, 2]) / STRIDE
    vy = (t[1, 0] * gx * STRIDE + t[1, 1] * gy * STRIDE + t[1, 2]) / STRIDE
    grid = torch.stack([vx / (w - 1) * 2 - 1, vy / (h - 1) * 2 - 1], dim=-1).float()  # align_corners=True
    out = F.grid_sample(prob.reshape(n, k, h, w), grid[None].expand(n, h, w, 2), mode="bilinear",
                        padding_mode="zeros", align_corners=True)
    return out * float(abs(np.linalg.det(view[:2, :2])))  # view cells per plain cell, squared


def views_mean_logits(log_probs: list[Tensor], views: list[npt.NDArray[np.float64]],
                      flip_index: list[int] | None = None) -> Tensor:
    """Several views' maps, each (N, K, 64, 64) -> (N, K, 64, 64) log of their mean probability on the plain
    grid (any softmax decoder reads it as the mean heatmap)."""
    mean = torch.stack([to_plain_grid(lp, v, flip_index) for lp, v in zip(log_probs, views, strict=True)]).mean(0)
    return torch.log(mean.clamp_min(1e-12))


# The views a model may be read on, and the rules that combine them. The zoom factors (ROI side x 0.9 and
# x 1.1) were fixed before any measurement; each training chooses its rule on its own held-out clips.
VIEWS: dict[str, npt.NDArray[np.float64]] = {"plain": PLAIN, "mirror": MIRRORED, "zoom0.9": zoom(0.9),
                                             "zoom1.1": zoom(1.1)}
RULES: dict[str, tuple[str, ...]] = {
    "plain": ("plain",),
    "flip_points": ("plain", "mirror"),       # the plain and the mirrored pass decoded, then averaged
    "flip_maps": ("plain", "mirror"),         # their heatmaps averaged, then decoded
    "zoom": ("plain", "zoom0.9", "zoom1.1"),
    "zoom_flip_maps": ("plain", "mirror", "zoom0.9", "zoom1.1"),
}


def view_keypoints(name: str, log_probs: Tensor, matrices: npt.NDArray[np.float64], flip_index: list[int],
                   window: int = 5) -> npt.NDArray[np.float64]:
    """One view's heatmaps (N, K, 64, 64) decoded on the plain grid: keypoints (N, K, 3) in image pixels."""
    if name == "plain":
        return decode_rows(log_probs.numpy(), matrices, window)
    on_plain = torch.log(to_plain_grid(log_probs, VIEWS[name], flip_index).clamp_min(1e-12))
    return decode_rows(on_plain.numpy(), matrices, window)


def rule_keypoints(rule: str, log_probs: dict[str, Tensor], matrices: npt.NDArray[np.float64],
                   flip_index: list[int], window: int = 5) -> npt.NDArray[np.float64]:
    """Keypoints (N, K, 3) [x, y, score] in image pixels by ``rule`` from each view's heatmaps (N, K, 64, 64)
    (log-probabilities or logits, keyed by view name; at least the rule's views) and the plain crops'
    image -> crop matrices (N, 2, 3)."""
    if rule not in RULES:
        raise ValueError(f"unknown test-time rule {rule!r} (one of {', '.join(RULES)})")
    views = RULES[rule]
    if rule == "plain":
        return view_keypoints("plain", log_probs["plain"], matrices, flip_index, window)
    if rule == "flip_points":
        return averaged(view_keypoints("plain", log_probs["plain"], matrices, flip_index, window),
                        view_keypoints("mirror", log_probs["mirror"], matrices, flip_index, window))
    mean = views_mean_logits([log_probs[v] for v in views], [VIEWS[v] for v in views], flip_index)
    return decode_rows(mean.numpy(), matrices, window)
