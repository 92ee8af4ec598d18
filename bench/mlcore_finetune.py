"""Keypoint heads on BlazePose's frozen backbone vs untuned BlazePose (vs the from-scratch model), barbell-row.

Run: .venv/bin/python bench/mlcore_finetune.py [--folds 0 1 2 3 4] [--threads 2] [--epochs 25]
     [--scratch-from DIR]   # a finished bench/mlcore_keypoints.py run's $MLCORE_BENCH_OUT (builtin_preds_*.json)

Clip-grouped 5-fold, the folds of bench/mlcore_keypoints.py (``metrics.group_kfold`` on clip ids with form
labels, seed 0). The frozen backbone runs once per crop of every frame (box ROI, detector ROI, 4 augmented
ROIs; ``mlcore.blazepose.training.build_cache``), cached in $MLCORE_BENCH_OUT/finetune_cache.npz. Per outer
fold the heads train on the training folds' crops only, with early stopping on one clip-grouped inner fold
of those clips (no choice sees the outer test clips), and predict the held-out clips:

- human box: ``BlazePosePredictor``'s ROI rules with a box (the detection whose hip lies in the box gives
  the ROI, else the box's square and a tracking pass); every box gets a prediction;
- whole frame ("frame"): the detector's ROI; where it finds nobody (or pose presence < 0.5) the whole frame
  as the person box (``HeadTrainConfig.frame_fallback``, what ``BlazePoseHeadsPredictor`` does);
  "frame_detector_only": no fallback, a missed frame scores OKS 0.

Untuned BlazePose is scored on the very same crops (its landmarks with MediaPipe's post-processing, as
``BlazePosePredictor.predict`` returns them): "frame" is BlazePose as shipped (no fallback, a miss = 0),
"frame_with_fallback" the same fallback crops as the heads. "heads_init" is the heads before training
(BlazePose's own heatmap channels through the heads' decoding). "Points to fix": labelled body keypoints whose
own OKS term is < 0.5 (a missed frame counts all its labelled points), mean per frame.
Prints JSON lines per fold and overall (all out-of-fold predictions pooled).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mlcore_common import FOLD_SEED, FOLDS, emit, load_barbell, out_dir

from mlcore import coco, metrics
from mlcore.blazepose.crops import BOX, DETECTOR, FALLBACK, CropCache, build_cache, fallback_cache
from mlcore.blazepose.head_config import HeadTrainConfig
from mlcore.blazepose.predictor import BlazePosePredictor
from mlcore.blazepose.training import (
    inner_split,
    new_heads,
    predict_rows,
    train_heads,
)
from mlcore.predictors.base import Instance
from mlcore.skeletons import COCO17, MEDIAPIPE33, remap
from mlcore.training.keypoints import load_samples


def scores(data: dict[str, Any], results: list[dict[str, Any]], image_ids: set[int]) -> dict[str, float]:
    """Mean OKS (miss = 0), OKS >= 0.5 share, OKS-AP and points to fix over the GT instances of ``image_ids``."""
    sub = coco.subset(data, sorted(image_ids))
    res = [r for r in results if int(r["image_id"]) in image_ids]
    table = coco.keypoint_table(sub, COCO17)
    matched = metrics.match_predictions(sub, res, COCO17.sigma_array, COCO17)
    oks = np.array([m["oks"] for m in matched])
    to_fix = []
    for i, m in enumerate(matched):
        gt = table.keypoints[i]
        labelled = gt[:, 2] > 0
        if m["result"] is None:
            to_fix.append(int(labelled.sum()))
            continue
        kp = np.asarray(res[m["result"]]["keypoints"], dtype=np.float64).reshape(1, 17, 3)
        ks = metrics.oks_per_keypoint(kp, gt[None], table.areas[i:i + 1], COCO17.sigma_array)[0]
        to_fix.append(int((ks[labelled] < 0.5).sum()))
    ap = metrics.oks_ap(sub, res, COCO17.sigma_array)["AP"] if res else 0.0
    return {"frames": len(oks), "predicted": sum(m["result"] is not None for m in matched),
            "mean_oks": round(float(oks.mean()), 4), "oks_ge_0.5": round(float((oks >= 0.5).mean()), 4),
            "oks_ap": round(float(ap), 4), "points_to_fix": round(float(np.mean(to_fix)), 2)}


def untuned_result(landmarks39: np.ndarray, box: np.ndarray | None, image_id: int) -> dict[str, Any]:
    """BlazePosePredictor's COCO-17 instance from cached landmarks (39, 5) in image pixels."""
    mp33 = np.concatenate([landmarks39[:33, :2], landmarks39[:33, 3:4]], axis=1)
    kp = remap(mp33, MEDIAPIPE33, COCO17)
    if box is None:
        lo, hi = kp[:, :2].min(axis=0), kp[:, :2].max(axis=0)
        box = np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])
    return Instance(keypoints=kp, bbox=np.asarray(box, float), score=float(kp[:, 2].mean())).to_coco_result(image_id)


