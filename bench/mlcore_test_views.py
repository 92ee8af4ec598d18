"""Test-time views for the shipped keypoint training: the flip test on heatmaps, and zoomed crops.

    MLCORE_BENCH_OUT=/tmp/kperr .venv/bin/python bench/mlcore_test_views.py [--members 3] [--threads 2]

The folds, crop cache and training of ``bench/mlcore_kp_errors.py`` (members early-stopped on inner
clip-grouped folds 0, 1, 2 of the training clips; no refit). Each member's heatmaps are read on four views
of every crop (``mlcore.blazepose.test_views``): the plain crop, the crop mirrored left-right, and the ROI
scaled by 0.9 and 1.1 about its centre (the scales were fixed before the first run). The members' mean
heatmap of each view is then combined by one of these rules (all reported):

- ``plain``: the plain view alone;
- ``flip_points``: the plain and the mirrored pass decoded, then averaged point by point (what
  ``flip_average`` models predict today, ``flip_test.averaged``);
- ``flip_maps``: the plain and the mirrored heatmap averaged on the plain grid, then decoded;
- ``zoom``: the plain and both zoomed heatmaps averaged;
- ``zoom_flip_maps``: all four views' heatmaps averaged;
- ``app``: ``plain`` or ``flip_points``, whichever scores higher on the members' pooled inner clips (the
  shipped training's choice, ``training.members_flip_choice``);
- ``chosen``: the rule above with the highest mean OKS on the members' pooled inner clips (each member's
  own heatmaps on the clips it was early-stopped on): a nested choice, never the outer test clips.

Prints JSON lines: ``test_views.<rule>.<box|frame>`` (mean OKS, OKS-AP, points to fix on the outer test
clips, pooled over the folds) and ``test_views.fold<f>.inner`` (each rule's inner mean OKS and the choices).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch
from mlcore_common import FOLDS, emit
from mlcore_finetune import _box_around, heads_result, load_samples_index, scores
from mlcore_kp_errors import held_out_rows, log_probs, mean_log_prob
from mlcore_tail import setup

from mlcore import coco, metrics
from mlcore.blazepose.crops import BOX, DETECTOR, FALLBACK, CropCache, view_features
from mlcore.blazepose.flip_test import averaged, unmirror
from mlcore.blazepose.head_config import HeadTrainConfig
from mlcore.blazepose.heads import decode_rows
from mlcore.blazepose.tail import STAGE_STARTS, FrontierNet
from mlcore.blazepose.test_views import RULES, VIEWS, views_mean_logits
from mlcore.blazepose.training import inner_split, new_stage_heads, side_convention, train_heads
from mlcore.skeletons import COCO17


def views_log_probs(model: Any, frontier: Any, cache: CropCache, rows: np.ndarray,
                    images: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The model's (len(rows), K, 64, 64) log-probabilities on each view of the crops ``rows``."""
    out = {}
    for name, view in VIEWS.items():
        feats = cache.features[rows] if name == "plain" else view_features(frontier, cache, rows, images, view)
        out[name] = log_probs(model, feats)
    return out


