"""Heads alone vs heads with BlazePose's last backbone stage trained too (mlcore.blazepose.tail), barbell-row.

Run: MLCORE_BENCH_OUT=/tmp/tail .venv/bin/python bench/mlcore_tail.py [--folds 0 1 2 3 4] [--threads 2]
     [--variants 2] [--scale 0.1] [--epochs 25] [--arms heads tail tail2]

The folds, inner early-stopping split and evaluation of bench/mlcore_finetune.py (clip-grouped 5-fold,
every figure on held-out clips; human box, and whole frame = detector ROI else the frame). One crop cache
for every arm: the backbone runs once per crop and keeps the inputs of its 8 x 8 stage (``FrontierNet``),
so "heads" (the stage frozen at BlazePose's weights), "tail" (the 8 x 8 stage trained as offsets from its
weights, ``--scale`` their relative learning rate: the shipped training) and "tail2" (the 16 x 16 stage
too, ``HeadTrainConfig.stages`` = 2; with it in ``--arms`` the cache keeps that stage's smaller frontier
and the other arms run it with BlazePose's weights) see the very same crops, seeds and stopping rule.
Nothing is chosen on the outer test clips; ``--scale`` and the other settings were fixed
before the run. With "tail" and "tail2" both run, "chosen" is the nested choice between them: per outer fold
the one whose early-stopping score on the inner fold (training clips only) is higher. Prints JSON lines
per fold and overall.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, NamedTuple

import numpy as np
import torch
from mlcore_common import FOLD_SEED, FOLDS, emit, load_barbell, out_dir
from mlcore_finetune import _box_around, heads_result, load_samples_index, scores

from mlcore import coco, metrics
from mlcore.blazepose.crops import BOX, DETECTOR, FALLBACK, CropCache, build_cache, fallback_cache
from mlcore.blazepose.head_config import HeadTrainConfig
from mlcore.blazepose.predictor import BlazePosePredictor
from mlcore.blazepose.tail import STAGE_STARTS, FrontierNet
from mlcore.blazepose.training import inner_split, new_stage_heads, predict_rows, train_heads
from mlcore.skeletons import COCO17
from mlcore.training.keypoints import KeypointSamples, load_samples

ARMS = ("heads", "tail", "tail2")
STAGES = {"heads": 1, "tail": 1, "tail2": 2}


def crop_cache(samples: Any, predictor: BlazePosePredictor, cfg: HeadTrainConfig, threads: int,
               first: int) -> CropCache:
    suffix = "" if first == STAGE_STARTS[1] else f"_f{first}"
    path = out_dir() / f"tail_cache_v{cfg.variants}{suffix}.npz"
    if path.is_file():
        cache = CropCache.load(path)
        emit("tail.cache", len(cache.sample), "crops", reused=str(path))
        return cache
    t = time.time()
    cache = build_cache(samples, COCO17, predictor, cfg)
    cache = fallback_cache(samples, predictor, cache, cfg.min_presence)
    cache.save(path)
    emit("tail.cache_seconds_per_frame", round((time.time() - t) / len(samples.images), 2), "s",
         crops=len(cache.sample), frames=len(samples.images), threads=threads)
    return cache


class TailSetup(NamedTuple):
    """What every bench on the tail's crop cache starts from: barbell-row, its clip-grouped outer folds, the
    frames as training samples, BlazePose's backbone and the crop cache of the stage inputs at ``first``."""
    data: dict[str, Any]
    table: coco.KeypointTable
    folds: list[tuple[np.ndarray, np.ndarray]]
    samples: KeypointSamples
    net: Any
    cache: CropCache


