"""Where the shipped keypoint model loses OKS on held-out clips, and what an ensemble of its trainings buys.

    MLCORE_BENCH_OUT=/tmp/kperr .venv/bin/python bench/mlcore_kp_errors.py [--threads 2] [--from-saved]

The folds, crops (``bench/mlcore_tail.py``'s cache, the app's 2 jittered crops) and evaluation of
``bench/mlcore_tail.py``. Per outer fold, the shipped training (8 x 8 stage + heads, the app's patience 3)
runs three times, holding out inner clip-grouped fold 0, 1 and 2 of the training clips in turn for early
stopping (member 0 is what the app trains), and once more on every training clip for the median of the
three best epoch counts ("refit"). Nothing is chosen on the outer test clips: every arm below is
reported. Prints JSON lines:

- ``kp_errors.<arm>.<box|frame>``: mean OKS, OKS-AP and points to fix per arm: each member, the refit,
  the mean of the members' heatmap probabilities ("ens3") and of all four ("ens3+refit");
- ``kp_errors.per_keypoint``: member 0's mean OKS term and share of frames where the point is to fix
  (term < 0.5), person boxes;
- ``kp_errors.order``: per clip and left/right arm pair, whether the labels keep one left-to-right order
  in x through the clip, and in how many frames member 0's prediction has the same order.
The trained heatmaps are kept in $MLCORE_BENCH_OUT/kp_errors.pkl; ``--from-saved`` only reports.
"""

from __future__ import annotations

import argparse
import pickle
import time
from typing import Any

import numpy as np
import torch
from mlcore_common import FOLD_SEED, FOLDS, emit, load_barbell, out_dir
from mlcore_finetune import _box_around, heads_result, load_samples_index, scores
from mlcore_tail import crop_cache

from mlcore import coco, metrics
from mlcore.blazepose.crops import BOX, DETECTOR, FALLBACK, CropCache
from mlcore.blazepose.head_config import HeadTrainConfig
from mlcore.blazepose.heads import STRIDE, decode_heatmaps
from mlcore.blazepose.predictor import BlazePosePredictor
from mlcore.blazepose.tail import STAGE_STARTS, FrontierNet
from mlcore.blazepose.training import new_stage_heads, train_heads
from mlcore.skeletons import COCO17
from mlcore.training.keypoints import load_samples
from mlcore.transforms import apply_affine, invert_affine

MEMBERS = 3
ARM_PAIRS = {"shoulder": (5, 6), "elbow": (7, 8), "wrist": (9, 10)}


class _StopAfter(Exception):
    """Raised from the progress callback to end the refit after its epoch count."""


def log_probs(model: Any, cache: CropCache, rows: np.ndarray) -> np.ndarray:
    """(len(rows), K, 64, 64) float16 log-softmax of the heatmaps of cached crops ``rows``."""
    out = []
    model.eval()
    with torch.no_grad():
        for s in range(0, len(rows), 64):
            r = rows[s:s + 64]
            logits = model(torch.from_numpy(cache.features[r].astype(np.float32)))
            out.append(torch.log_softmax(logits.flatten(2), -1).reshape(logits.shape).numpy().astype(np.float16))
    return np.concatenate(out)


def mean_log_prob(parts: list[np.ndarray]) -> np.ndarray:
    """Log of the mean probability of several (N, K, H, W) log-probability maps: the ensemble's heatmap."""
    return np.log(np.maximum(np.mean([np.exp(p.astype(np.float32)) for p in parts], axis=0), 1e-30))


def to_image(logp: np.ndarray, cache: CropCache, rows: np.ndarray, window: int) -> np.ndarray:
    """Decoded keypoints (len(rows), K, 3) in image pixels."""
    dec = decode_heatmaps(logp, window)
    for d, m in zip(dec, cache.matrices[rows], strict=True):
        d[:, :2] = apply_affine(d[:, :2] * STRIDE, invert_affine(m))
    return dec


