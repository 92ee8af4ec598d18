"""Where the shipped keypoint model loses OKS on held-out clips, and what an ensemble of its trainings buys.

    MLCORE_BENCH_OUT=/tmp/kperr .venv/bin/python bench/mlcore_kp_errors.py [--threads 2] [--from-saved]
        [--members 3] [--no-refit] [--sides chosen|named] [--ema-epochs E]

The folds, crops (``bench/mlcore_tail.py``'s cache, the app's 2 jittered crops) and evaluation of
``bench/mlcore_tail.py``. Per outer fold, the shipped training (8 x 8 stage + heads, the app's patience 3)
runs three times, holding out inner clip-grouped fold 0, 1 and 2 of the training clips in turn for early
stopping (member 0 is what the app trains), and once more on every training clip for the median of the
three best epoch counts ("refit"). Every training starts its left/right heads in the side convention
of its training labels, as the app does (``training.side_convention``; ``--sides named`` starts them as
named). Nothing is chosen on the outer test clips: every arm below is reported. Prints JSON lines:

- ``kp_errors.<arm>.<box|frame>``: mean OKS, OKS-AP and points to fix per arm: each member, the refit,
  the mean of the members' heatmap probabilities ("ens3") and of all four ("ens3+refit"); the flip test
  (mean of the plain and the mirrored pass, ``mlcore.blazepose.flip_test``) of member 0 always
  ("member0+flip"), of member 0 where its inner clips chose it as the app's training does
  ("member0+chosen_flip": what the app predicts) and of the ensemble ("ens3+flip");
- ``kp_errors.fold<f>.flip_choice``: member 0's plain and flip-averaged mean OKS on its inner clips;
- the app's predictions (``member0+chosen_flip``) smoothed along each held-out clip
  (``mlcore.temporal_smoothing``: each point the median over its neighbouring frames), every point with
  the same radius (``+smooth1/2/3/_clip``: all reported, none chosen) and with each point's radius chosen
  on member 0's inner clips (``+chosen_smooth``; ``kp_errors.fold<f>.radius_choice``);
- ``kp_errors.per_keypoint``: member 0's mean OKS term and share of frames where the point is to fix
  (term < 0.5), person boxes;
- ``kp_errors.order``: per clip and left/right arm pair, whether the labels keep one left-to-right order
  in x through the clip, and in how many frames member 0's prediction has the same order.
- ``kp_errors.side_swap_oracle``: member 0's mean OKS with person boxes as predicted, and with each
  left/right pair swapped wherever that scores higher (per frame, per clip): an upper bound, not an arm.
The trained heatmaps are kept in $MLCORE_BENCH_OUT/kp_errors.pkl; ``--from-saved`` only reports.
"""

from __future__ import annotations

import argparse
import pickle
import time
from typing import Any

import numpy as np
import torch
from mlcore_common import FOLDS, emit, out_dir
from mlcore_finetune import _box_around, heads_result, load_samples_index, scores
from mlcore_tail import setup

from mlcore import coco, metrics
from mlcore.blazepose.crops import BOX, DETECTOR, FALLBACK, CropCache, mirrored_features
from mlcore.blazepose.ensemble import mean_probability_logits
from mlcore.blazepose.flip_test import averaged, unmirror
from mlcore.blazepose.head_config import HeadTrainConfig
from mlcore.blazepose.tail import STAGE_STARTS, FrontierNet
from mlcore.blazepose.training import (
    decode_rows,
    flip_choice,
    inner_split,
    new_stage_heads,
    predict_rows,
    side_convention,
    train_heads,
)
from mlcore.skeletons import COCO17
from mlcore.temporal_smoothing import RADII, WHOLE_CLIP, choose_radii, smooth_in_clips

MEMBERS = 3
ARM_PAIRS = {"shoulder": (5, 6), "elbow": (7, 8), "wrist": (9, 10)}


class _StopAfter(Exception):
    """Raised from the progress callback to end the refit after its epoch count."""


def log_probs(model: Any, features: np.ndarray) -> np.ndarray:
    """(N, K, 64, 64) float16 log-softmax of the heatmaps of crop features (N, F)."""
    out = []
    model.eval()
    with torch.no_grad():
        for s in range(0, len(features), 64):
            logits = model(torch.from_numpy(features[s:s + 64].astype(np.float32)))
            out.append(torch.log_softmax(logits.flatten(2), -1).reshape(logits.shape).numpy().astype(np.float16))
    return np.concatenate(out)


def mean_log_prob(parts: list[np.ndarray]) -> np.ndarray:
    """Log of the mean probability of several (N, K, H, W) log-probability maps: the ensemble's heatmap, as
    the app's ``HeadsEnsemble`` averages its members."""
    return mean_probability_logits([torch.from_numpy(p.astype(np.float32)) for p in parts]).numpy()