def setup(cfg: HeadTrainConfig, first: int, threads: int) -> TailSetup:
    """Load the data and build (or reuse) the crop cache keeping the inputs of the stage at ``first``."""
    data, images = load_barbell()
    table = coco.keypoint_table(data, COCO17)
    folds = metrics.group_kfold(table.clip_ids, FOLDS, seed=FOLD_SEED, labels=table.form_labels)
    samples = load_samples(data, images, COCO17)
    predictor = BlazePosePredictor(box_roi=cfg.box_roi, box_rotation=cfg.box_rotation, track=cfg.track)
    net = predictor.net
    predictor.net = FrontierNet(net, first)  # type: ignore[assignment]  # crops keep the stage's inputs
    return TailSetup(data, table, folds, samples, net, crop_cache(samples, predictor, cfg, threads, first))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, nargs="+", default=list(range(FOLDS)))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--variants", type=int, default=2, help="augmented crops per frame (the app's default: 2)")
    ap.add_argument("--scale", type=float, default=0.1, help="the stage's learning rate relative to the heads'")
    ap.add_argument("--epochs", type=int, default=HeadTrainConfig.epochs)
    ap.add_argument("--arms", nargs="+", choices=ARMS, default=["heads", "tail"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = HeadTrainConfig(epochs=args.epochs, variants=args.variants, patience=6)  # as its figures were measured
    first = STAGE_STARTS[max(STAGES[a] for a in args.arms)]  # crops keep the deepest arm's stage inputs
    data, table, folds, samples, net, cache = setup(cfg, first, args.threads)
    frame_ids = [int(i) for i in table.image_ids]
    results: dict[str, list[dict[str, Any]]] = {f"{a}.{m}": [] for a in args.arms for m in ("box", "frame")}
    both = "tail" in args.arms and "tail2" in args.arms
    if both:
        results.update({"chosen.box": [], "chosen.frame": []})
    for f in args.folds:
        fold_results: dict[str, list[dict[str, Any]]] = {}
        inner: dict[str, float] = {}
        tr, te = (np.asarray(x) for x in folds[f])
        sub = coco.subset(data, table.image_ids[tr])
        itr, ival = inner_split(load_samples_index(sub, tr, table), sub, cfg.inner_val_folds, cfg.seed + f)
        box_rows = cache.rows(te, (BOX,))
        det = {int(cache.sample[r]): int(r) for r in cache.rows(te, (DETECTOR,))
               if cache.presence[r] >= cfg.min_presence}
        fb = {int(cache.sample[r]): int(r) for r in cache.rows(te, (FALLBACK,))}
        frame_rows = np.asarray([det.get(int(i), fb.get(int(i), -1)) for i in te], dtype=np.int64)
        frame_rows = frame_rows[frame_rows >= 0]
        test_ids = {frame_ids[i] for i in te}
        for arm in args.arms:
            torch.manual_seed(f)
            model = new_stage_heads(COCO17, net, cfg.hidden, args.scale, frozen=arm == "heads", stages=STAGES[arm],
                                    first=first)
            t = time.time()
            model, history, stopper = train_heads(cache, samples, tr[itr], tr[ival], COCO17, net,
                                                  HeadTrainConfig(**{**cfg.to_dict(), "seed": f}), model=model)
            inner[arm] = float(stopper.best)
            emit(f"tail.fold{f}.{arm}.train_seconds", round(time.time() - t, 1), "s", epochs_run=len(history) - 1,
                 best_epoch=stopper.best_epoch + 1, start_val_oks=round(history[0].get("val_mean_oks", 0.0), 4),
                 best_val_oks=round(float(stopper.best), 4))
            for mode, rows in (("box", box_rows), ("frame", frame_rows)):
                got = []
                for r, kp in zip(rows, predict_rows(model, cache, rows, cfg.window), strict=True):
                    i = int(cache.sample[r])
                    got.append(heads_result(kp, samples.bboxes[i] if mode == "box" else _box_around(kp), frame_ids[i]))
                results[f"{arm}.{mode}"] += got
                fold_results[f"{arm}.{mode}"] = got
                emit(f"tail.fold{f}.{arm}.{mode}", scores(data, got, test_ids), "", fold=f)
        if both:  # the nested choice: by the inner fold's score, never the outer test clips'
            pick = "tail2" if inner["tail2"] > inner["tail"] else "tail"
            for mode in ("box", "frame"):
                results[f"chosen.{mode}"] += fold_results[f"{pick}.{mode}"]
            emit(f"tail.fold{f}.chosen", pick, "", inner_val_oks={a: round(inner[a], 4) for a in ("tail", "tail2")})
    all_ids = {frame_ids[i] for f in args.folds for i in folds[f][1]}
    for k, v in results.items():
        emit(f"tail.all.{k}", scores(data, v, all_ids), "", folds=args.folds, scale=args.scale,
             variants=args.variants)


if __name__ == "__main__":
    main()
