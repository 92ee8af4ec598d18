"""Form classifiers trained on the 210 annotated frames, scored on clips nobody annotated (MediaPipe keypoints).

Run: MLCORE_MEDIAPIPE_PYTHON=$PWD/.venv-mediapipe/bin/python .venv/bin/python bench/mlcore_form_unseen.py [--seeds 3]

The unseen set is every listed frame of the clips with no human annotation (the
pool of bench/mlcore_pretrain.py; none of the 19 training clips). Its form label is
the CVAT task the frame comes from (every frame of a clip shares it); its keypoints
are MediaPipe's (whole frame, no flip test; cached in
$MLCORE_BENCH_OUT/mediapipe_pool_preds.json), frames where MediaPipe finds nobody
are left out. This is how the web app meets new clips: predicted keypoints, then the
form model. Two procedures, each trained on all 210 human-labelled frames with
training seeds 0..N-1: the shipped one (`train_form` defaults: selection by inner
clip-grouped CV) and the previous default (geometry MLP, fixed). Beside them: always
the training majority and always "lumbar_error". Prints one JSON line per figure.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch
from mlcore_common import dataset_root, emit, load_barbell, out_dir
from mlcore_pretrain import pool_frames

from mlcore import coco, metrics, pipeline
from mlcore.form import FormClassifier
from mlcore.form_nested_cv import clip_accuracy
from mlcore.skeletons import COCO17
from mlcore.training.form import FormTrainConfig, form_data, train_form

CLASSES = ["correct", "lumbar_error"]


def with_mediapipe_poses(frames: dict, cache_name: str) -> dict | None:
    """``frames`` (COCO images) with MediaPipe's poses as annotations labelled by their CVAT task.

    Whole frame, no flip test; predictions cached in $MLCORE_BENCH_OUT/<cache_name>. None without MediaPipe.
    """
    frames = dict(frames)
    cache = out_dir() / cache_name
    if cache.is_file():
        preds = coco.load_coco(cache)
    else:
        from mlcore.predictors.mediapipe_pose import MediaPipePredictor, mediapipe_available

        if not mediapipe_available():
            return None
        t = time.time()
        mp = MediaPipePredictor()
        preds = pipeline.predict_coco({**frames, "annotations": []}, dataset_root() / "images", mp, boxes="frame",
                                      flip_test=False)
        mp.close()
        emit("form_unseen.mediapipe_seconds", round(time.time() - t, 1), "s", frames=len(frames["images"]),
             cache=cache_name)
        coco.save_coco(preds, cache)
    names = {i["id"]: i["file_name"] for i in frames["images"]}
    frames["annotations"] = [{"id": n + 1, "image_id": p["image_id"], "category_id": p["category_id"],
                              "keypoints": p["keypoints"], "bbox": p.get("bbox"), "iscrowd": 0,
                              "attributes": {"form_label": "correct" if names[p["image_id"]].startswith("correct")
                                             else "lumbar_error"}}
                             for n, p in enumerate(preds)]
    return frames


def mediapipe_pool() -> dict | None:
    """The clips nobody annotated, with MediaPipe's poses labelled by their task (None without MediaPipe)."""
    return with_mediapipe_poses(pool_frames(), "mediapipe_pool_preds.json")


def figures(probs: np.ndarray, y: np.ndarray, clips: list[str]) -> dict[str, float]:
    rep = metrics.classification_report([CLASSES[i] for i in y], [CLASSES[i] for i in probs.argmax(1)], CLASSES,
                                        positive="lumbar_error")
    return {"frame_f1": rep["f1"], "frame_accuracy": rep["accuracy"], "frame_f1_macro": rep["f1_macro"],
            "clip_accuracy": clip_accuracy(probs, y, clips)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    pool = mediapipe_pool()
    if pool is None:
        print("# MediaPipe is not available: set MLCORE_MEDIAPIPE_PYTHON (make test builds .venv-mediapipe)")
        return
    test = form_data(pool, COCO17)
    y = np.array([CLASSES.index(lab) for lab in test.labels])
    emit("form_unseen.frames", len(y), "frames", clips=len(set(test.clip_ids)), pool_frames=len(pool["images"]),
         lumbar_share=round(float(y.mean()), 4))
    train, _ = load_barbell()
    results: dict[str, list[dict[str, float]]] = {}
    chosen: list[str] = []
    for seed in range(args.seeds):
        for name, arch in (("selected", "auto"), ("geometry_mlp_fixed", "geometry")):
            with tempfile.TemporaryDirectory() as tmp:
                report = train_form(train, tmp, skeleton=COCO17, config=FormTrainConfig(arch=arch, seed=seed),
                                    quantize=False)
                if "selection" in report:
                    chosen.append(report["selection"]["chosen"]["name"])
                probs = FormClassifier(tmp).predict_proba(test.keypoints, COCO17)
            results.setdefault(name, []).append(figures(probs, y, test.clip_ids))
    for answer in ("lumbar_error", "correct"):   # "lumbar_error" is also the training majority (108 of 210)
        probs = np.zeros((len(y), 2))
        probs[:, CLASSES.index(answer)] = 1
        results[f"always_{answer}"] = [figures(probs, y, test.clip_ids)]
    for name, runs in results.items():
        for key in runs[0]:
            vals = [r[key] for r in runs]
            emit(f"form_unseen.{name}.{key}", round(float(np.mean(vals)), 4), "score",
                 std=round(float(np.std(vals)), 4), seeds=len(vals), positive="lumbar_error")
    emit("form_unseen.selected.chosen", chosen, "per seed")


if __name__ == "__main__":
    main()
