"""Error capture at 20%: do the uncertainty signals put the bad predictions at the top of the queue?

Run (after bench/mlcore_keypoints.py and, for MediaPipe, bench/mlcore_mediapipe.py):
    .venv/bin/python bench/mlcore_uncertainty.py
A frame is an error when its prediction has OKS < 0.5 against the human label.
"Capture" = share of the error frames that land in the top 20% by a signal
(random order: 0.20); "precision" = share of errors among that top 20%
(random: the error rate). Signals are ranked over all 210 held-out frames
together. Also: label-error detection on deliberately corrupted labels.
"""

from __future__ import annotations

import numpy as np
from mlcore_common import emit, load_barbell, out_dir

from mlcore import coco, metrics
from mlcore import uncertainty as unc
from mlcore.skeletons import COCO17


def frame_table(data: dict, preds: list[dict]):
    """OKS and signals per ground-truth frame that has a prediction."""
    matched = metrics.match_predictions(data, preds, COCO17.sigma_array)
    rows = [m for m in matched if m["result"] is not None]
    oks = np.array([m["oks"] for m in rows])
    picked = [preds[m["result"]] for m in rows]
    return oks, picked, rows


def capture_report(tag: str, oks: np.ndarray, signals: dict[str, np.ndarray]) -> None:
    err = oks < 0.5
    emit(f"{tag}.error_rate", round(float(err.mean()), 4), "share", frames=len(oks), errors=int(err.sum()))
    for name, values in {**signals, "combined": unc.combine(signals)}.items():
        ok = ~np.isnan(values)
        res = unc.error_capture(np.where(ok, values, -np.inf), err, 0.2)
        emit(f"{tag}.error_capture@20%.{name}", round(res["capture"], 4), "share",
             precision=round(res["precision"], 4), random_capture=round(res["random_capture"], 4),
             random_precision=round(res["random_precision"], 4), ceiling=round(res["ceiling"], 4),
             available=int(ok.sum()))


def mediapipe_signals(data: dict, preds: list[dict]) -> dict[str, np.ndarray]:
    images = {i["id"]: i for i in data["images"]}
    kp = np.stack([np.asarray(p["keypoints"], float).reshape(17, 3) for p in preds])
    kp[..., 2] = np.stack([p["keypoint_scores"] for p in preds])
    boxes = np.stack([p["bbox"] for p in preds])
    boxes[:, 2:] = np.maximum(boxes[:, 2:], 1.0)
    flip = np.stack([np.asarray(p.get("flip_keypoints", np.full((17, 3), np.nan)), float) for p in preds])
    imgs = [images[p["image_id"]] for p in preds]
    return {
        "confidence": unc.frame_mean(unc.confidence(kp[..., 2])),
        "flip": unc.frame_mean(unc.flip_disagreement(kp, flip, boxes)),
        "temporal": unc.frame_mean(unc.temporal_jump(kp, [coco.clip_id(i) for i in imgs],
                                                     [coco.frame_index(i) for i in imgs], boxes)),
    }


def label_error_check(data: dict, preds: list[dict], share: float = 0.1, seed: int = 0) -> None:
    """Corrupt ``share`` of the human labels (3 random joints moved by 20-40% of the box) and try to find them."""
    rng = np.random.default_rng(seed)
    table = coco.keypoint_table(data)
    by_ann = {p["annotation_id"]: p for p in preds if "annotation_id" in p}
    rows = [i for i, a in enumerate(table.annotation_ids) if int(a) in by_ann]
    human = table.keypoints[rows].copy()
    bad = rng.random(len(rows)) < share
    for i in np.flatnonzero(bad):
        joints = rng.choice(17, 3, replace=False)
        size = np.sqrt(table.areas[rows[i]])
        angle = rng.uniform(0, 2 * np.pi, 3)
        dist = rng.uniform(0.2, 0.4, 3) * size
        human[i, joints, 0] += dist * np.cos(angle)
        human[i, joints, 1] += dist * np.sin(angle)
    pred = np.stack([np.asarray(by_ann[int(table.annotation_ids[r])]["keypoints"], float).reshape(17, 3)
                     for r in rows])
    pred[..., 2] = np.stack([by_ann[int(table.annotation_ids[r])]["keypoint_scores"] for r in rows])
    res = unc.label_error_scores(pred, human, table.areas[rows], COCO17.sigma_array)
    flagged = res["flagged"]
    tp = int((flagged & bad).sum())
    emit("label_error.corrupted_frames", int(bad.sum()), "frames", of=len(rows), joints_moved=3,
         shift="20-40% of instance size")
    emit("label_error.recall", round(tp / max(bad.sum(), 1), 4), "share")
    emit("label_error.precision", round(tp / max(flagged.sum(), 1), 4), "share", flagged=int(flagged.sum()))
    res_top = unc.error_capture(res["score"], bad, 0.2)
    emit("label_error.capture@20%", round(res_top["capture"], 4), "share", random_capture=0.2,
         ceiling=round(res_top["ceiling"], 4))


def main() -> None:
    data, _ = load_barbell()
    for mode in ("frame", "gtbox"):
        path = out_dir() / f"builtin_preds_{mode}.json"
        if not path.is_file():
            print(f"# {path} missing: run bench/mlcore_keypoints.py first")
            continue
        preds = coco.load_coco(path)
        oks, picked, _ = frame_table(data, preds)
        signals = {name: np.array([p["signals"].get(name) if p["signals"].get(name) is not None else np.nan
                                   for p in picked]) for name in ("confidence", "flip", "spread", "temporal")}
        capture_report(f"uncertainty.builtin_{mode}", oks, signals)
        if mode == "gtbox":
            label_error_check(data, preds)
    mp_path = out_dir() / "mediapipe_preds.json"
    if mp_path.is_file():
        preds = coco.load_coco(mp_path)
        oks, picked, _ = frame_table(data, preds)
        capture_report("uncertainty.mediapipe_detected", oks, mediapipe_signals(data, picked))


if __name__ == "__main__":
    main()
