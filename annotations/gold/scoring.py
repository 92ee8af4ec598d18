"""Scoring a person's keypoints and form label against a gold frame: per-keypoint OKS with the project's
sigmas (mlcore.metrics, COCO's formula), pixel error and form-label agreement."""

from __future__ import annotations

import math

import numpy as np

from mlcore import metrics


def _points(flat: list, K: int) -> np.ndarray:
    """(K, 3) from a flat [x, y, v] list, padded with unlabelled points (a shorter list: an older skeleton)."""
    kp = [float(v) for v in list(flat or [])[: 3 * K]]
    kp += [0.0, 0.0, 0.0] * (K - len(kp) // 3)
    return np.asarray(kp, dtype=np.float64).reshape(K, 3)


def _rounded(values: np.ndarray, digits: int) -> list[float | None]:
    return [None if not math.isfinite(v) else round(float(v), digits) for v in values]


def score(keypoints: list, form_label: str | None, gold_keypoints: list, gold_area: float,
          gold_form_label: str | None, sigmas) -> dict:
    """How close `keypoints` (flat 3K) and `form_label` come to the gold.

    oks_per_keypoint: COCO's per-keypoint similarity with the gold's area as scale; None where the gold
    has no point; 0 where the gold has one and the person placed none. oks: their mean (None when the
    gold has no point). pixel_error: mean distance over points both placed (None when there are none),
    with the per-keypoint distances. missed / extra: gold points not placed / points placed where the
    gold has none. form_agreement: same label as the gold (None when the gold has no label).
    """
    sigmas = np.asarray(sigmas, dtype=np.float64)
    K = len(sigmas)
    mine, gold = _points(keypoints, K), _points(gold_keypoints, K)
    in_gold, placed = gold[:, 2] > 0, mine[:, 2] > 0
    area = float(gold_area) if gold_area and gold_area > 0 else _box_area(gold)
    ks = metrics.oks_per_keypoint(mine[None], gold[None], np.array([area]), sigmas)[0]
    ks = np.where(in_gold & ~placed, 0.0, ks)
    both = in_gold & placed
    masked = gold.copy()
    masked[~both, 2] = 0  # pixel error only where both placed a point
    pixel, _ = metrics.pixel_error(mine[None], masked[None])
    distances = np.where(both, np.linalg.norm(mine[:, :2] - gold[:, :2], axis=1), np.nan)
    return {
        "oks_per_keypoint": _rounded(ks, 4),
        "oks": round(float(np.nanmean(ks)), 4) if in_gold.any() else None,
        "pixel_error": round(pixel, 2) if both.any() else None,
        "pixel_error_per_keypoint": _rounded(distances, 2),
        "missed": int((in_gold & ~placed).sum()),
        "extra": int((placed & ~in_gold).sum()),
        "form_agreement": None if not gold_form_label else (form_label or "") == gold_form_label,
    }


def _box_area(points: np.ndarray) -> float:
    """Area of the box around the labelled points (at least 1 px^2): the OKS scale when none is stored."""
    labelled = points[points[:, 2] > 0, :2]
    if len(labelled) == 0:
        return 1.0
    w, h = labelled.max(axis=0) - labelled.min(axis=0)
    return max(float(w * h), 1.0)
