"""Built-in keypoint model on barbell-row: clip-grouped 5-fold, held-out clips only.

Run: .venv/bin/python bench/mlcore_keypoints.py [--epochs 150] [--input-size 48x64] [--width 24]
     [--init-from DIR] [--seed 0]
     [--self-train-from DIR]
For each fold the model trains on the other folds' clips for a fixed number
of epochs (no early stopping: there is no clean validation set inside a
fold) and predicts the held-out clips twice: with the human boxes (standard
top-down evaluation) and with the whole frame as the box (how unlabelled
frames are pre-annotated, and what MediaPipe gets). Flip test and 8
MC-dropout passes give the uncertainty signals. All out-of-fold predictions
go to $MLCORE_BENCH_OUT/builtin_preds_{gtbox,frame}.json for
bench/mlcore_uncertainty.py; MediaPipe's figures come from bench/mlcore_mediapipe.py.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from mlcore_common import FOLD_SEED, FOLDS, emit, load_barbell, out_dir

from mlcore import coco, metrics, pipeline
from mlcore.cli import _MCOnly
from mlcore.modeldir import is_model_dir, read_meta
from mlcore.predictors import load_predictor
from mlcore.predictors.torch_topdown import TorchTopDownPredictor
from mlcore.training.keypoints import KeypointTrainConfig, train_keypoints


def self_trained_start(teacher_dir: Path, fold: int, pretrain_epochs: int, seed: int, overrides: dict) -> str:
    """Self-training: the fold's own from-scratch model labels the pool, a model pretrains on that."""
    from mlcore_pretrain import pool_frames, pretrain_on

    target = out_dir() / f"selftrained_pretrain_fold{fold}"
    if is_model_dir(target):
        return str(target)
    pool = pool_frames()
    _, images = load_barbell()
    teacher = load_predictor(teacher_dir / f"builtin_fold{fold}", threads=1)
    preds = pipeline.predict_coco(pool, images, teacher, boxes="frame", flip_test=False)
    pseudo, _ = pretrain_on(pool, preds, target,
                            KeypointTrainConfig(epochs=pretrain_epochs, seed=fold + 100 * seed, **overrides))
    print(f"# fold {fold}: {len(pseudo['annotations'])} pool frames self-labelled", flush=True)
    return str(target)


def run_folds(epochs: int, overrides: dict, init_from: str | None = None, seed: int = 0,
              self_train_from: Path | None = None) -> dict:
    data, images = load_barbell()
    table = coco.keypoint_table(data)
    folds = metrics.group_kfold(table.clip_ids, FOLDS, seed=FOLD_SEED, labels=table.form_labels)
    preds = {"gtbox": [], "frame": []}
    train_seconds, infer = [], []
    for f, (tr, te) in enumerate(folds):
        train = coco.subset(data, table.image_ids[tr])
        test = coco.subset(data, table.image_ids[te])
        model_dir = out_dir() / f"builtin_fold{f}"
        t = t_fold = time.time()
        cfg = KeypointTrainConfig(epochs=epochs, seed=f + 100 * seed, **overrides)
        if self_train_from is not None:
            init_from = self_trained_start(self_train_from, f, 60, seed, overrides)
        meta = read_meta(model_dir) if is_model_dir(model_dir) else {}
        if (meta.get("config") == json.loads(json.dumps(cfg.to_dict()))
                and meta["metrics"].get("init_from") == init_from):
            print(f"# fold {f}: reusing {model_dir}", flush=True)   # a rerun after a crash
        else:
            train_keypoints(train, images, model_dir, config=cfg, init_from=init_from)
            train_seconds.append(time.time() - t)
        onnx = load_predictor(model_dir, threads=1)
        mc = _MCOnly(TorchTopDownPredictor(model_dir, mc_samples=8, seed=f))
        for mode, boxes in (("gtbox", "auto"), ("frame", "frame")):
            t = time.time()
            preds[mode] += pipeline.predict_coco(test, images, onnx, boxes=boxes, flip_test=True, extra_predictors=[mc])
            infer.append((time.time() - t) / max(len(test["images"]), 1))
        print(f"# fold {f}: {len(tr)} train / {len(te)} test frames, {time.time() - t_fold:.0f} s", flush=True)
    for mode, p in preds.items():
        coco.save_coco(p, out_dir() / f"builtin_preds_{mode}.json")
    return {"data": data, "preds": preds, "train_seconds": train_seconds, "infer": infer}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--input-size", help="WxH (default: KeypointTrainConfig's)")
    ap.add_argument("--width", type=int)
    ap.add_argument("--self-train-from", type=Path,
                    help="a finished from-scratch run's $MLCORE_BENCH_OUT: each fold's model labels the pool, "
                         "a model pretrains on that (60 epochs) and fine-tunes as usual")
    ap.add_argument("--seed", type=int, default=0, help="training seed of fold f is f + 100 * seed")
    ap.add_argument("--init-from", help="start each fold from this model directory (bench/mlcore_pretrain.py)")
    args = ap.parse_args()
    overrides = {}
    if args.input_size:
        overrides["input_size"] = tuple(int(v) for v in args.input_size.lower().split("x"))
    if args.width:
        overrides["width"] = args.width
    res = run_folds(args.epochs, overrides, args.init_from, args.seed, args.self_train_from)
    data = res["data"]
    emit("builtin.train_seconds_per_fold", round(float(np.mean(res["train_seconds"] or [np.nan])), 1), "s",
         epochs=args.epochs, folds=FOLDS, config=overrides or "defaults", init_from=args.init_from,
         note="2 shared CPU cores")
    emit("builtin.predict_seconds_per_frame", round(float(np.mean(res["infer"])), 3), "s",
         note="ONNX + flip test + 8 MC-dropout passes, 1 onnxruntime thread")
    for mode, preds in res["preds"].items():
        rep = pipeline.evaluate(data, preds)["keypoints"]
        tag = f"builtin.{mode}"
        emit(f"{tag}.mean_oks", round(rep["mean_oks"], 4), "oks", frames=rep["gt_instances"],
             heldout="clip-grouped 5-fold")
        emit(f"{tag}.oks_ge_0.5_share", round(rep["oks_ge_0.5"], 4), "share")
        emit(f"{tag}.oks_ap", round(rep["oks_ap"]["AP"], 4), "AP")
        emit(f"{tag}.pck@0.1", round(rep["pck@0.1"], 4), "share")
        emit(f"{tag}.mean_pixel_error", round(rep["mean_pixel_error"], 2), "px")
        for name, v in rep["per_keypoint_oks"].items():
            emit(f"{tag}.keypoint_oks.{name}", v, "oks")


if __name__ == "__main__":
    main()
