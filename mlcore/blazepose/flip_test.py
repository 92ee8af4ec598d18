"""The flip test of top-down pose models (HRNet, RTMPose) on cached crops, and the choice to predict with it.

The flip pass runs the backbone and the heads on each crop mirrored left-right; its decoded points are
swapped back to their left/right twins and un-mirrored. ``BlazePoseHeadsPredictor`` answers the mean of the
plain and the mirrored pass for a model whose model.json says ``flip_average``. Whether that helps depends
on the project's data, so a training run decides on its own held-out clips (``choose_flip_average``), never
on clips it is scored on later. ``crops.mirrored_features`` runs the backbone on a cache's mirrored crops;
this module holds only geometry and arithmetic, so the predictor can import it without the crop cache.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from ..metrics import oks
from ..skeletons import Skeleton
from ..transforms import apply_affine, invert_affine
from .heads import STRIDE, decode_heatmaps
from .models import INPUT_SIZE

# Crop pixel u -> INPUT_SIZE - u: the mirror about the ROI's centre (get_affine puts it at INPUT_SIZE / 2), so the
# mirrored crop holds exactly the pixels the predictor's flip pass crops from the mirrored frame.
MIRROR = np.array([[-1.0, 0.0, INPUT_SIZE], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def mirrored_matrix(m: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The image -> mirrored crop matrix (2, 3) of a crop's image -> crop matrix m (2, 3)."""
    full = np.vstack([m, [0.0, 0.0, 1.0]])
    return np.asarray(MIRROR @ full, dtype=np.float64)[:2]


def unmirror(heatmaps: npt.NDArray[np.float32] | npt.NDArray[np.float64], matrices: npt.NDArray[np.float64],
             flip_index: list[int], window: int = 5) -> npt.NDArray[np.float64]:
    """Keypoints (N, K, 3) in image pixels from heatmaps (N, K, 64, 64) of mirrored crops, whose image -> crop
    matrices (N, 2, 3) are the unmirrored crops': channel j of a mirrored crop is j's left/right twin."""
    dec = decode_heatmaps(heatmaps, window)[:, flip_index]
    for d, m in zip(dec, matrices, strict=True):
        d[:, :2] = apply_affine(d[:, :2] * STRIDE, invert_affine(mirrored_matrix(m)))
    return dec


def flip_rows(model: torch.nn.Module, features: np.ndarray, matrices: npt.NDArray[np.float64], flip_index: list[int],
              window: int = 5, batch: int = 64) -> npt.NDArray[np.float64]:
    """The mirrored pass of ``model`` (heads, or stage + heads) on ``crops.mirrored_features``: (N, K, 3)
    image pixels."""
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(features), batch):
            hm = model(torch.from_numpy(features[s:s + batch].astype(np.float32))).numpy()
            out.append(unmirror(hm, matrices[s:s + batch], flip_index, window))
    return np.concatenate(out) if out else np.zeros((0, len(flip_index), 3))


def averaged(plain: npt.NDArray[np.float64], mirrored: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The flip test's answer (N, K, 3): the mean of the plain and the mirrored pass, point by point."""
    return (plain + mirrored) / 2


def choose_flip_average(plain: npt.NDArray[np.float64], mirrored: npt.NDArray[np.float64],
                        keypoints: npt.NDArray[np.float64], areas: npt.NDArray[np.float64],
                        skeleton: Skeleton) -> dict[str, Any]:
    """Whether to predict with the flip test, by mean OKS on held-out frames (N frames, labels ``keypoints``
    (N, K, 3), ``areas`` (N,)): on only when it scores higher than the plain pass there."""
    plain_oks = float(np.nanmean(oks(plain, keypoints, areas, skeleton.sigma_array)))
    flip_oks = float(np.nanmean(oks(averaged(plain, mirrored), keypoints, areas, skeleton.sigma_array)))
    def rounded(v: float) -> float | None:  # None where no frame is labelled (JSON has no NaN)
        return round(v, 4) if np.isfinite(v) else None

    return {"flip_average": bool(flip_oks > plain_oks), "plain_mean_oks": rounded(plain_oks),
            "averaged_mean_oks": rounded(flip_oks), "frames": len(plain)}
