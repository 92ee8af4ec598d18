"""What keypoint training shares whatever the network: the settings, the samples loaded from COCO, the
held-out report and the learning-rate schedule. Both the from-scratch trainer (``training.keypoints``)
and BlazePose's heads (``blazepose.training``) import from here, so neither imports the other."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import coco, metrics
from ..blazepose.head_config import HeadTrainConfig
from ..images import load_rgb
from ..skeletons import Skeleton
from .augment import AugmentConfig


@dataclass
class KeypointTrainConfig:
    epochs: int = 150
    batch_size: int = 16                        # small batches: more steps per epoch on a few hundred frames
    lr: float = 3e-3
    weight_decay: float = 1e-4
    # (W, H). 64 x 96 over 48 x 64: same mean OKS, more frames over OKS 0.5 (0.63 vs 0.57 on
    # barbell-row held-out clips), still about a second per CPU epoch (docs/mlcore.md).
    input_size: tuple[int, int] = (64, 96)
    width: int = 24
    hidden: int = 128
    dropout: float = 0.1
    split_ratio: float = 2.0
    beta: float = 10.0                          # RTMPose KL loss temperature
    sigma: tuple[float, float] | None = None    # SimCC target widths in bins; None scales RTMPose's to the input
    patience: int = 40                          # early stopping (needs a validation set)
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # "scratch": KeypointNet above; "blazepose": heads on BlazePose's pretrained backbone (settings in
    # ``head``); "auto": blazepose when its model files are found, else scratch.
    backbone: str = "scratch"
    head: HeadTrainConfig = field(default_factory=HeadTrainConfig)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["augment"] = self.augment.to_dict()
        d["head"] = self.head.to_dict()
        return d


@dataclass
class KeypointSamples:
    """Frames in memory: images (list of (H, W, 3) uint8), keypoints (N, K, 3), bboxes (N, 4), areas (N,)."""

    images: list[npt.NDArray[np.uint8]]
    keypoints: npt.NDArray[np.float64]
    bboxes: npt.NDArray[np.float64]
    areas: npt.NDArray[np.float64]
    image_ids: npt.NDArray[np.int64]
    missing: int


def load_samples(data: dict[str, Any], images_dir: str | os.PathLike[str], skeleton: Skeleton) -> KeypointSamples:
    """Annotations of ``data`` with their frames; annotations whose frame file is missing are skipped."""
    table = coco.keypoint_table(data, skeleton)
    index = coco.ImageIndex(images_dir)
    files = {i["id"]: i["file_name"] for i in data["images"]}
    cache: dict[int, npt.NDArray[np.uint8]] = {}
    keep: list[int] = []
    missing = 0
    for row, iid in enumerate(table.image_ids.tolist()):
        if iid not in cache:
            path = index.find(files[iid])
            if path is None:
                missing += 1
                continue
            cache[iid] = load_rgb(path)
        keep.append(row)
    return KeypointSamples(images=[cache[int(table.image_ids[r])] for r in keep], keypoints=table.keypoints[keep],
                           bboxes=table.bboxes[keep], areas=table.areas[keep], image_ids=table.image_ids[keep],
                           missing=missing)


def keypoint_report(pred: npt.NDArray[np.float64], samples: KeypointSamples, skeleton: Skeleton) -> dict[str, Any]:
    """Mean OKS, OKS >= 0.5 share, PCK@0.05/0.1, pixel errors (overall and per keypoint) for (N, K, 3) predictions."""
    o = metrics.oks(pred, samples.keypoints, samples.areas, skeleton.sigma_array)
    pck05, _ = metrics.pck(pred, samples.keypoints, samples.bboxes, 0.05)
    pck10, _ = metrics.pck(pred, samples.keypoints, samples.bboxes, 0.1)
    err, per = metrics.pixel_error(pred, samples.keypoints)
    ks = metrics.oks_per_keypoint(pred, samples.keypoints, samples.areas, skeleton.sigma_array)
    with warnings.catch_warnings():  # a keypoint nobody labelled (a spine point) has no OKS: NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        per_oks = np.nanmean(np.where(np.isnan(ks), np.nan, ks), axis=0) if len(ks) else np.array([])
    return {
        "n": int(len(o)),
        "mean_oks": float(np.nanmean(o)) if len(o) else float("nan"),
        "oks_ge_0.5": float(np.mean(o >= 0.5)) if len(o) else float("nan"),
        "pck@0.05": pck05, "pck@0.1": pck10,
        "mean_pixel_error": err,
        "per_keypoint_pixel_error": {n: _r(v) for n, v in zip(skeleton.keypoints, per, strict=True)},
        # per_oks is empty when there are no predictions, so the pairs stop there
        "per_keypoint_oks": {n: _r(v) for n, v in zip(skeleton.keypoints, per_oks, strict=False)},
    }


def _r(v: float | None) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 4)


def lr_factor(step: int, total: int, warmup: float = 0.05) -> float:
    """Linear warm-up over the first 5% of steps, then cosine decay to 0.

    A pure function of the step, so resuming is exact.
    """
    w = max(1, int(warmup * total))
    if step < w:
        return (step + 1) / w
    return float(0.5 * (1 + np.cos(np.pi * min(1.0, (step - w) / max(1, total - w)))))
