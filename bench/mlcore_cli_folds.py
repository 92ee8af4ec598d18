"""What ``python -m mlcore train keypoints`` / ``predict`` deliver on held-out clips, end to end.

    MLCORE_MEDIAPIPE_PYTHON=$PWD/.venv-mediapipe/bin/python MLCORE_BENCH_OUT=/tmp/clifolds \
        .venv/bin/python bench/mlcore_cli_folds.py [--threads 2] [--folds 0 1 2 3 4] [--head '{"members": 1}']
        [--backbone auto|blazepose|scratch] [--untuned]

The 5 clip-grouped outer folds of ``bench/mlcore_keypoints.py`` (``metrics.group_kfold`` on clip ids
with form labels, seed 0). Per outer fold the command line's own training runs on the training clips'
COCO file alone (``mlcore.training.keypoints.train_keypoints`` with the CLI's defaults: no val file, so
early stopping, the flip-test choice and the members' folds all come from inner clip-grouped folds of
those clips); then the command line's own prediction (``load_predictor`` + ``pipeline.predict_coco``)
runs on the held-out clips with the person boxes (``--boxes auto``) and on the whole frame (``--boxes
frame``: the detector, else the frame itself). Nothing here is chosen: ``--head`` only overrides the
defaults to measure another setting. ``--untuned`` trains nothing and scores ``predict --model
blazepose`` (BlazePose as shipped: its detector, its landmarks mapped to COCO-17) on the same frames.
The crops go through one ``CropStore`` under $MLCORE_BENCH_OUT/crops (the same frame's crops are
identical in every fold), so the backbone runs once per frame.

Prints JSON lines: ``cli_folds.fold<f>`` (training report: frames, seconds, members, flip and test-time
view choices), ``cli_folds.fold<f>.predict_seconds_per_frame`` (prediction with the flip signal) and
``cli_folds.<trained|untuned>.<box|frame>`` (mean OKS (a miss = 0), OKS >= 0.5 share, OKS-AP, points to
fix: labelled body points whose own OKS term is < 0.5) over all outer-fold predictions pooled. The
predictions are kept in $MLCORE_BENCH_OUT/cli_preds_<trained|untuned>_<box|frame>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from mlcore_common import FOLD_SEED, FOLDS, emit, load_barbell, out_dir
from mlcore_finetune import scores

from mlcore import coco, metrics, pipeline
from mlcore.blazepose.head_config import HeadTrainConfig
from mlcore.predictors import load_predictor
from mlcore.skeletons import COCO17
from mlcore.training.keypoints import KeypointTrainConfig, resolve_backbone, train_keypoints


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--folds", type=int, nargs="+", default=list(range(FOLDS)))
    ap.add_argument("--backbone", choices=["auto", "blazepose", "scratch"], default="auto")
    ap.add_argument("--head", default="{}", help="JSON settings over HeadTrainConfig's defaults")
    ap.add_argument("--untuned", action="store_true", help="score untuned BlazePose instead of training")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = out_dir()
    os.environ.setdefault("MLCORE_CROP_STORE", str(out / "crops"))
    data, images = load_barbell()
    table = coco.keypoint_table(data, COCO17)
    folds = metrics.group_kfold(table.clip_ids, FOLDS, seed=FOLD_SEED, labels=table.form_labels)
    head = HeadTrainConfig.from_dict(json.loads(args.head))  # the defaults, overridden
    preds: dict[str, list[dict]] = {"box": [], "frame": []}
    held_out: set[int] = set()
    untuned = load_predictor("blazepose", threads=args.threads) if args.untuned else None
    for f in args.folds:
        tr, te = (np.asarray(x) for x in folds[f])
        train = coco.subset(data, table.image_ids[tr])
        test = coco.subset(data, table.image_ids[te])
        predictor = untuned or load_predictor(str(train_fold(train, images, out / f"fold{f}", args.backbone, head, f)),
                                              threads=args.threads)
        for mode, boxes in (("box", "auto"), ("frame", "frame")):
            t = time.time()
            preds[mode] += pipeline.predict_coco(test, images, predictor, boxes=boxes)
            emit(f"cli_folds.fold{f}.predict_seconds_per_frame", round((time.time() - t) / len(test["images"]), 3),
                 "s", mode=mode)
        held_out |= {int(i) for i in table.image_ids[te]}
    arm = "untuned" if args.untuned else "trained"
    for mode, got in preds.items():
        coco.save_coco(got, out / f"cli_preds_{arm}_{mode}.json")
        emit(f"cli_folds.{arm}.{mode}", scores(data, got, held_out), "",
             head=None if args.untuned or args.backbone == "scratch" else head.to_dict(), folds=args.folds)


def train_fold(train: dict, images: Path, model_dir: Path, backbone: str, head: HeadTrainConfig, fold: int) -> Path:
    """``train keypoints`` on one fold's training clips (no val file) into ``model_dir``; prints its report."""
    cfg = KeypointTrainConfig(backbone=resolve_backbone(backbone))
    cfg.head = dataclasses.replace(head)  # each fold its own copy
    t = time.time()
    report = train_keypoints(train, images, model_dir, config=cfg)
    emit(f"cli_folds.fold{fold}", {"train_frames": report.get("train_frames"),
                                   "val_mean_oks": (report.get("val") or {}).get("mean_oks"),
                                   "flip_average": report.get("flip_average"),
                                   "test_views": report.get("test_views"),
                                   "views_mean_oks": (report.get("test_views_choice") or {}).get("mean_oks"),
                                   "members": len(report.get("members") or [None]),
                                   "cache_seconds": report.get("cache_seconds"),
                                   "head_seconds": report.get("head_seconds")},
         "training report", train_seconds=round(time.time() - t, 1), backbone=report.get("backbone", "scratch"))
    return model_dir


if __name__ == "__main__":
    main()