def train_fold(cache: CropCache, samples: Any, data: dict[str, Any], table: Any, tr: np.ndarray, net: Any,
               cfg: HeadTrainConfig, fold: int, test_rows: np.ndarray, members: int = MEMBERS,
               refit: bool = True, sides: str = "chosen") -> dict[str, Any]:
    """The members' and the refit's log-probability maps on ``test_rows``, plain and mirrored. sides: "chosen"
    starts the heads from BlazePose's channels as the app does (``training.side_convention`` on the training
    frames), "named" always from the channels of the same name."""
    sub = coco.subset(data, table.image_ids[tr])
    index = load_samples_index(sub, tr, table)
    first = STAGE_STARTS[1]
    convention = side_convention(cache, cache.rows(tr, (BOX,)), samples, COCO17)
    start_mirrored = convention["mirrored"] and sides == "chosen"
    emit(f"kp_errors.fold{fold}.side_convention", convention, "BlazePose's landmarks on the training frames",
         heads_start_mirrored=start_mirrored)
    mirrored = mirrored_features(FrontierNet(net, first), cache, test_rows, samples.images)
    members_out, flipped, best_epochs = [], [], []
    choice: dict[str, Any] = {}
    for m in range(members):
        itr, ival = inner_split(index, sub, cfg.inner_val_folds, cfg.seed, index=m)  # cfg.seed is the fold
        torch.manual_seed(fold)
        model = new_stage_heads(COCO17, net, cfg.hidden, cfg.stage_scale, first=first, mirrored=start_mirrored)
        t = time.time()
        model, _, stopper = train_heads(cache, samples, tr[itr], tr[ival], COCO17, net, cfg, model=model)
        best_epochs.append(stopper.best_epoch + 1)
        members_out.append(log_probs(model, cache.features[test_rows]))
        flipped.append(log_probs(model, mirrored))
        if m == 0:  # the app's choices, on its inner clips: flip test, then each point's smoothing radius
            val_rows = cache.rows(tr[ival], (BOX,))
            val_plain = predict_rows(model, cache, val_rows, cfg.window)
            choice, val_mirrored = flip_choice(model, net, cache, val_rows, val_plain, samples, COCO17, cfg)
            val_pred = averaged(val_plain, val_mirrored) if choice["flip_average"] else val_plain
            idx = cache.sample[val_rows]
            clips, frames = clip_frames(data, table, idx)
            radii = choose_radii(val_pred, samples.keypoints[idx], samples.areas[idx], COCO17.sigma_array, clips,
                                 frames)
            emit(f"kp_errors.fold{fold}.flip_choice", choice, "member0 on its inner clips")
            emit(f"kp_errors.fold{fold}.radius_choice", radii["radius"], "frames, member0 on its inner clips")
        emit(f"kp_errors.fold{fold}.member{m}", round(float(stopper.best), 4), "inner mean OKS",
             best_epoch=stopper.best_epoch + 1, seconds=round(time.time() - t, 1))
    out = {"members": members_out, "flipped": flipped, "flip_choice": choice, "radius_choice": radii}
    if not refit:
        return out
    epochs = max(1, int(round(float(np.median(best_epochs)))))
    torch.manual_seed(fold)
    model = new_stage_heads(COCO17, net, cfg.hidden, cfg.stage_scale, first=first, mirrored=start_mirrored)
    seen = {"epochs": 0}

    def stop_after(_fraction: float, _message: str) -> None:
        seen["epochs"] += 1
        if seen["epochs"] >= epochs:
            raise _StopAfter

    try:  # the same learning-rate schedule as the members, cut at their median best epoch
        train_heads(cache, samples, tr, None, COCO17, net, cfg, progress=stop_after, model=model)
    except _StopAfter:
        pass
    emit(f"kp_errors.fold{fold}.refit", epochs, "epochs")
    return {**out, "refit": log_probs(model, cache.features[test_rows])}


def clip_frames(data: dict[str, Any], table: Any, idx: np.ndarray) -> tuple[list[str], list[int | None]]:
    """Clip ids and frame numbers of table rows ``idx``."""
    image = {int(img["id"]): img for img in data["images"]}
    return ([str(table.clip_ids[i]) for i in idx],
            [coco.frame_index(image[int(table.image_ids[i])]) for i in idx])


