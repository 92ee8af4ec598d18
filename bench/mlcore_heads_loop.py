"""The review loop on BlazePose heads: do the uncertainty signals find the bad predictions, and does
labelling in uncertainty order reach a good model with fewer frames than random order?

    MLCORE_BENCH_OUT=/tmp/headsloop .venv/bin/python bench/mlcore_heads_loop.py [--runs 10] [--threads 2]

Crops: the app's default heads settings (``HeadTrainConfig`` with 2 jittered crops per frame, as
``annotations.learning.training.DEFAULT_HEAD_CONFIG``) through ``mlcore.blazepose.crops.build_cache``,
kept in a ``CropStore`` under $MLCORE_BENCH_OUT/crops, plus one mirrored pass per evaluation crop (the
flip signal). Everything below runs on those cached features.

1. Uncertainty (issue figure "error capture@20%"): the 5 clip-grouped outer folds of
   ``bench/mlcore_keypoints.py``; per fold the heads train on the other folds (early stopping on one
   clip-grouped inner fold of them) and predict the held-out frames with the person box and on the whole
   frame (detector ROI, else the frame itself). Error = OKS < 0.5; signals confidence (1 - decoded
   score), flip (distance to the mirrored pass / box size) and their combined rank priority; ranked over
   all 210 held-out frames together. The temporal signal needs the unlabelled neighbour frames and is
   not measured here. No weight is fitted.
2. Active learning: run r holds out outer fold r % 5 and starts from ``--seed-frames`` random frames of
   the other folds (seed r // 5); each round trains heads for ``--epochs`` epochs (no early stopping:
   nothing held out to stop on), scores held-out mean OKS (person boxes) and reveals ``--batch`` more
   frames, either the highest combined priority on whole-frame predictions or at random. The app's
   queue also caps each clip at 2 frames in its top part (``uncertainty.diverse_order``); ``--clip-cap 2``
   does the same here, the default 0 takes the plain priority order. Frames-to-95% = labelled frames at
   which held-out mean OKS first reaches 95% of the all-frames model of the same run (both orders end
   with the same frames and seeds, so the same model).
   The difference random - uncertainty is tested with a paired Wilcoxon signed-rank test over the runs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from mlcore_common import FOLD_SEED, FOLDS, emit, load_barbell, out_dir
from scipy import stats

from mlcore import coco, metrics
from mlcore import uncertainty as unc
from mlcore.blazepose.crop_store import CropStore
from mlcore.blazepose.crops import BOX, DETECTOR, FALLBACK, CropCache, build_cache, mirrored_features
from mlcore.blazepose.flip_test import averaged, flip_rows
from mlcore.blazepose.head_config import HeadTrainConfig
from mlcore.blazepose.heads import KeypointHeads
from mlcore.blazepose.predictor import BlazePosePredictor
from mlcore.blazepose.tail import FrontierNet
from mlcore.blazepose.training import (
    inner_split,
    new_heads,
    new_stage_heads,
    predict_rows,
    side_convention,
    train_heads,
)
from mlcore.skeletons import COCO17
from mlcore.training.common import seed_everything
from mlcore.training.keypoints import load_samples

HEADS = HeadTrainConfig(patience=6)  # the app's crops; the patience its figures were measured with
STAGE_SCALE = [0.0]  # --stage-scale
SIDES = ["named"]  # --sides


def eval_rows(cache: CropCache, frames: np.ndarray, min_presence: float) -> tuple[np.ndarray, np.ndarray]:
    """(box rows, whole-frame rows) of each frame in ``frames``: the BOX crop; the DETECTOR crop when its
    presence passes, else the FALLBACK crop (what the app predicts on a frame without a box)."""
    box = {int(cache.sample[r]): int(r) for r in cache.rows(frames, (BOX,))}
    det = {int(cache.sample[r]): int(r) for r in cache.rows(frames, (DETECTOR,)) if cache.presence[r] >= min_presence}
    fb = {int(cache.sample[r]): int(r) for r in cache.rows(frames, (FALLBACK,))}
    return (np.asarray([box[int(i)] for i in frames]),
            np.asarray([det.get(int(i), fb.get(int(i), box[int(i)])) for i in frames]))


def mirrored_by_row(cache: CropCache, rows: np.ndarray, images: list[np.ndarray],
                    predictor: BlazePosePredictor) -> dict[int, np.ndarray]:
    """The cache's features of each row's crop mirrored left-right (the flip pass), by row."""
    return dict(zip(rows.tolist(), mirrored_features(predictor.net, cache, rows, images), strict=True))


def flip_predictions(heads: KeypointHeads, cache: CropCache, rows: np.ndarray,
                     mirrored: dict[int, np.ndarray]) -> np.ndarray:
    """(len(rows), K, 3) keypoints in image pixels from the mirrored crops, un-mirrored and left/right swapped."""
    return flip_rows(heads, np.stack([mirrored[int(r)] for r in rows]), cache.matrices[rows], COCO17.flip_index,
                     HEADS.window)


def signals(heads: KeypointHeads, cache: CropCache, rows: np.ndarray, mirrored: dict[int, np.ndarray],
            boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Predictions (N, K, 3), the mirrored pass's (N, K, 3) and per-frame signals (N,) for ``rows``."""
    pred = predict_rows(heads, cache, rows, HEADS.window)
    flip = flip_predictions(heads, cache, rows, mirrored)
    sig = {"confidence": unc.frame_mean(unc.confidence(pred[..., 2])),
           "flip": unc.frame_mean(unc.flip_disagreement(pred, flip, boxes))}
    return pred, flip, sig


