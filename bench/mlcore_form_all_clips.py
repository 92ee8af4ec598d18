"""Nested clip-grouped CV of form training over every barbell-row clip, on MediaPipe keypoints and task labels.

Run: MLCORE_MEDIAPIPE_PYTHON=$PWD/.venv-mediapipe/bin/python .venv/bin/python bench/mlcore_form_all_clips.py \\
         [--repeats 3] [--keypoints mediapipe|human]

A form label needs no keypoint annotation: every frame of a CVAT task carries the
task's label. So every listed frame of both tasks is a labelled example once a pose
model has placed its keypoints: the 19 annotated clips plus the 60 nobody annotated
(MediaPipe, whole frame, no flip test; frames where it finds nobody are left out).
The procedure and the figures are those of bench/mlcore_form_nested.py (selection
by inner clip-grouped CV inside each outer training set, outer figures only, beside
the training majority and always "lumbar_error"); only the data differ: about four
times as many clips, with predicted instead of human keypoints. ``--keypoints human``
uses the human keypoints of the 19 annotated clips and MediaPipe's elsewhere.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from mlcore_common import emit, load_barbell
from mlcore_form_nested import READINGS, _round
from mlcore_form_unseen import mediapipe_pool, with_mediapipe_poses

from mlcore.form_nested_cv import OuterFold, nested_cv
from mlcore.form_selection import FitSettings, FormArrays, default_candidates
from mlcore.skeletons import COCO17
from mlcore.training.form import FormTrainConfig, form_data

CLASSES = ["correct", "lumbar_error"]


def arrays(coco_dict: dict) -> FormArrays:
    fd = form_data(coco_dict, COCO17)
    return FormArrays(fd.features, np.array([CLASSES.index(lab) for lab in fd.labels]), np.array(fd.clip_ids))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--outer", type=int, default=5)
    ap.add_argument("--inner", type=int, default=FormTrainConfig().select_folds)
    ap.add_argument("--keypoints", choices=["mediapipe", "human"], default="mediapipe")
    args = ap.parse_args()
    torch.set_num_threads(1)
    labelled, _ = load_barbell()
    pool = mediapipe_pool()
    annotated = labelled if args.keypoints == "human" else with_mediapipe_poses(
        {**labelled, "annotations": []}, "mediapipe_labelled_frames_preds.json")
    if pool is None or annotated is None:
        print("# MediaPipe is not available: set MLCORE_MEDIAPIPE_PYTHON (make test builds .venv-mediapipe)")
        return
    parts = [arrays(annotated), arrays(pool)]
    data = FormArrays(np.concatenate([p.features for p in parts]), np.concatenate([p.y for p in parts]),
                      np.concatenate([p.clips for p in parts]))
    emit("form_all_clips.frames", len(data), "frames", clips=len(set(data.clips.tolist())),
         lumbar_share=round(float(data.y.mean()), 4), keypoints=args.keypoints)
    start = time.time()

    def on_fold(f: OuterFold) -> None:
        print(json.dumps({"repeat": f.repeat, "fold": f.fold, "test_clips": len(f.test_clips),
                          "train_clips": len(f.train_clips), "chosen": f.selection["chosen"]["name"],  # type: ignore[index]
                          "inner_score": f.selection["inner_score"],
                          **{READINGS[r]: _round(getattr(f, r)) for r in READINGS}}), flush=True)

    res = nested_cv(data, CLASSES, "lumbar_error", COCO17, default_candidates(COCO17), outer_folds=args.outer,
                    inner_folds=args.inner, seeds=range(args.repeats), settings=FitSettings(), on_fold=on_fold)
    for reading, figures in res.summary().items():
        for key, s in figures.items():
            emit(f"form_all_clips.{READINGS[reading]}.{key}", round(s["mean"], 4), "score", std=round(s["std"], 4),
                 fold_mean=round(s["fold_mean"], 4), fold_std=round(s["fold_std"], 4), repeats=args.repeats,
                 outer_folds=args.outer, inner_folds=args.inner, positive="lumbar_error")
    emit("form_all_clips.chosen", res.chosen_counts(), "outer folds")
    emit("form_all_clips.seconds", round(time.time() - start, 1), "s")


if __name__ == "__main__":
    main()
