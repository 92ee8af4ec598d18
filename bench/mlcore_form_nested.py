"""Form classification on barbell-row measured honestly: nested clip-grouped CV of the shipped training procedure.

Run: .venv/bin/python bench/mlcore_form_nested.py --repeats 3 [--outer 5] [--inner 4]

Outer folds: metrics.group_kfold over the 19 clips (clips whole, classes spread), one
set of folds per repeat (fold seed = repeat). Inside each outer training set the
procedure `train_form` runs (training/form_select.py) chooses among the default
candidates (feature sets, head, L2, clip pooling) by an inner clip-grouped CV on
those training clips only, fits the choice on them, and predicts the outer test
clips. Only outer figures are printed, beside two constant answers on the same
folds: the training fold's majority class and always "lumbar_error".

Output: one JSON line per outer fold and repeat ({"fold", "repeat", "chosen",
"inner_score", "model": {...}, "majority": {...}, "always_lumbar_error": {...}}),
then one line per reading and figure with the mean and std over repeats (each
repeat pools its outer test frames) and the mean and std over all outer folds,
then how often each candidate was chosen. Figures: frame_* (each frame's own
probabilities), pooled_* (after the chosen clip pooling), clip_accuracy (a clip's
answer = the mean of its frames' probabilities).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from mlcore_common import emit, load_barbell

from mlcore.form_nested_cv import OuterFold, nested_cv
from mlcore.form_selection import FitSettings, FormArrays, default_candidates
from mlcore.skeletons import COCO17
from mlcore.training.form import FormTrainConfig, form_data

CLASSES = ["correct", "lumbar_error"]
READINGS = {"model": "model", "majority": "majority", "always_positive": "always_lumbar_error"}


def _round(d: dict) -> dict:
    return {k: round(float(v), 4) for k, v in d.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--outer", type=int, default=5)
    ap.add_argument("--inner", type=int, default=FormTrainConfig().select_folds)
    ap.add_argument("--steps", type=int, default=FormTrainConfig().epochs)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data, _ = load_barbell()
    fd = form_data(data, COCO17)
    arrays = FormArrays(fd.features, np.array([CLASSES.index(lab) for lab in fd.labels]), np.array(fd.clip_ids))
    candidates = default_candidates(COCO17)
    start = time.time()

    def on_fold(f: OuterFold) -> None:
        sel = f.selection
        print(json.dumps({"repeat": f.repeat, "fold": f.fold, "test_clips": len(f.test_clips),
                          "train_clips": len(f.train_clips), "chosen": sel["chosen"]["name"],  # type: ignore[index]
                          "inner_score": sel["inner_score"],
                          **{READINGS[r]: _round(getattr(f, r)) for r in READINGS}}), flush=True)

    res = nested_cv(arrays, CLASSES, "lumbar_error", COCO17, candidates, outer_folds=args.outer,
                    inner_folds=args.inner, seeds=range(args.repeats), settings=FitSettings(steps=args.steps),
                    on_fold=on_fold)
    for reading, figures in res.summary().items():
        for key, s in figures.items():
            emit(f"form_nested.{READINGS[reading]}.{key}", round(s["mean"], 4), "score", std=round(s["std"], 4),
                 fold_mean=round(s["fold_mean"], 4), fold_std=round(s["fold_std"], 4), repeats=args.repeats,
                 outer_folds=args.outer, inner_folds=args.inner, positive="lumbar_error")
    emit("form_nested.chosen", res.chosen_counts(), "outer folds", candidates=len(candidates))
    emit("form_nested.seconds", round(time.time() - start, 1), "s", frames=len(arrays), clips=len(set(fd.clip_ids)))


if __name__ == "__main__":
    main()
