"""BlazePose as torch modules (mlcore.blazepose), untuned, on the 210 annotated barbell-row frames.

Run: .venv/bin/python bench/mlcore_blazepose.py [--limit N]
Variants: the whole frame through our detector (MediaPipe's pipeline); the
human box (the ROI of the detection whose hip lies in the box, else as
human_box_roi); human_box_roi: always the box's square with the detector's
rotation, then the ROI of the network's own auxiliary landmarks, no presence
gate; the same in one pass (box ROI only), with and without MediaPipe's gate.
Prints JSON lines; writes each variant's predictions to
$MLCORE_BENCH_OUT/blazepose_<variant>_preds.json. When
$MLCORE_BENCH_OUT/mediapipe_preds.json exists (bench/mlcore_mediapipe.py), the
figures are also given on the frames MediaPipe detects.

"Points to fix": labelled body keypoints whose own OKS term is < 0.5 (a
missed frame counts all its labelled points), mean per frame.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from mlcore_common import emit, load_barbell, out_dir

from mlcore import coco, metrics
from mlcore.blazepose.predictor import BlazePosePredictor
from mlcore.images import load_rgb
from mlcore.skeletons import COCO17


def evaluate(name: str, data: dict, results: list[dict], subset: set[int] | None = None, tag: str = "all") -> None:
    """Mean OKS (miss = 0), OKS >= 0.5 share and points to fix over the GT instances (of ``subset`` image ids)."""
    table = coco.keypoint_table(data)
    matched = metrics.match_predictions(data, results, COCO17.sigma_array)
    rows = [i for i, m in enumerate(matched) if subset is None or m["image_id"] in subset]
    oks = np.array([matched[i]["oks"] for i in rows])
    to_fix = []
    for i in rows:
        gt = table.keypoints[i]
        labelled = gt[:, 2] > 0
        if matched[i]["result"] is None:
            to_fix.append(int(labelled.sum()))
            continue
        kp = np.asarray(results[matched[i]["result"]]["keypoints"], dtype=np.float64).reshape(1, 17, 3)
        ks = metrics.oks_per_keypoint(kp, gt[None], table.areas[i:i + 1], COCO17.sigma_array)[0]
        to_fix.append(int((ks[labelled] < 0.5).sum()))
    found = sum(matched[i]["result"] is not None for i in rows)
    emit(f"blazepose.{name}.frames_with_prediction", found, "frames", of=len(rows), subset=tag)
    emit(f"blazepose.{name}.mean_oks", round(float(oks.mean()), 4), "oks", subset=tag, note="missed = 0")
    emit(f"blazepose.{name}.oks_ge_0.5", round(float((oks >= 0.5).mean()), 4), "share", subset=tag)
    emit(f"blazepose.{name}.points_to_fix", round(float(np.mean(to_fix)), 2), "keypoints per frame", subset=tag)
    if subset is None:
        detected = oks[[matched[i]["result"] is not None for i in rows]]
        emit(f"blazepose.{name}.mean_oks_detected", round(float(detected.mean()), 4), "oks", n=len(detected))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="first N annotated frames only")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", nargs="*", default=None, help="subset of: frame human_box human_box_roi "
                    "human_box_roi_single_pass human_box_roi_single_pass_gated")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data, images = load_barbell()
    index = coco.ImageIndex(images)
    annotated = {a["image_id"] for a in data["annotations"] if a.get("keypoints")}
    frames = [i for i in data["images"] if i["id"] in annotated][:args.limit]
    if args.limit:
        keep = {i["id"] for i in frames}
        data = {**data, "images": frames, "annotations": [a for a in data["annotations"] if a["image_id"] in keep]}
    boxes = {}
    for a in data["annotations"]:
        boxes.setdefault(a["image_id"], []).append(a["bbox"])
    variants = {
        "frame": (BlazePosePredictor(), False),
        "human_box": (BlazePosePredictor(), True),
        "human_box_roi": (BlazePosePredictor(box_roi="box"), True),
        "human_box_roi_single_pass": (BlazePosePredictor(box_roi="box", track=False), True),
        "human_box_roi_single_pass_gated": (BlazePosePredictor(box_roi="box", track=False, box_min_presence=0.5),
                                            True),
    }
    if args.variants:
        variants = {k: v for k, v in variants.items() if k in args.variants}
    mp_path = out_dir() / "mediapipe_preds.json"
    mp_ids = {int(r["image_id"]) for r in json.loads(mp_path.read_text())} if mp_path.is_file() else None
    for name, (pred, with_box) in variants.items():
        results, seconds = [], []
        for img in frames:
            image = load_rgb(index.find(img["file_name"]))
            t = time.perf_counter()
            found = pred.predict(image, np.asarray(boxes[img["id"]]) if with_box else None)
            seconds.append(time.perf_counter() - t)
            results += [inst.to_coco_result(img["id"]) for inst in found]
        coco.save_coco(results, out_dir() / f"blazepose_{name}_preds.json")
        evaluate(name, data, results)
        if mp_ids is not None:
            evaluate(name, data, results, mp_ids, tag=f"mediapipe_detected_{len(mp_ids)}")
        emit(f"blazepose.{name}.latency_per_frame", round(1000 * float(np.median(seconds)), 1), "ms",
             threads=args.threads, note="median; includes the numpy crop and the detector")
    if mp_ids is not None:
        mp = json.loads(mp_path.read_text())
        evaluate("mediapipe_reference", data, mp)
        evaluate("mediapipe_reference", data, mp, mp_ids, tag=f"mediapipe_detected_{len(mp_ids)}")


if __name__ == "__main__":
    main()