def train_fold(cache: CropCache, samples: Any, data: dict[str, Any], table: Any, tr: np.ndarray, net: Any,
               cfg: HeadTrainConfig, fold: int, test_rows: np.ndarray) -> dict[str, Any]:
    """The members' and the refit's log-probability maps on ``test_rows``."""
    sub = coco.subset(data, table.image_ids[tr])
    index = load_samples_index(sub, tr, table)
    clip_of = {img["id"]: coco.clip_id(img) for img in sub["images"]}
    inner = metrics.group_kfold([clip_of[int(i)] for i in index.image_ids], cfg.inner_val_folds, seed=fold)
    first = STAGE_STARTS[1]
    members, best_epochs = [], []
    for m in range(MEMBERS):
        itr, ival = (np.asarray(x, dtype=np.int64) for x in inner[m])
        torch.manual_seed(fold)
        model = new_stage_heads(COCO17, net, cfg.hidden, cfg.stage_scale, first=first)
        t = time.time()
        model, _, stopper = train_heads(cache, samples, tr[itr], tr[ival], COCO17, net, cfg, model=model)
        best_epochs.append(stopper.best_epoch + 1)
        members.append(log_probs(model, cache, test_rows))
        emit(f"kp_errors.fold{fold}.member{m}", round(float(stopper.best), 4), "inner mean OKS",
             best_epoch=stopper.best_epoch + 1, seconds=round(time.time() - t, 1))
    epochs = max(1, int(round(float(np.median(best_epochs)))))
    torch.manual_seed(fold)
    model = new_stage_heads(COCO17, net, cfg.hidden, cfg.stage_scale, first=first)
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
    return {"members": members, "refit": log_probs(model, cache, test_rows)}


def report(saved: dict[int, Any], cache: CropCache, data: dict[str, Any], table: Any, window: int) -> None:
    frame_ids = [int(i) for i in table.image_ids]
    arms = {f"member{m}": (lambda F, m=m: F["members"][m]) for m in range(MEMBERS)}
    arms.update({"refit": lambda F: F["refit"], "ens3": lambda F: mean_log_prob(F["members"]),
                 "ens3+refit": lambda F: mean_log_prob([*F["members"], F["refit"]])})
    results: dict[str, list[dict[str, Any]]] = {}
    terms, order = [], []
    for F in saved.values():
        for arm, get in arms.items():
            kp = to_image(get(F), cache, F["rows"], window)
            by = {(int(cache.sample[r]), int(cache.kind[r])): kp[j] for j, r in enumerate(F["rows"])}
            for i in (int(x) for x in F["te"]):
                box = by[(i, BOX)]
                whole = by.get((i, DETECTOR), by.get((i, FALLBACK)))
                results.setdefault(f"{arm}.box", []).append(heads_result(box, table.bboxes[i], frame_ids[i]))
                if whole is not None:
                    results.setdefault(f"{arm}.frame", []).append(heads_result(whole, _box_around(whole), frame_ids[i]))
                if arm == "member0":
                    gt = table.keypoints[i]
                    terms.append(metrics.oks_per_keypoint(box[None], gt[None], table.areas[i:i + 1],
                                                          COCO17.sigma_array)[0])
                    order.append((table.clip_ids[i], gt[:, 0], box[:, 0]))
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--folds", type=int, nargs="+", default=list(range(FOLDS)))
    ap.add_argument("--from-saved", action="store_true", help="report on the heatmaps a previous run kept")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = HeadTrainConfig(variants=2, patience=3)  # the app's DEFAULT_HEAD_CONFIG
    data, images = load_barbell()
    table = coco.keypoint_table(data, COCO17)
    folds = metrics.group_kfold(table.clip_ids, FOLDS, seed=FOLD_SEED, labels=table.form_labels)
    samples = load_samples(data, images, COCO17)
    predictor = BlazePosePredictor(box_roi=cfg.box_roi, box_rotation=cfg.box_rotation, track=cfg.track)
    net = predictor.net
    predictor.net = FrontierNet(net, STAGE_STARTS[1])  # type: ignore[assignment]
    cache = crop_cache(samples, predictor, cfg, args.threads, STAGE_STARTS[1])
    path = out_dir() / "kp_errors.pkl"
    saved: dict[int, Any] = {}
    if args.from_saved:
        with open(path, "rb") as fh:
            saved = pickle.load(fh)
    else:
        for f in args.folds:
            tr, te = (np.asarray(x) for x in folds[f])
            kept = [r for r in cache.rows(te, (DETECTOR,)) if cache.presence[r] >= cfg.min_presence]
            rows = np.concatenate([cache.rows(te, (BOX,)), np.asarray(kept, dtype=np.int64),
                                   cache.rows(te, (FALLBACK,))]).astype(np.int64)
            fold_cfg = HeadTrainConfig(**{**cfg.to_dict(), "seed": f})
            saved[f] = {"te": te, "rows": rows, **train_fold(cache, samples, data, table, tr, net, fold_cfg, f, rows)}
            with open(path, "wb") as fh:
                pickle.dump(saved, fh)
    report(saved, cache, data, table, cfg.window)


if __name__ == "__main__":
    main()