def report(saved: dict[int, Any], cache: CropCache, data: dict[str, Any], table: Any, window: int) -> None:
    frame_ids = [int(i) for i in table.image_ids]
    flip_index = COCO17.flip_index

    def plain(logp: np.ndarray, F: dict[str, Any]) -> np.ndarray:
        return decode_rows(logp, cache.matrices[F["rows"]], window)

    def flip_test(logp: np.ndarray, mirrored: np.ndarray, F: dict[str, Any]) -> np.ndarray:
        return averaged(plain(logp, F), unmirror(mirrored, cache.matrices[F["rows"]], flip_index, window))

    first = next(iter(saved.values()))
    n = len(first["members"])  # what the run trained: members, and the refit unless --no-refit
    arms = {f"member{m}": (lambda F, m=m: plain(F["members"][m], F)) for m in range(n)}
    arms.update({"member0+flip": lambda F: flip_test(F["members"][0], F["flipped"][0], F),
                 # what the app predicts: member 0, with the flip test where its inner clips chose it
                 "member0+chosen_flip": lambda F: (flip_test(F["members"][0], F["flipped"][0], F)
                                                   if F["flip_choice"]["flip_average"] else plain(F["members"][0], F))})
    if n > 1:
        arms.update({f"ens{n}": lambda F: plain(mean_log_prob(F["members"]), F),
                     f"ens{n}+flip": lambda F: flip_test(mean_log_prob(F["members"]), mean_log_prob(F["flipped"]), F),
                     # the flip test where member 0's inner clips chose it (the app's training with `members` n
                     # now pools every member's clips for the choice: training.members_flip_choice)
                     f"ens{n}+chosen_flip": lambda F: (
                         flip_test(mean_log_prob(F["members"]), mean_log_prob(F["flipped"]), F)
                         if F["flip_choice"]["flip_average"] else plain(mean_log_prob(F["members"]), F))})
    if "refit" in first:
        arms.update({"refit": lambda F: plain(F["refit"], F),
                     f"ens{n}+refit": lambda F: plain(mean_log_prob([*F["members"], F["refit"]]), F)})
    results: dict[str, list[dict[str, Any]]] = {}
    terms, order, member0_box = [], [], []
    for F in saved.values():
        te = np.asarray(F["te"], dtype=np.int64)
        clips, frames = clip_frames(data, table, te)
        for arm, get in arms.items():
            kp = get(F)
            by = {(int(cache.sample[r]), int(cache.kind[r])): kp[j] for j, r in enumerate(F["rows"])}
            box = np.stack([by[(int(i), BOX)] for i in te])
            whole = np.stack([by.get((int(i), DETECTOR), by.get((int(i), FALLBACK), np.full_like(box[0], np.nan)))
                              for i in te])
            missing = np.isnan(whole).all(axis=(1, 2))  # no whole-frame prediction (none is made up below)
            variants = {arm: (box, whole)}
            if arm == "member0+chosen_flip":  # the app's predictions smoothed along each test clip
                for r in RADII[1:]:
                    variants[f"{arm}+smooth{'_clip' if r == WHOLE_CLIP else r}"] = tuple(
                        smooth_in_clips(p, clips, frames, np.full(len(COCO17.keypoints), r)) for p in (box, whole))
                variants[f"{arm}+chosen_smooth"] = tuple(
                    smooth_in_clips(p, clips, frames, F["radius_choice"]["radius"]) for p in (box, whole))
            for name, (b, w) in variants.items():
                for j, i in enumerate(int(x) for x in te):
                    results.setdefault(f"{name}.box", []).append(heads_result(b[j], table.bboxes[i], frame_ids[i]))
                    if not missing[j]:
                        results.setdefault(f"{name}.frame", []).append(heads_result(w[j], _box_around(w[j]),
                                                                                    frame_ids[i]))
            if arm == "member0":
                for j, i in enumerate(int(x) for x in te):
                    gt = table.keypoints[i]
                    terms.append(metrics.oks_per_keypoint(box[j][None], gt[None], table.areas[i:i + 1],
                                                          COCO17.sigma_array)[0])
                    order.append((table.clip_ids[i], gt[:, 0], box[j][:, 0]))
                    member0_box.append((table.clip_ids[i], box[j], gt, float(table.areas[i])))
    ids = {frame_ids[int(i)] for F in saved.values() for i in F["te"]}
    for key, got in results.items():
        emit(f"kp_errors.{key}", scores(data, got, ids), "")
    t = np.asarray(terms)
    labelled = ~np.isnan(t)
    emit("kp_errors.per_keypoint", {n: {"mean_oks_term": round(float(np.nanmean(t[:, k])), 3),
                                        "to_fix": round(float(((t[:, k] < 0.5) & labelled[:, k]).sum()
                                                              / max(1, labelled[:, k].sum())), 3)}
                                    for k, n in enumerate(COCO17.keypoints)}, "member0, person box")
    for name, (a, b) in ARM_PAIRS.items():
        for clip in sorted({c for c, _, _ in order}):
            gx = np.array([g[a] - g[b] for c, g, _ in order if c == clip])
            px = np.array([p[a] - p[b] for c, _, p in order if c == clip])
            label_order = int(np.sign(np.median(gx)))
            emit("kp_errors.order", {"pair": name, "clip": clip, "frames": len(gx),
                                     "labels_one_order": bool(np.all(np.sign(gx) == label_order)),
                                     "predicted_same_order": int((np.sign(px) == np.sign(gx)).sum())}, "")
    emit("kp_errors.side_swap_oracle", swap_oracle(member0_box), "mean OKS, member0, person box")


