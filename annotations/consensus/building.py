"""The consensus of independent annotations of one frame, and how much the people agree.

Per keypoint, the point is in the consensus when a majority of the people placed it; it sits at the
coordinate-wise median of the people who placed it (a robust mean: one stray click does not drag it,
and for two people it is their mean), visible when at least half of them saw it so. The form label is
the plurality vote (none on a tie). Agreement per keypoint is the mean OKS (COCO's formula, the
project's sigmas, the consensus box as scale) over the pairs of people where at least one placed the
point (one placing it and the other not counts 0). Across frames, form labels agree by Krippendorff's
alpha for nominal data.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict

import numpy as np


def _points(flat: list, K: int) -> np.ndarray:
    kp = [float(v) for v in list(flat or [])[: 3 * K]]
    kp += [0.0, 0.0, 0.0] * (K - len(kp) // 3)
    return np.asarray(kp, dtype=np.float64).reshape(K, 3)


def _box_area(points: np.ndarray) -> float:
    labelled = points[points[:, 2] > 0, :2]
    if len(labelled) < 2:
        return 1.0
    w, h = labelled.max(axis=0) - labelled.min(axis=0)
    return max(float(w * h), 1.0)


def consensus(votes: list[tuple[list, str | None]], sigmas, threshold: float) -> dict:
    """votes: (flat keypoints, form label or None) of each person. Returns the consensus keypoints (flat
    3K), form label ("" when none), oks_per_keypoint (None where nobody placed the point), mean_oks,
    form_agreement (share of pairs with the same label, among pairs where both gave one; None without
    such pairs), disagreeing (keypoint indices whose agreement is below `threshold`) and agreed (mean
    OKS at or above the threshold, no keypoint below half of it, and a form label the majority chose)."""
    sigmas = np.asarray(sigmas, dtype=np.float64)
    K, N = len(sigmas), len(votes)
    P = np.stack([_points(kp, K) for kp, _ in votes])
    placed = P[:, :, 2] > 0
    kept = placed.sum(axis=0) * 2 > N
    out = np.zeros((K, 3))
    for j in np.flatnonzero(kept).tolist():
        mine = P[placed[:, j], j]
        out[j, :2] = np.median(mine[:, :2], axis=0)
        out[j, 2] = 2 if (mine[:, 2] == 2).sum() * 2 >= len(mine) else 1
    area = _box_area(out)
    var = (2 * sigmas) ** 2
    per_kpt: list[float | None] = []
    for k in range(K):
        scores = []
        for a, b in itertools.combinations(range(N), 2):
            if not (placed[a, k] or placed[b, k]):
                continue
            if placed[a, k] and placed[b, k]:
                d2 = float(((P[a, k, :2] - P[b, k, :2]) ** 2).sum())
                scores.append(math.exp(-d2 / var[k] / (area + np.spacing(1)) / 2))
            else:
                scores.append(0.0)
        per_kpt.append(round(float(np.mean(scores)), 4) if scores else None)
    known = [s for s in per_kpt if s is not None]
    mean_oks = round(float(np.mean(known)), 4) if known else None
    labels = [label for _, label in votes]
    given = Counter(label for label in labels if label)
    top = given.most_common(2)
    label = top[0][0] if top and (len(top) == 1 or top[0][1] > top[1][1]) else ""
    pairs = [(a, b) for a, b in itertools.combinations(labels, 2) if a and b]
    form_agreement = round(sum(a == b for a, b in pairs) / len(pairs), 4) if pairs else None
    majority = bool(label) and given[label] * 2 > N
    flat = [round(float(v), 2) if j < 2 else int(v) for row in out for j, v in enumerate(row)]
    return {"keypoints": flat, "form_label": label, "oks_per_keypoint": per_kpt, "mean_oks": mean_oks,
            "form_agreement": form_agreement,
            "disagreeing": [k for k, s in enumerate(per_kpt) if s is not None and s < threshold],
            "agreed": (mean_oks is not None and mean_oks >= threshold and all(s >= threshold / 2 for s in known)
                       and (majority or not given))}


def krippendorff_alpha(units: list[list[str]]) -> float | None:
    """Krippendorff's alpha for nominal values: one list of the values people gave per unit (frame);
    units with fewer than two values are not pairable and left out. None when nothing is pairable or
    every value is the same (no expected disagreement to compare with)."""
    coincidence: defaultdict[tuple[str, str], float] = defaultdict(float)
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, j in itertools.permutations(range(m), 2):
            coincidence[(values[i], values[j])] += 1 / (m - 1)
    totals: defaultdict[str, float] = defaultdict(float)
    for (c, _), n in coincidence.items():
        totals[c] += n
    n = sum(totals.values())
    if n <= 1:
        return None
    observed = sum(v for (c, k), v in coincidence.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k) / (n - 1)
    if expected == 0:
        return None
    return round(1 - observed / expected, 4)