def heads_result(kp: np.ndarray, box: np.ndarray, image_id: int) -> dict[str, Any]:
    return Instance(keypoints=kp, bbox=np.asarray(box, float), score=float(kp[:, 2].mean())).to_coco_result(image_id)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, nargs="+", default=list(range(FOLDS)))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=HeadTrainConfig.epochs)
    ap.add_argument("--scratch-from", type=Path, help="$MLCORE_BENCH_OUT of a bench/mlcore_keypoints.py run")
    ap.add_argument("--scratch-only", action="store_true", help="only score --scratch-from's predictions")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = HeadTrainConfig(epochs=args.epochs, variants=4, patience=6)  # the settings its figures were measured with
    data, images = load_barbell()
    table = coco.keypoint_table(data, COCO17)
    folds = metrics.group_kfold(table.clip_ids, FOLDS, seed=FOLD_SEED, labels=table.form_labels)
    if args.scratch_only:
        score_scratch(data, table, folds, args.folds, args.scratch_from)
        return
    samples = load_samples(data, images, COCO17)
    if samples.missing or not np.array_equal(samples.image_ids, table.image_ids):
        raise SystemExit("expected every annotated frame on disk, in table order")
    predictor = BlazePosePredictor(box_roi=cfg.box_roi, box_rotation=cfg.box_rotation, track=cfg.track)
    cache_path = out_dir() / "finetune_cache.npz"
    meta_path = out_dir() / "finetune_cache.json"
    want = json.dumps({k: v for k, v in cfg.to_dict().items()
                       if k not in ("epochs", "patience", "lr", "frame_fallback")}, sort_keys=True)
    if cache_path.is_file() and meta_path.is_file() and meta_path.read_text() == want:
        cache = CropCache.load(cache_path)
        emit("finetune.cache", len(cache.sample), "crops", reused=str(cache_path))
    else:
        t = time.time()
        cache = build_cache(samples, COCO17, predictor, cfg)
        seconds = time.time() - t
        cache.save(cache_path)
        meta_path.write_text(want)
        emit("finetune.cache_seconds_per_frame", round(seconds / len(samples.images), 2), "s",
             crops=len(cache.sample), frames=len(samples.images), threads=args.threads,
             note="backbone once per crop (box ROI, detector ROI, 4 augmented); 2 shared CPU cores")
    if not (cache.kind == FALLBACK).any():          # a cache written before FALLBACK rows existed
        t = time.time()
        cache = fallback_cache(samples, predictor, cache, cfg.min_presence)
        cache.save(cache_path)
        emit("finetune.fallback_crops", int((cache.kind == FALLBACK).sum()), "crops",
             seconds=round(time.time() - t, 1))
    frames_ids = [int(i) for i in table.image_ids]
    results: dict[str, list[dict[str, Any]]] = {
        f"{m}.{v}": [] for m, modes in (("heads", ("box", "frame", "frame_detector_only")),
                                        ("untuned", ("box", "frame", "frame_with_fallback")),
                                        ("heads_init", ("box", "frame", "frame_detector_only"))) for v in modes}
    scratch = {}
    if args.scratch_from:
        for v, name in (("box", "gtbox"), ("frame", "frame")):
            scratch[v] = json.loads((args.scratch_from / f"builtin_preds_{name}.json").read_text())
    seconds = []
    for f in args.folds:
        tr, te = folds[f]
        tr, te = np.asarray(tr), np.asarray(te)
        # inner clip-grouped split of the training clips only: early stopping never sees the outer test clips
        sub = coco.subset(data, table.image_ids[tr])
        inner = load_samples_index(sub, tr, table)
        itr, ival = inner_split(inner, sub, cfg.inner_val_folds, cfg.seed + f)
        t = time.time()
        heads, history, stopper = train_heads(cache, samples, tr[itr], tr[ival], COCO17, predictor.net,
                                              HeadTrainConfig(**{**cfg.to_dict(), "seed": f}))
        seconds.append(time.time() - t)
        init = new_heads(COCO17, predictor.net, cfg.hidden)
        fold_results: dict[str, list[dict[str, Any]]] = {k: [] for k in results}
        box_rows = cache.rows(te, (BOX,))
        det = {int(cache.sample[r]): int(r) for r in cache.rows(te, (DETECTOR,))
               if cache.presence[r] >= cfg.min_presence}
        fb = {int(cache.sample[r]): int(r) for r in cache.rows(te, (FALLBACK,))}
        det_rows = np.asarray(sorted(det.values()), dtype=np.int64)
        fb_rows = np.asarray([det.get(int(i), fb.get(int(i), -1)) for i in te], dtype=np.int64)
        fb_rows = fb_rows[fb_rows >= 0]
        for name, model in (("heads", heads), ("heads_init", init)):
            for mode, rows in (("box", box_rows), ("frame", fb_rows), ("frame_detector_only", det_rows)):
                pred = predict_rows(model, cache, rows, cfg.window)
                for r, kp in zip(rows, pred, strict=True):
                    i = int(cache.sample[r])
                    box = samples.bboxes[i] if mode == "box" else _box_around(kp)
                    fold_results[f"{name}.{mode}"].append(heads_result(kp, box, frames_ids[i]))
        for mode, rows in (("box", box_rows), ("frame", det_rows), ("frame_with_fallback", fb_rows)):
            for r in rows:
                i = int(cache.sample[r])
                box = samples.bboxes[i] if mode == "box" else None
                fold_results[f"untuned.{mode}"].append(untuned_result(cache.landmarks[r], box, frames_ids[i]))
        test_ids = {frames_ids[i] for i in te}
        for k, v in fold_results.items():
            results[k] += v
            emit(f"finetune.fold{f}.{k}", scores(data, v, test_ids), "", fold=f)
        for v, preds in scratch.items():
            emit(f"finetune.fold{f}.scratch.{v}", scores(data, preds, test_ids), "", fold=f)
        emit(f"finetune.fold{f}.train_seconds", round(seconds[-1], 1), "s", epochs_run=len(history) - 1,
             best_epoch=stopper.best_epoch + 1, inner_val_frames=len(ival), train_frames=len(itr),
             start_val_oks=round(history[0].get("val_mean_oks", float("nan")), 4),
             best_val_oks=round(float(stopper.best), 4))
    all_ids = {frames_ids[i] for f in args.folds for i in folds[f][1]}
    for k, v in results.items():
        emit(f"finetune.all.{k}", scores(data, v, all_ids), "", folds=args.folds)
    for v, preds in scratch.items():
        emit(f"finetune.all.scratch.{v}", scores(data, preds, all_ids), "", folds=args.folds)
    emit("finetune.train_seconds_per_fold", round(float(np.mean(seconds)), 1), "s", threads=args.threads,
         note="heads on cached features; 2 shared CPU cores")
    for k, v in results.items():
        coco.save_coco(v, out_dir() / f"finetune_{k.replace('.', '_')}_preds.json")


