"""Reference outputs of BlazePose's .tflite files from the LiteRT interpreter, as a test fixture.

The LiteRT (TensorFlow Lite) interpreter is the reference our torch
translation (mlcore.blazepose) is checked against. It is not a project
dependency: run this once in a scratch virtualenv, e.g.

    python -m venv /tmp/litert-venv && /tmp/litert-venv/bin/pip install ai-edge-litert pillow
    /tmp/litert-venv/bin/python bench/blazepose_reference.py [--model-dir DIR] [--out FILE]

It reads two barbell-row frames (and one synthetic image), makes a 256 x 256
crop around the annotated person of each for the landmark network and a 224 x 224 letterboxed image for
the detector, runs both files with the interpreter's built-in float kernels
(no XNNPACK delegate) and writes tests/mlcore/fixtures/blazepose_reference.npz:

    landmark_input (B, 256, 256, 3) uint8   network input = value / 255
    landmarks (B, 195), presence (B, 1), world (B, 117)    raw outputs
    segmentation_s8 (B, 32, 32) every 8th pixel of the 256 x 256 logits
    heatmaps_s4 (B, 16, 16, 39) every 4th pixel of the 64 x 64 heatmaps
    detector_input (D, 224, 224, 3) uint8    network input = value / 127.5 - 1
    regressors (D, 2254, 12), scores (D, 2254, 1)  raw outputs
    sha256_landmark, sha256_detector        the files' hashes

It needs only numpy, Pillow and ai-edge-litert (no mlcore, no torch).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
FRAMES = ("correct/52723_8_10.jpg", "lumbar/52701_11_27.jpg")


def _find(model_dir: Path | None, name: str, sub: str) -> Path:
    if model_dir is not None:
        return model_dir / name
    hits = sorted((REPO / ".venv-mediapipe").glob(f"lib/python3*/site-packages/mediapipe/modules/{sub}/{name}"))
    if not hits:
        raise SystemExit(f"{name} not found: pass --model-dir")
    return hits[0]


def _run(path: Path, inputs: np.ndarray) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    outs = sorted(interp.get_output_details(), key=lambda d: d["name"])   # Identity, Identity_1, ...
    results: list[list[np.ndarray]] = [[] for _ in outs]
    for x in inputs:
        interp.set_tensor(inp, x[None].astype(np.float32))
        interp.invoke()
        for k, d in enumerate(outs):
            results[k].append(interp.get_tensor(d["index"])[0].copy())
    return [np.stack(r) for r in results]


def _person_box(dataset: Path, frame: str) -> tuple[float, float, float, float]:
    """The human box [x, y, w, h] of ``frame`` ("task/file.jpg") from the CVAT export."""
    task, name = frame.split("/")
    path = dataset / "annotations" / ("correct_n2_3_7_100.json" if task == "correct" else "lumbar_3_7_dell_111.json")
    data = json.loads(path.read_text())
    image_id = next(i["id"] for i in data["images"] if i["file_name"] == name)
    x, y, w, h = next(a["bbox"] for a in data["annotations"] if a["image_id"] == image_id)
    return float(x), float(y), float(w), float(h)


def _square_crop(image: Image.Image, box: tuple[float, float, float, float], size: int) -> np.ndarray:
    """A square around the person box, 1.25 x its long side (black outside the frame), resized to size x size."""
    x, y, w, h = box
    side = 1.25 * max(w, h)
    cx, cy = x + w / 2, y + h / 2
    region = (round(cx - side / 2), round(cy - side / 2), round(cx + side / 2), round(cy + side / 2))
    return np.asarray(image.crop(region).resize((size, size), Image.BILINEAR), dtype=np.uint8)


def _letterbox(image: Image.Image, size: int) -> np.ndarray:
    """The whole frame, aspect kept, centred on a black size x size canvas."""
    w, h = image.size
    s = size / max(w, h)
    nw, nh = round(w * s), round(h * s)
    canvas = Image.new("RGB", (size, size))
    canvas.paste(image.resize((nw, nh), Image.BILINEAR), ((size - nw) // 2, (size - nh) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def _synthetic(size: int) -> np.ndarray:
    """A deterministic image with gradients, stripes and noise (exercises every channel and range)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([xx, yy, 0.5 + 0.5 * np.sin(12 * xx + 7 * yy)], axis=-1) * 200
    return np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-dir", type=Path, default=None, help="folder holding both .tflite files")
    ap.add_argument("--dataset", type=Path, default=REPO.parent / "shared" / "datasets" / "barbell-row")
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "mlcore" / "fixtures" / "blazepose_reference.npz")
    args = ap.parse_args()
    landmark = _find(args.model_dir, "pose_landmark_full.tflite", "pose_landmark")
    detector = _find(args.model_dir, "pose_detection.tflite", "pose_detection")
    frames = [Image.open(args.dataset / "images" / f).convert("RGB") for f in FRAMES]
    boxes = [_person_box(args.dataset, f) for f in FRAMES]
    lm_in = np.stack([_square_crop(f, b, 256) for f, b in zip(frames, boxes)] + [_synthetic(256)])
    det_in = np.stack([_letterbox(frames[0], 224), _synthetic(224)])
    lm, presence, seg, heat, world = _run(landmark, lm_in.astype(np.float32) / 255.0)
    regressors, scores = _run(detector, det_in.astype(np.float32) / 127.5 - 1.0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, landmark_input=lm_in, landmarks=lm, presence=presence, world=world,
        segmentation_s8=seg[:, ::8, ::8, 0], heatmaps_s4=heat[:, ::4, ::4, :],
        detector_input=det_in, regressors=regressors, scores=scores,
        sha256_landmark=hashlib.sha256(landmark.read_bytes()).hexdigest(),
        sha256_detector=hashlib.sha256(detector.read_bytes()).hexdigest())
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB); pose presence {presence.ravel().round(2)}; "
          f"max detector score logit {scores.max(axis=(1, 2)).round(2)}")


if __name__ == "__main__":
    main()