def points_to_fix(pred: np.ndarray, gt: np.ndarray, areas: np.ndarray) -> np.ndarray:
    """(N,) labelled points whose own OKS term is < 0.5."""
    return (metrics.oks_per_keypoint(pred, gt, areas, COCO17.sigma_array) < 0.5).sum(axis=1)


def fit(cache: CropCache, samples, train: np.ndarray, val: np.ndarray | None, predictor: BlazePosePredictor,
        cfg: HeadTrainConfig):
    """train_heads on the cache; with ``--stage-scale`` > 0 the backbone's last stage trains with the heads,
    as the app trains them (the cache then holds that stage's inputs: ``tail.FrontierNet``)."""
    net = getattr(predictor.net, "net", predictor.net)  # the landmark net itself, under a FrontierNet
    # --sides chosen: the heads start in the training labels' left/right convention, as the app's do
    mirrored = SIDES[0] == "chosen" and side_convention(cache, cache.rows(train, (BOX,)), samples, COCO17)["mirrored"]
    model = None
    if STAGE_SCALE[0] > 0:
        seed_everything(cfg.seed)
        model = new_stage_heads(COCO17, net, cfg.hidden, STAGE_SCALE[0], mirrored=mirrored)
    elif mirrored:
        model = new_heads(COCO17, net, cfg.hidden, mirrored)
    return train_heads(cache, samples, train, val, COCO17, net, cfg, model=model)


def uncertainty_capture(cache, samples, table, data, folds, mirrored, predictor) -> None:
    per_mode: dict[str, dict[str, list]] = {m: {"oks": [], "confidence": [], "flip": [], "averaged_oks": [],
                                                "to_fix": [], "averaged_to_fix": []} for m in ("box", "frame")}
    for f, (tr, te) in enumerate(folds):
        tr, te = np.asarray(tr), np.asarray(te)
        itr, ival = _inner(coco.subset(data, table.image_ids[tr]), tr, table, f)
        cfg = HeadTrainConfig(**{**HEADS.to_dict(), "seed": f})
        heads, _, _ = fit(cache, samples, tr[itr], tr[ival], predictor, cfg)
        box_rows, frame_rows = eval_rows(cache, te, HEADS.min_presence)
        for mode, rows in (("box", box_rows), ("frame", frame_rows)):
            boxes = samples.bboxes[te]
            pred, flip, sig = signals(heads, cache, rows, mirrored, boxes)
            gt, areas = samples.keypoints[te], samples.areas[te]
            oks = metrics.oks(pred, gt, areas, COCO17.sigma_array)
            per_mode[mode]["oks"].extend(oks.tolist())
            # Flip test as top-down pose models evaluate: the mean of the plain and the mirrored pass.
            flip_test = averaged(pred, flip)
            per_mode[mode]["averaged_oks"].extend(metrics.oks(flip_test, gt, areas, COCO17.sigma_array).tolist())
            per_mode[mode]["to_fix"].extend(points_to_fix(pred, gt, areas).tolist())
            per_mode[mode]["averaged_to_fix"].extend(points_to_fix(flip_test, gt, areas).tolist())
            for k, v in sig.items():
                per_mode[mode][k].extend(v.tolist())
        emit(f"heads_loop.uncertainty.fold{f}.done", int(len(te)), "frames")
    for mode, cols in per_mode.items():
        oks = np.asarray(cols["oks"])
        err = oks < 0.5
        sig = {k: np.asarray(cols[k]) for k in ("confidence", "flip")}
        emit(f"heads_loop.uncertainty.{mode}.error_rate", round(float(err.mean()), 4), "share", frames=len(oks),
             errors=int(err.sum()), mean_oks=round(float(np.nanmean(oks)), 4),
             points_to_fix=round(float(np.mean(cols["to_fix"])), 2))
        emit(f"heads_loop.keypoints.{mode}.flip_averaged_mean_oks", round(float(np.nanmean(cols["averaged_oks"])), 4),
             "OKS", plain=round(float(np.nanmean(oks)), 4),
             points_to_fix=round(float(np.mean(cols["averaged_to_fix"])), 2),
             plain_points_to_fix=round(float(np.mean(cols["to_fix"])), 2))
        for name, values in {**sig, "combined": unc.combine(sig)}.items():
            res = unc.error_capture(values, err, 0.2)
            emit(f"heads_loop.uncertainty.{mode}.error_capture@20%.{name}", round(res["capture"], 4), "share",
                 precision=round(res["precision"], 4), ceiling=round(res["ceiling"], 4), random_capture=0.2)


