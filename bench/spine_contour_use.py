"""How often pre-annotation places the spine points along the back contour, and how far from the straight line.

Runs a keypoint predictor on whole barbell-row frames (how pool frames are pre-annotated) answering in
COCO-17 + spine: untuned BlazePose (``--model blazepose``, spine="contour") or a trained heads model
directory (``--model DIR``, ``spine_skeleton``). For each frame with a person it notes how the spine
points were placed (contour, heuristic fallback, none) and, for contour placements, how far spine_01..05
lie from the hip-neck chord, in torso lengths. The data has no human spine points, so this says how often
and how far the contour moves the points, not whether it moves them the right way.

    .venv/bin/python bench/spine_contour_use.py --frames 200
    .venv/bin/python bench/spine_contour_use.py --model /path/to/heads_model --frames 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from mlcore_common import dataset_root, emit

from mlcore.images import load_rgb
from mlcore.skeletons import COCO17_SPINE

TRUNK = ("spine_01", "spine_02", "spine_03", "spine_04", "spine_05")


def predictor_for(model: str):
    if model == "blazepose":
        from mlcore.blazepose.predictor import BlazePosePredictor

        return BlazePosePredictor(spine="contour", spine_skeleton=COCO17_SPINE)
    from mlcore.predictors import load_predictor

    return load_predictor(model, spine_skeleton=COCO17_SPINE)


def off_chord(kp: np.ndarray) -> float:
    """Mean distance of spine_01..05 from the hip-neck chord, in chord lengths. kp (24, 3)."""
    hip, neck = kp[COCO17_SPINE.index("hip"), :2], kp[COCO17_SPINE.index("neck"), :2]
    chord = neck - hip
    length = float(np.linalg.norm(chord))
    pts = kp[[COCO17_SPINE.index(n) for n in TRUNK], :2] - hip
    return float(np.mean(np.abs(chord[0] * pts[:, 1] - chord[1] * pts[:, 0])) / max(length, 1e-6) / max(length, 1e-6))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="blazepose")
    parser.add_argument("--frames", type=int, default=200, help="every n-th frame so that about this many run")
    args = parser.parse_args()
    files = sorted((dataset_root() / "images").rglob("*.jpg"))
    step = max(1, len(files) // args.frames)
    chosen = files[::step][:args.frames]
    predictor = predictor_for(args.model)
    methods: dict[str, int] = {}
    offsets: list[float] = []
    t0 = time.time()
    for path in chosen:
        found = predictor.predict(load_rgb(path))
        if not found:
            methods["no person"] = methods.get("no person", 0) + 1
            continue
        inst = found[0]
        method = str(inst.extra.get("spine_method", "none"))
        methods[method] = methods.get(method, 0) + 1
        if method == "contour":
            offsets.append(off_chord(inst.keypoints))
    n = len(chosen)
    emit("spine_frames", n, "frames", model=args.model)
    for method, count in sorted(methods.items()):
        emit(f"spine_method_{method.replace(' ', '_')}", round(count / n, 3), "fraction of frames", count=count)
    if offsets:
        emit("spine_contour_off_chord_mean", round(float(np.mean(offsets)), 4), "torso lengths")
        emit("spine_contour_off_chord_p90", round(float(np.percentile(offsets, 90)), 4), "torso lengths")
    emit("spine_seconds_per_frame", round((time.time() - t0) / max(n, 1), 3), "s")


if __name__ == "__main__":
    main()
