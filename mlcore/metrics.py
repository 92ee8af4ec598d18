"""Keypoint and form metrics, plus clip-grouped K-fold.

Shapes: N instances, K keypoints. Ground truth is (N, K, 3) [x, y, v] with
v > 0 meaning labelled; predictions are (N, K, 2) or (N, K, 3) (the third
column, a score, is ignored). Only labelled ground-truth points count.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .skeletons import Skeleton

Floats = npt.NDArray[np.float64]

# --------------------------------------------------------------------------- keypoints


def _check(pred: npt.ArrayLike, gt: npt.ArrayLike) -> tuple[Floats, Floats]:
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    if p.ndim == 2:
        p, g = p[None], g[None]
    if p.shape[:2] != g.shape[:2] or g.shape[2] != 3:
        raise ValueError(f"prediction {p.shape} and ground truth {g.shape} do not match (N, K, 3)")
    return p, g


def oks_per_keypoint(pred: npt.ArrayLike, gt: npt.ArrayLike, areas: npt.ArrayLike, sigmas: npt.ArrayLike) -> Floats:
    """Per-keypoint similarity exp(-d^2 / (2 s^2 k^2)), COCO's formula (s^2 = area, k = 2 sigma).

    pred (N, K, 2|3), gt (N, K, 3), areas (N,) (the annotation's ``area``), sigmas (K,).
    Returns (N, K), NaN where the ground truth is not labelled.
    """
    p, g = _check(pred, gt)
    a = np.asarray(areas, dtype=np.float64).reshape(-1)
    var = (2 * np.asarray(sigmas, dtype=np.float64)) ** 2
    d2 = ((p[:, :, :2] - g[:, :, :2]) ** 2).sum(axis=2)
    # pycocotools divides by (area + eps) exactly like this; keep it so numbers match COCOeval.
    e = d2 / var[None, :] / (a[:, None] + np.spacing(1)) / 2
    ks = np.exp(-e)
    return np.where(g[:, :, 2] > 0, ks, np.nan)


def oks(pred: npt.ArrayLike, gt: npt.ArrayLike, areas: npt.ArrayLike, sigmas: npt.ArrayLike) -> Floats:
    """Object keypoint similarity per instance: mean of ``oks_per_keypoint`` over labelled points.

    Returns (N,); NaN for an instance with no labelled point.
    """
    ks = oks_per_keypoint(pred, gt, areas, sigmas)
    labelled = ~np.isnan(ks)
    total = np.where(labelled, ks, 0).sum(axis=1)
    count = labelled.sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def pck(pred: npt.ArrayLike, gt: npt.ArrayLike, bboxes: npt.ArrayLike, alpha: float = 0.05) -> tuple[float, Floats]:
    """Percentage of correct keypoints: distance <= alpha * max(box w, h).

    bboxes (N, 4) [x, y, w, h] of the ground truth. Returns (overall share over
    labelled points, per-keypoint share (K,) with NaN for never-labelled points).
    MMPose's bbox-normalised PCK uses the same rule.
    """
    p, g = _check(pred, gt)
    size = np.max(np.asarray(bboxes, dtype=np.float64)[:, 2:4], axis=1)
    dist = np.linalg.norm(p[:, :, :2] - g[:, :, :2], axis=2)
    labelled = g[:, :, 2] > 0
    hit = (dist <= alpha * size[:, None]) & labelled
    per_kpt = np.where(labelled.sum(0) > 0, hit.sum(0) / np.maximum(labelled.sum(0), 1), np.nan)
    overall = hit.sum() / labelled.sum() if labelled.any() else float("nan")
    return float(overall), per_kpt


def pixel_error(pred: npt.ArrayLike, gt: npt.ArrayLike) -> tuple[float, Floats]:
    """Euclidean error in pixels over labelled points.

    Returns (mean over all, per-keypoint mean (K,) with NaN for never-labelled points).
    """
    p, g = _check(pred, gt)
    dist = np.linalg.norm(p[:, :, :2] - g[:, :, :2], axis=2)
    labelled = g[:, :, 2] > 0
    per_kpt = np.where(labelled.sum(0) > 0, np.where(labelled, dist, 0).sum(0) / np.maximum(labelled.sum(0), 1), np.nan)
    overall = dist[labelled].mean() if labelled.any() else float("nan")
    return float(overall), per_kpt


def _coco_for_eval(gt: dict[str, Any]) -> Any:
    """A pycocotools COCO object for a GT dict, filling fields CVAT/hand-made files leave out."""
    from pycocotools.coco import COCO

    data = copy.deepcopy(gt)
    for ann in data.get("annotations", []):
        kp = ann.get("keypoints") or []
        ann.setdefault("iscrowd", 0)
        ann.setdefault("num_keypoints", int(sum(1 for v in kp[2::3] if v > 0)))
        if "area" not in ann:
            w, h = (ann.get("bbox") or [0, 0, 0, 0])[2:4]
            ann["area"] = float(w * h)
    data.setdefault("info", {})
    data.setdefault("licenses", [])
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


AP_NAMES = ("AP", "AP50", "AP75", "AP_medium", "AP_large", "AR", "AR50", "AR75", "AR_medium", "AR_large")


def oks_ap(gt: dict[str, Any], results: list[dict[str, Any]], sigmas: npt.ArrayLike) -> dict[str, float]:
    """COCO keypoint AP/AR with custom per-keypoint sigmas (pycocotools COCOeval).

    gt: a COCO dict; results: COCO keypoint results (image_id, category_id,
    keypoints, score). Only images of ``gt`` are evaluated. Returns the ten
    standard numbers (AP, AP50, ..., AR_large); -1 where COCOeval has no data
    (e.g. no medium-sized people). With no results every number is 0.
    """
    from pycocotools.cocoeval import COCOeval

    if not results:
        return {k: 0.0 for k in AP_NAMES}
    coco_gt = _coco_for_eval(gt)
    image_ids = set(coco_gt.getImgIds())
    dets = [copy.deepcopy(r) for r in results if r["image_id"] in image_ids]
    if not dets:
        return {k: 0.0 for k in AP_NAMES}
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes(dets)
        ev = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        ev.params.imgIds = sorted(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {k: float(v) for k, v in zip(AP_NAMES, ev.stats, strict=True)}


def match_predictions(gt: dict[str, Any], results: list[dict[str, Any]], sigmas: npt.ArrayLike,
                      skeleton: Skeleton | None = None) -> list[dict[str, Any]]:
    """Pair each ground-truth instance with at most one prediction of its image.

    Greedy by prediction score (as COCO does): each prediction takes the
    unmatched ground truth it overlaps best (OKS). Returns one record per GT
    annotation with keypoints: ``{"annotation_id", "image_id", "result"
    (index into results or None), "oks" (float, 0.0 when unmatched)}``.
    """
    from .coco import keypoint_table

    table = keypoint_table(gt, skeleton)
    areas = table.areas
    by_image: dict[int, list[int]] = {}
    for i, r in enumerate(results):
        by_image.setdefault(int(r["image_id"]), []).append(i)
    gt_rows: dict[int, list[int]] = {}
    for row, iid in enumerate(table.image_ids.tolist()):
        gt_rows.setdefault(iid, []).append(row)
    out: list[dict[str, Any]] = [{"annotation_id": int(table.annotation_ids[r]), "image_id": int(table.image_ids[r]),
            "result": None, "oks": 0.0} for r in range(len(table))]
    for iid, rows in gt_rows.items():
        preds = sorted(by_image.get(iid, []), key=lambda i: -float(results[i].get("score", 0)))
        free = set(rows)
        for p in preds:
            if not free:
                break
            kp = np.asarray(results[p]["keypoints"], dtype=np.float64).reshape(-1, 3)
            if kp.shape[0] != table.skeleton.num_keypoints:
                raise ValueError(f"result {p}: {kp.shape[0]} keypoints, "
                                 f"ground truth has {table.skeleton.num_keypoints}")
            cand = sorted(free)
            scores = oks(np.repeat(kp[None], len(cand), 0), table.keypoints[cand], areas[cand], sigmas)
            scores = np.nan_to_num(scores, nan=0.0)
            best = int(np.argmax(scores))
            out[cand[best]].update(result=p, oks=float(scores[best]))
            free.discard(cand[best])
    return out


# --------------------------------------------------------------------------- classification


def confusion_matrix(y_true: Iterable[Hashable], y_pred: Iterable[Hashable],
                     labels: Sequence[Hashable]) -> npt.NDArray[np.int64]:
    """(C, C) counts; rows are true labels, columns predicted, in ``labels`` order."""
    index = {lab: i for i, lab in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[index[t], index[p]] += 1
    return cm


def accuracy(y_true: Iterable[Hashable], y_pred: Iterable[Hashable]) -> float:
    true, pred = list(y_true), list(y_pred)
    return float(np.mean([t == p for t, p in zip(true, pred, strict=True)])) if true else float("nan")


def f1_scores(y_true: Iterable[Hashable], y_pred: Iterable[Hashable], labels: Sequence[Hashable]) -> dict[str, float]:
    """Per-label F1 (2PR / (P + R), 0 where undefined) and their unweighted mean ``"macro"``."""
    cm = confusion_matrix(y_true, y_pred, labels)
    out: dict[str, float] = {}
    for i, lab in enumerate(labels):
        tp = cm[i, i]
        fp = cm[:, i].sum() - tp
        fn = cm[i, :].sum() - tp
        out[str(lab)] = float(2 * tp / (2 * tp + fp + fn)) if (2 * tp + fp + fn) else 0.0
    out["macro"] = float(np.mean([out[str(lab)] for lab in labels])) if labels else float("nan")
    return out


def classification_report(y_true: Iterable[Hashable], y_pred: Iterable[Hashable], labels: Sequence[Hashable],
                          positive: Hashable | None = None) -> dict[str, Any]:
    """Accuracy, F1 (of ``positive`` when given, else macro), per-label F1 and the confusion matrix."""
    f1 = f1_scores(y_true, y_pred, labels)
    return {
        "accuracy": accuracy(y_true, y_pred),
        "f1": f1[str(positive)] if positive is not None else f1["macro"],
        "f1_macro": f1["macro"],
        "f1_per_label": {k: v for k, v in f1.items() if k != "macro"},
        "labels": [str(x) for x in labels],
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels).tolist(),
        "n": len(list(y_true)),
    }


# --------------------------------------------------------------------------- folds


def group_kfold(groups: Iterable[Any], n_splits: int = 5, seed: int = 0,
                labels: Iterable[Any] | None = None) -> list[tuple[npt.NDArray[np.int_], npt.NDArray[np.int_]]]:
    """K folds with no group (clip) in two folds: [(train_idx, test_idx), ...].

    groups: (N,) clip id per sample. labels: optional (N,) class per sample;
    then each class's groups are spread over the folds separately (a group
    counts under its most common label), so every fold sees every class when
    there are enough groups. Groups are shuffled with ``seed`` and each goes to
    the fold with the fewest samples so far, so folds have similar sizes.
    """
    groups = np.asarray([str(g) for g in groups])
    unique = sorted(set(groups.tolist()))
    if len(unique) < n_splits:
        raise ValueError(f"{len(unique)} groups cannot fill {n_splits} folds")
    size = {g: int((groups == g).sum()) for g in unique}
    if labels is not None:
        labels = np.asarray([str(x) for x in labels])
        group_label: dict[str, Any] = {}
        for g in unique:
            vals, counts = np.unique(labels[groups == g], return_counts=True)
            group_label[g] = vals[np.argmax(counts)]
        strata = [[g for g in unique if group_label[g] == lab] for lab in sorted(set(group_label.values()))]
    else:
        strata = [unique]
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    fold_size = np.zeros(n_splits)
    fold_count = np.zeros(n_splits)
    for stratum in strata:
        order = [stratum[i] for i in rng.permutation(len(stratum))]
        stratum_count = np.zeros(n_splits)
        for g in order:
            # Fewest groups of this class first, then fewest samples: keeps classes and sizes even.
            f = int(np.lexsort((fold_size, fold_count, stratum_count))[0])
            fold_of[g] = f
            fold_size[f] += size[g]
            fold_count[f] += 1
            stratum_count[f] += 1
    fold = np.array([fold_of[g] for g in groups])
    idx = np.arange(len(groups))
    return [(idx[fold != f], idx[fold == f]) for f in range(n_splits)]