def apply_rules(per_view: dict[str, np.ndarray], matrices: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """Keypoints (N, K, 3) in image pixels per rule, from one model's (or the members' mean) log-probability
    maps per view (N, K, 64, 64) and the plain crops' matrices (N, 2, 3)."""
    as_t = {k: torch.from_numpy(v.astype(np.float32)) for k, v in per_view.items()}
    plain = decode_rows(per_view["plain"], matrices, window)
    out = {"plain": plain,
           "flip_points": averaged(plain, unmirror(per_view["mirror"], matrices, COCO17.flip_index, window))}
    for rule, names in RULES.items():
        if rule in out:   # plain and flip_points: decoded per view above, as the predictor does
            continue
        mean = views_mean_logits([as_t[n] for n in names], [VIEWS[n] for n in names], COCO17.flip_index)
        out[rule] = decode_rows(mean.numpy(), matrices, window)
    return out


def mean_oks(pred: np.ndarray, samples: Any, idx: np.ndarray) -> float:
    return float(np.nanmean(metrics.oks(pred, samples.keypoints[idx], samples.areas[idx], COCO17.sigma_array)))


def run_fold(cache: CropCache, samples: Any, data: dict[str, Any], table: Any, tr: np.ndarray, net: Any,
             cfg: HeadTrainConfig, fold: int, test_rows: np.ndarray, members: int) -> dict[str, Any]:
    """Each rule's keypoints on ``test_rows`` (the members' mean per view), the inner scores and choices."""
    sub = coco.subset(data, table.image_ids[tr])
    index = load_samples_index(sub, tr, table)
    first = STAGE_STARTS[1]
    frontier = FrontierNet(net, first)
    convention = side_convention(cache, cache.rows(tr, (BOX,)), samples, COCO17)
    test_views: dict[str, list[np.ndarray]] = {n: [] for n in VIEWS}
    inner_pred: dict[str, list[np.ndarray]] = {}
    inner_idx = []
    for m in range(members):
        itr, ival = inner_split(index, sub, cfg.inner_val_folds, cfg.seed, index=m)  # cfg.seed is the fold
        torch.manual_seed(fold)
        model = new_stage_heads(COCO17, net, cfg.hidden, cfg.stage_scale, first=first,
                                mirrored=convention["mirrored"])
        t = time.time()
        model, _, stopper = train_heads(cache, samples, tr[itr], tr[ival], COCO17, net, cfg, model=model)
        for name, lp in views_log_probs(model, frontier, cache, test_rows, samples.images).items():
            test_views[name].append(lp)
        val_rows = cache.rows(tr[ival], (BOX,))
        rules = apply_rules(views_log_probs(model, frontier, cache, val_rows, samples.images),
                            cache.matrices[val_rows], cfg.window)
        for rule, pred in rules.items():
            inner_pred.setdefault(rule, []).append(pred)
        inner_idx.append(cache.sample[val_rows])
        emit(f"test_views.fold{fold}.member{m}", round(float(stopper.best), 4), "inner mean OKS",
             best_epoch=stopper.best_epoch + 1, seconds=round(time.time() - t, 1))
    idx = np.concatenate(inner_idx)
    inner = {rule: round(mean_oks(np.concatenate(p), samples, idx), 4) for rule, p in inner_pred.items()}
    chosen = max(RULES, key=lambda r: (inner[r], -list(RULES).index(r)))  # ties to the fewer views
    app = "flip_points" if inner["flip_points"] > inner["plain"] else "plain"
    emit(f"test_views.fold{fold}.inner", inner, "pooled inner mean OKS", chosen=chosen, app=app,
         frames=len(idx))
    mean_views = {n: mean_log_prob(v) for n, v in test_views.items()}
    out = apply_rules(mean_views, cache.matrices[test_rows], cfg.window)
    return {**out, "app": out[app], "chosen": out[chosen]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--folds", type=int, nargs="+", default=list(range(FOLDS)))
    ap.add_argument("--members", type=int, default=3, help="trainings per fold (1: the app's alone)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = HeadTrainConfig(members=1)
    data, table, folds, samples, net, cache = setup(cfg, STAGE_STARTS[1], args.threads)
    frame_ids = [int(i) for i in table.image_ids]
    results: dict[str, list[dict[str, Any]]] = {}
    ids: set[int] = set()
    for f in args.folds:
        tr, te = (np.asarray(x) for x in folds[f])
        rows = held_out_rows(cache, te, cfg.min_presence)
        fold_cfg = HeadTrainConfig(**{**cfg.to_dict(), "seed": f})
        per_rule = run_fold(cache, samples, data, table, tr, net, fold_cfg, f, rows, args.members)
        for rule, kp in per_rule.items():
            by = {(int(cache.sample[r]), int(cache.kind[r])): kp[j] for j, r in enumerate(rows)}
            for i in (int(x) for x in te):
                results.setdefault(f"{rule}.box", []).append(heads_result(by[(i, BOX)], table.bboxes[i], frame_ids[i]))
                whole = by.get((i, DETECTOR), by.get((i, FALLBACK)))
                if whole is not None:
                    results.setdefault(f"{rule}.frame", []).append(heads_result(whole, _box_around(whole),
                                                                                frame_ids[i]))
        ids |= {frame_ids[int(i)] for i in te}
        for key, got in sorted(results.items()):
            emit(f"test_views.{key}", scores(data, got, ids), "", folds=len(ids) and f + 1)


if __name__ == "__main__":
    main()