def score_scratch(data: dict[str, Any], table: coco.KeypointTable, folds: list[Any], chosen: list[int],
                  scratch_from: Path) -> None:
    """Per fold and overall scores of the from-scratch model's out-of-fold predictions (same folds)."""
    ids = [int(i) for i in table.image_ids]
    for v, name in (("box", "gtbox"), ("frame", "frame")):
        preds = json.loads((scratch_from / f"builtin_preds_{name}.json").read_text())
        for f in chosen:
            emit(f"finetune.fold{f}.scratch.{v}", scores(data, preds, {ids[i] for i in folds[f][1]}), "", fold=f)
        emit(f"finetune.all.scratch.{v}", scores(data, preds, {ids[i] for f in chosen for i in folds[f][1]}), "",
             folds=chosen)


def load_samples_index(sub: dict[str, Any], rows: np.ndarray, table: coco.KeypointTable) -> Any:
    """A stand-in KeypointSamples of the training rows (only image_ids are read by inner_split)."""
    from mlcore.training.keypoints import KeypointSamples

    return KeypointSamples(images=[], keypoints=table.keypoints[rows], bboxes=table.bboxes[rows],
                           areas=table.areas[rows], image_ids=table.image_ids[rows], missing=0)


def _box_around(kp: np.ndarray) -> np.ndarray:
    lo, hi = kp[:, :2].min(axis=0), kp[:, :2].max(axis=0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])


if __name__ == "__main__":
    main()
