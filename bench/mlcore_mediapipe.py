"""MediaPipe BlazePose (full, static-image mode) on the 210 annotated barbell-row frames.

Run: MLCORE_MEDIAPIPE_PYTHON=<venv with mediapipe==0.10.14>/bin/python .venv/bin/python bench/mlcore_mediapipe.py
Writes the predictions (with flip-test keypoints) to $MLCORE_BENCH_OUT/mediapipe_preds.json for other benchmarks.
"""

from __future__ import annotations

import time

import numpy as np
from mlcore_common import emit, load_barbell, out_dir

from mlcore import coco, metrics
from mlcore.images import load_rgb
from mlcore.predictors.mediapipe_pose import MediaPipePredictor
from mlcore.skeletons import COCO17


def main() -> None:
    data, images = load_barbell()
    index = coco.ImageIndex(images)
    pred = MediaPipePredictor()
    results, seconds, missing = [], [], 0
    for img in data["images"]:
        path = index.find(img["file_name"])
        if path is None:
            missing += 1
            continue
        image = load_rgb(path)
        t = time.perf_counter()
        found = pred.predict(image)
        seconds.append(time.perf_counter() - t)
        flip = pred.predict(image, flip_test=True)   # again with the mirrored image, for uncertainty signals
        for inst in found:
            r = inst.to_coco_result(img["id"])
            if flip and "flip_keypoints" in flip[0].extra:
                r["flip_keypoints"] = flip[0].extra["flip_keypoints"].tolist()
            results.append(r)
    pred.close()
    coco.save_coco(results, out_dir() / "mediapipe_preds.json")

    table = coco.keypoint_table(data)
    n = len(table)
    matched = metrics.match_predictions(data, results, COCO17.sigma_array)
    det = [m for m in matched if m["result"] is not None]
    oks_det = np.array([m["oks"] for m in det])
    oks_all = np.array([m["oks"] for m in matched])
    emit("mediapipe.frames", n, "frames", missing_image_files=missing)
    emit("mediapipe.detected", len(det), "frames")
    emit("mediapipe.mean_oks_detected", round(float(oks_det.mean()), 4), "oks")
    emit("mediapipe.mean_oks_all_frames", round(float(oks_all.mean()), 4), "oks", note="missed frames count as 0")
    emit("mediapipe.oks_ge_0.5_share_detected", round(float((oks_det >= 0.5).mean()), 4), "share")
    emit("mediapipe.oks_ge_0.5_share_all_frames", round(float((oks_all >= 0.5).mean()), 4), "share")
    emit("mediapipe.oks_ge_0.75_share_detected", round(float((oks_det >= 0.75).mean()), 4), "share")
    ap = metrics.oks_ap(data, results, COCO17.sigma_array)
    emit("mediapipe.oks_ap", round(ap["AP"], 4), "AP")
    rows = {m["annotation_id"]: i for i, m in enumerate(matched)}
    kp_pred = np.stack([np.asarray(results[m["result"]]["keypoints"]).reshape(17, 3) for m in det])
    kp_gt = table.keypoints[[rows[m["annotation_id"]] for m in det]]
    areas = np.array([a["area"] for a in data["annotations"]])[[rows[m["annotation_id"]] for m in det]]
    ks = metrics.oks_per_keypoint(kp_pred, kp_gt, areas, COCO17.sigma_array)
    for name, v in zip(COCO17.keypoints, np.nanmean(ks, axis=0)):
        emit(f"mediapipe.keypoint_oks.{name}", round(float(v), 4), "oks", subset="detected")
    err, _ = metrics.pixel_error(kp_pred, kp_gt)
    emit("mediapipe.mean_pixel_error_detected", round(err, 2), "px")
    emit("mediapipe.latency_per_frame", round(1000 * float(np.median(seconds)), 1), "ms",
         note="median, includes the child-process hop when mediapipe runs in its own venv")


if __name__ == "__main__":
    main()