def held_out_rows(cache: CropCache, te: np.ndarray, min_presence: float) -> np.ndarray:
    """The crops an outer fold's test frames ``te`` are scored on: every person-box crop, the detector's
    where its pose presence reaches ``min_presence``, and the whole frame where the detector found nobody."""
    kept = [r for r in cache.rows(te, (DETECTOR,)) if cache.presence[r] >= min_presence]
    return np.concatenate([cache.rows(te, (BOX,)), np.asarray(kept, dtype=np.int64),
                           cache.rows(te, (FALLBACK,))]).astype(np.int64)


def swap_oracle(items: list[tuple[str, np.ndarray, np.ndarray, float]]) -> dict[str, float]:
    """Mean OKS of (clip, prediction (K, 3), label (K, 3), area) frames as predicted, and with each
    left/right pair swapped wherever the swap scores higher, frame by frame or clip by clip: an upper
    bound on what telling the sides apart could still add."""
    clips = np.array([c for c, _, _, _ in items])
    pred = np.stack([p for _, p, _, _ in items])
    gt = np.stack([g for _, _, g, _ in items])
    areas = np.array([a for _, _, _, a in items])
    sigmas = COCO17.sigma_array

    def pair_terms(p: np.ndarray, a: int, b: int) -> np.ndarray:
        return np.nansum(metrics.oks_per_keypoint(p, gt, areas, sigmas)[:, [a, b]], axis=1)

    by_frame, by_clip = pred.copy(), pred.copy()
    for a, b in enumerate(COCO17.flip_index):
        if a >= b:  # each pair once; centre points are their own twins
            continue
        swapped = pred.copy()
        swapped[:, [a, b]] = pred[:, [b, a]]
        gain = pair_terms(swapped, a, b) - pair_terms(pred, a, b)
        by_frame[gain > 0, a], by_frame[gain > 0, b] = pred[gain > 0, b], pred[gain > 0, a]
        for clip in np.unique(clips):
            m = clips == clip
            if gain[m].sum() > 0:
                by_clip[m, a], by_clip[m, b] = pred[m, b], pred[m, a]
    return {name: round(float(np.nanmean(metrics.oks(p, gt, areas, sigmas))), 4)
            for name, p in (("as_predicted", pred), ("swapped_per_frame", by_frame), ("swapped_per_clip", by_clip))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--folds", type=int, nargs="+", default=list(range(FOLDS)))
    ap.add_argument("--from-saved", action="store_true", help="report on the heatmaps a previous run kept")
    ap.add_argument("--members", type=int, default=MEMBERS, help="trainings per fold (1: the app's alone)")
    ap.add_argument("--no-refit", action="store_true", help="skip the refit on every training clip")
    ap.add_argument("--sides", choices=["chosen", "named"], default="chosen",
                    help="heads start from BlazePose's left/right channels as the training frames say (the app), "
                         "or always as named")
    ap.add_argument("--ema-epochs", type=float, default=None,
                    help="moving-average horizon of the weights, in epochs (default: the app's HeadTrainConfig)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = HeadTrainConfig(members=1)  # the app's DEFAULT_HEAD_CONFIG; --members trains the others
    if args.ema_epochs is not None:
        cfg.ema_epochs = args.ema_epochs
    data, table, folds, samples, net, cache = setup(cfg, STAGE_STARTS[1], args.threads)
    path = out_dir() / "kp_errors.pkl"
    saved: dict[int, Any] = {}
    if args.from_saved:
        with open(path, "rb") as fh:
            saved = pickle.load(fh)
    else:
        for f in args.folds:
            tr, te = (np.asarray(x) for x in folds[f])
            rows = held_out_rows(cache, te, cfg.min_presence)
            fold_cfg = HeadTrainConfig(**{**cfg.to_dict(), "seed": f})
            saved[f] = {"te": te, "rows": rows, **train_fold(cache, samples, data, table, tr, net, fold_cfg, f, rows,
                                                                  args.members, not args.no_refit, args.sides)}
            with open(path, "wb") as fh:
                pickle.dump(saved, fh)
    report(saved, cache, data, table, cfg.window)


if __name__ == "__main__":
    main()
