"""Form classification on barbell-row measured honestly: nested clip-grouped CV of the shipped training procedure.

Run: .venv/bin/python bench/mlcore_form_nested.py --repeats 3 [--outer 5] [--inner 4] [--backbone-trunk]
     [--back-profile] [--backbone-embedding]

--backbone-embedding adds "backbone_embedding" (1,152 values per frame): the input of BlazePose's landmark
head, (288, 2, 2), its summary of the whole body, on the person-box crop and averaged with the mirrored
crop's (a lifter facing left or right gives the same vector); candidates read it alone and with the trunk
geometry, and the inner CV chooses as before.

--back-profile adds "back_profile" (11 values per frame): the back contour traced on BlazePose's body
mask of the person-box ROI from the human body points (``spine_contour.back_profile``: its distance from
the pelvis -> shoulders axis at 9 fractions minus the straight line between its ends, the torso width,
all in torso lengths) and a traced flag (zeros where no back could be traced).

--backbone-trunk adds one extra input, "backbone_trunk" (96 values per frame): BlazePose's backbone
features (the 48-channel 64 x 64 map its heatmap head reads, on the person-box crop of
``mlcore.blazepose.crops``, kept in $MLCORE_BENCH_OUT/crops) averaged and max-pooled over the trunk
quadrilateral (shoulders and hips of the human keypoints); the grid then also holds candidates reading
it alone and with the trunk geometry, and the inner CV chooses among all of them as before.

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


def backbone_trunk(data: dict, images, image_ids: np.ndarray) -> np.ndarray:
    """(N, 96) mean and max of the backbone features over each frame's trunk (rows in ``image_ids`` order)."""
    from matplotlib.path import Path as Polygon
    from mlcore_common import out_dir

    from mlcore.blazepose.crop_store import CropStore
    from mlcore.blazepose.crops import BOX, build_cache
    from mlcore.blazepose.head_config import HeadTrainConfig
    from mlcore.blazepose.predictor import BlazePosePredictor
    from mlcore.training.keypoints import load_samples

    samples = load_samples(data, images, COCO17)
    cfg = HeadTrainConfig()
    cache = build_cache(samples, COCO17, BlazePosePredictor(), cfg, augment=[],
                        store=CropStore(out_dir() / "crops", max_bytes=2**40))
    row_of = {int(samples.image_ids[int(cache.sample[r])]): int(r) for r in np.flatnonzero(cache.kind == BOX)}
    corners = [COCO17.index(n) for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
    cells = np.stack(np.meshgrid(np.arange(64) + 0.5, np.arange(64) + 0.5), axis=-1).reshape(-1, 2)
    out = np.zeros((len(image_ids), 96), dtype=np.float32)
    for j, image_id in enumerate(image_ids):
        r = row_of[int(image_id)]
        feats = cache.features[r].astype(np.float32).reshape(48, -1)
        quad = cache.points[r][corners]
        inside = Polygon(quad[:, :2]).contains_points(cells) if (quad[:, 2] > 0).all() else np.zeros(len(cells), bool)
        if inside.sum() < 4:  # trunk not labelled or degenerate: the whole crop
            inside[:] = True
        out[j, :48], out[j, 48:] = feats[:, inside].mean(axis=1), feats[:, inside].max(axis=1)
    return out


def backbone_embedding(data: dict, images, image_ids: np.ndarray) -> np.ndarray:
    """(N, 1152) BlazePose's whole-body embedding (the (288, 2, 2) input of its landmark head) on the
    person-box crop, averaged with the mirrored crop's so that the way a lifter faces does not matter."""
    from mlcore.blazepose.models import INPUT_SIZE
    from mlcore.blazepose.predictor import BlazePosePredictor
    from mlcore.blazepose.roi import crop_roi
    from mlcore.training.keypoints import load_samples

    samples = load_samples(data, images, COCO17)
    row_of = {int(i): r for r, i in enumerate(samples.image_ids)}
    predictor = BlazePosePredictor()
    out = np.zeros((len(image_ids), 1152), dtype=np.float32)
    for j, image_id in enumerate(image_ids):
        r = row_of[int(image_id)]
        image = samples.images[r]
        roi = predictor.rois(image, samples.bboxes[r][None])[0][0]
        crop, _ = crop_roi(image, roi, INPUT_SIZE)
        x = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))[None])
        with torch.no_grad():
            both = predictor.net.run(torch.cat([x, x.flip(-1)])).embedding.reshape(2, -1)
        out[j] = both.mean(0).numpy()
    return out


def back_profile(data: dict, images, image_ids: np.ndarray) -> np.ndarray:
    """(N, 11) the traced back's shape (``spine_contour.back_profile``) on BlazePose's body mask of the
    person-box ROI, from the human body points, plus a traced flag; zeros where no back was traced."""
    from mlcore.blazepose.predictor import BlazePosePredictor
    from mlcore.spine_contour import PROFILE_POINTS
    from mlcore.spine_contour import back_profile as profile_of
    from mlcore.training.keypoints import load_samples

    samples = load_samples(data, images, COCO17)
    row_of = {int(i): r for r, i in enumerate(samples.image_ids)}
    predictor = BlazePosePredictor()
    out = np.zeros((len(image_ids), PROFILE_POINTS + 2), dtype=np.float32)
    for j, image_id in enumerate(image_ids):
        r = row_of[int(image_id)]
        image, kp = samples.images[r], samples.keypoints[r]
        roi = predictor.rois(image, samples.bboxes[r][None])[0][0]
        mask = predictor.segmentation(predictor.run_roi(image, roi), *image.shape[:2])
        prof = profile_of(mask, kp, COCO17)
        if prof is not None:
            out[j, :-1], out[j, -1] = prof, 1.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--outer", type=int, default=5)
    ap.add_argument("--inner", type=int, default=FormTrainConfig().select_folds)
    ap.add_argument("--steps", type=int, default=FormTrainConfig().epochs)
    ap.add_argument("--backbone-trunk", action="store_true", help="add the backbone's trunk features as an input")
    ap.add_argument("--backbone-embedding", action="store_true",
                    help="add BlazePose's whole-body embedding (mirror-averaged) as an input")
    ap.add_argument("--back-profile", action="store_true",
                    help="add the back contour's shape on BlazePose's body mask as an input")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data, images = load_barbell()
    fd = form_data(data, COCO17)
    extra = {"backbone_trunk": backbone_trunk(data, images, fd.image_ids)} if args.backbone_trunk else {}
    if args.backbone_embedding:
        extra["backbone_embedding"] = backbone_embedding(data, images, fd.image_ids)
    if args.back_profile:
        extra["back_profile"] = back_profile(data, images, fd.image_ids)
        traced = extra["back_profile"][:, -1]
        emit("form_nested.back_traced", round(float(traced.mean()), 4), "fraction of frames", frames=len(traced))
    arrays = FormArrays(fd.features, np.array([CLASSES.index(lab) for lab in fd.labels]), np.array(fd.clip_ids),
                        extra)
    candidates = default_candidates(COCO17, extra_names=tuple(extra))
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