def _inner(sub, tr, table, seed):
    """Clip-grouped inner split of the outer training frames (indices into ``tr``)."""
    from mlcore.training.keypoint_common import KeypointSamples

    fake = KeypointSamples(images=[None] * len(tr), keypoints=table.keypoints[tr], bboxes=table.bboxes[tr],
                           areas=table.areas[tr], image_ids=table.image_ids[tr], missing=0)
    return inner_split(fake, sub, HEADS.inner_val_folds, HEADS.seed + seed)


def active_learning(cache, samples, table, folds, mirrored, predictor, args) -> None:
    results = {"uncertainty": [], "random": []}
    auc = {"uncertainty": [], "random": []}
    for run in range(args.first_run, args.runs):
        fold, seed = run % len(folds), run // len(folds)
        tr, te = (np.asarray(x) for x in folds[fold])
        rng = np.random.default_rng([seed, fold])
        start = sorted(rng.choice(tr, args.seed_frames, replace=False).tolist())
        box_te, _ = eval_rows(cache, te, HEADS.min_presence)
        cfg = HeadTrainConfig(**{**HEADS.to_dict(), "epochs": args.epochs, "seed": seed})
        full_heads, _, _ = fit(cache, samples, tr, None, predictor, cfg)
        full = float(np.nanmean(metrics.oks(predict_rows(full_heads, cache, box_te, HEADS.window),
                                            samples.keypoints[te], samples.areas[te], COCO17.sigma_array)))
        for strategy in ("uncertainty", "random"):
            labelled, pick = list(start), np.random.default_rng([seed, fold, 1])
            curve = []
            t0 = time.time()
            while True:
                heads, _, _ = fit(cache, samples, np.asarray(labelled), None, predictor, cfg)
                pred = predict_rows(heads, cache, box_te, HEADS.window)
                score = float(np.nanmean(metrics.oks(pred, samples.keypoints[te], samples.areas[te],
                                                     COCO17.sigma_array)))
                curve.append((len(labelled), score))
                hidden = np.asarray(sorted(set(tr.tolist()) - set(labelled)))
                if not len(hidden):
                    break
                k = min(args.batch, len(hidden))
                if strategy == "random":
                    chosen = pick.choice(hidden, k, replace=False).tolist()
                else:
                    _, frame_rows = eval_rows(cache, hidden, HEADS.min_presence)
                    boxes = np.stack([_box_around(p) for p in predict_rows(heads, cache, frame_rows, HEADS.window)])
                    _, _, sig = signals(heads, cache, frame_rows, mirrored, boxes)
                    priority = unc.combine(sig)
                    if args.clip_cap > 0:
                        order = unc.diverse_order(priority, [table.clip_ids[int(i)] for i in hidden], args.clip_cap)
                    else:
                        order = np.argsort(-priority, kind="stable")
                    chosen = hidden[order[:k]].tolist()
                labelled = sorted(set(labelled) | {int(c) for c in chosen})
            reach = next((n for n, s in curve if s >= 0.95 * full), curve[-1][0])
            results[strategy].append(reach)
            auc[strategy].append(_curve_mean([[n, v] for n, v in curve]))
            emit(f"heads_loop.al.run{run}.{strategy}.frames_to_95pct", reach, "frames", fold=fold, seed=seed,
                 full_pool_mean_oks=round(full, 4), curve=[[n, round(s, 4)] for n, s in curve],
                 seconds=round(time.time() - t0, 1))
    summarise(results, auc)


def summarise(results: dict[str, list[int]], auc: dict[str, list[float]]) -> None:
    """Mean frames-to-95% per order over the runs (paired), and the Wilcoxon test of random - uncertainty."""
    u, r = np.asarray(results["uncertainty"]), np.asarray(results["random"])
    for strategy, values in results.items():
        emit(f"heads_loop.al.{strategy}.frames_to_95pct.mean", round(float(np.mean(values)), 1), "frames",
             runs=len(values), values=[int(v) for v in values], mean_curve_oks=round(float(np.mean(auc[strategy])), 4))
    diff = r - u
    test = stats.wilcoxon(r, u) if np.any(diff != 0) else None
    emit("heads_loop.al.random_minus_uncertainty.frames_to_95pct", round(float(diff.mean()), 1), "frames",
         runs=len(diff), wilcoxon_p=None if test is None else round(float(test.pvalue), 4),
         auc_diff_mean=round(float(np.mean(np.asarray(auc["uncertainty"]) - np.asarray(auc["random"]))), 4))


