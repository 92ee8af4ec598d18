"""Pseudo-label pretraining on barbell-row: MediaPipe labels the unlabelled clips, the built-in model learns them.

Run: MLCORE_MEDIAPIPE_PYTHON=$PWD/.venv-mediapipe/bin/python .venv/bin/python bench/mlcore_pretrain.py \
     [--epochs 60] [--seed 0]
Then: .venv/bin/python bench/mlcore_keypoints.py --init-from $MLCORE_BENCH_OUT/pretrained_mediapipe
The pool is every listed frame of the clips with no human annotation (60
clips, none of them in any fold's train or test set), so no held-out frame
and no human label is seen in pretraining. MediaPipe's predictions are cached
in $MLCORE_BENCH_OUT/mediapipe_pool_preds.json.
"""

from __future__ import annotations

import argparse
import time

from mlcore_common import dataset_root, emit, load_barbell, out_dir

from mlcore import coco, pipeline
from mlcore.pseudo_labels import pseudo_label_coco
from mlcore.training.keypoints import KeypointTrainConfig, train_keypoints


def pool_frames() -> dict:
    """Every listed frame of the clips that have no human annotation, as one COCO dict (no annotations)."""
    labelled, _ = load_barbell()
    labelled_clips = {coco.clip_id(i) for i in labelled["images"]}
    root = dataset_root() / "annotations"
    everything = coco.merge_coco([coco.load_coco(root / "correct_n2_3_7_100.json"),
                                  coco.load_coco(root / "lumbar_3_7_dell_111.json")],
                                 file_prefixes=["correct", "lumbar"], drop_unannotated=False)
    keep = [i["id"] for i in everything["images"] if coco.clip_id(i) not in labelled_clips]
    pool = coco.subset(everything, keep)
    pool["annotations"] = []
    return pool


def pretrain_on(pool: dict, preds: list[dict], model_dir, config: KeypointTrainConfig,
                min_score: float = 0.5) -> tuple[dict, dict]:
    """Pseudo-label the pool with a teacher's predictions and train a model on them; returns (pseudo, report)."""
    pseudo = pseudo_label_coco(pool, preds, min_score=min_score)
    report = train_keypoints(pseudo, dataset_root() / "images", model_dir, config=config)
    return pseudo, report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--min-score", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    pool = pool_frames()
    images = dataset_root() / "images"
    cache = out_dir() / "mediapipe_pool_preds.json"
    if cache.is_file():
        preds = coco.load_coco(cache)
    else:
        from mlcore.predictors.mediapipe_pose import MediaPipePredictor, mediapipe_available

        if not mediapipe_available():
            print("# MediaPipe is not available: set MLCORE_MEDIAPIPE_PYTHON (make test builds .venv-mediapipe)")
            return
        t = time.time()
        mp = MediaPipePredictor()
        preds = pipeline.predict_coco(pool, images, mp, boxes="frame", flip_test=False)
        mp.close()
        emit("pretrain.mediapipe_seconds", round(time.time() - t, 1), "s", frames=len(pool["images"]))
        coco.save_coco(preds, cache)
    emit("pretrain.pool_frames", len(pool["images"]), "frames", clips=len({coco.clip_id(i) for i in pool["images"]}))
    t = time.time()
    model_dir = out_dir() / "pretrained_mediapipe"
    pseudo, report = pretrain_on(pool, preds, model_dir, KeypointTrainConfig(epochs=args.epochs, seed=args.seed),
                                 args.min_score)
    emit("pretrain.pseudo_labelled_frames", len(pseudo["annotations"]), "frames", min_score=args.min_score,
         clips=len({coco.clip_id(i) for i in pseudo["images"]}))
    emit("pretrain.train_seconds", round(time.time() - t, 1), "s", epochs=args.epochs, seed=args.seed,
         model_dir=str(model_dir),
         train_mean_oks_vs_pseudo=round(report["train"]["mean_oks"], 4))


if __name__ == "__main__":
    main()