def summarise_files(paths: list[str]) -> None:
    """``summarise`` over the run lines of earlier outputs (runs that have both orders)."""
    import json

    rows: dict[tuple[int, str], dict] = {}
    for path in paths:
        for line in open(path, encoding="utf-8"):
            if not line.startswith("{"):  # a shell's or a traceback's line in a saved log
                continue
            row = json.loads(line)
            parts = row["metric"].split(".")
            if parts[:2] == ["heads_loop", "al"] and parts[2].startswith("run") and parts[-1] == "frames_to_95pct":
                rows[(int(parts[2][3:]), parts[3])] = row
    runs = sorted({run for run, _ in rows if (run, "uncertainty") in rows and (run, "random") in rows})
    results = {s: [rows[(run, s)]["value"] for run in runs] for s in ("uncertainty", "random")}
    auc = {s: [_curve_mean(rows[(run, s)]["curve"]) for run in runs] for s in ("uncertainty", "random")}
    summarise(results, auc)


def _curve_mean(curve: list[list[float]]) -> float:
    xs, ys = np.array([n for n, _ in curve], float), np.array([v for _, v in curve])
    return float(np.trapezoid(ys, xs) / (xs[-1] - xs[0]))


def _box_around(kp: np.ndarray) -> np.ndarray:
    lo, hi = kp[:, :2].min(axis=0), kp[:, :2].max(axis=0)
    return np.array([lo[0], lo[1], max(hi[0] - lo[0], 1.0), max(hi[1] - lo[1], 1.0)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seed-frames", type=int, default=10)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=8, help="heads epochs per active-learning round")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clip-cap", type=int, default=0, help="at most this many frames of a clip per round (0: no cap)")
    ap.add_argument("--first-run", type=int, default=0, help="start at this run (runs are independent)")
    ap.add_argument("--skip-uncertainty", action="store_true")
    ap.add_argument("--skip-al", action="store_true")
    ap.add_argument("--stage-scale", type=float, default=0.0,
                    help="train the backbone's last stage with the heads at this fraction of their learning rate "
                         "(the app's default 0.1; 0: heads alone, as the figures in docs/mlcore.md before it)")
    ap.add_argument("--sides", choices=["named", "chosen"], default="named",
                    help="heads start from BlazePose's left/right channels as named (the figures in docs/mlcore.md) "
                         "or in the training labels' convention, as the app's training does")
    ap.add_argument("--summarise", nargs="+", metavar="OUT", help="only summarise the run lines of these outputs")
    args = ap.parse_args()
    if args.summarise:
        summarise_files(args.summarise)
        return
    torch.set_num_threads(args.threads)
    data, images = load_barbell()
    table = coco.keypoint_table(data, COCO17)
    folds = metrics.group_kfold(table.clip_ids, FOLDS, seed=FOLD_SEED, labels=table.form_labels)
    samples = load_samples(data, images, COCO17)
    if samples.missing or not np.array_equal(samples.image_ids, table.image_ids):
        raise SystemExit("expected every annotated frame on disk, in table order")
    predictor = BlazePosePredictor(box_roi=HEADS.box_roi, box_rotation=HEADS.box_rotation, track=HEADS.track)
    STAGE_SCALE[0], SIDES[0] = args.stage_scale, args.sides
    if args.stage_scale > 0:  # crops (and mirrored crops) keep the last stage's inputs
        predictor.net = FrontierNet(predictor.net)  # type: ignore[assignment]
    t = time.time()
    store = CropStore(out_dir() / "crops", max_bytes=2**40)
    cache = build_cache(samples, COCO17, predictor, HEADS, store=store)
    everything = np.arange(len(samples.images))
    box_rows, frame_rows = eval_rows(cache, everything, HEADS.min_presence)
    mirrored = mirrored_by_row(cache, np.unique(np.concatenate([box_rows, frame_rows])), samples.images, predictor)
    emit("heads_loop.cache_seconds", round(time.time() - t, 1), "s", crops=len(cache.sample),
         from_store=store.hits, computed=store.misses, mirrored=len(mirrored))
    if not args.skip_uncertainty:
        uncertainty_capture(cache, samples, table, data, folds, mirrored, predictor)
    if not args.skip_al:
        active_learning(cache, samples, table, folds, mirrored, predictor, args)


if __name__ == "__main__":
    main()
