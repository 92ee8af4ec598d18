"""Top-down ONNX runner for RTMPose/SpinePose-style SimCC models.

Model contract (DESIGN.md): input (1 or N, 3, H, W) float32, an affine crop of
the person box padded by 1.25 to the input aspect ratio, RGB normalised with
mean (123.675, 116.28, 103.53) and std (58.395, 57.12, 57.375); outputs
``simcc_x`` (N, K, W*r) and ``simcc_y`` (N, K, H*r), r = 2.0. A keypoint is the
argmax / r mapped back through the inverse affine; its score is the smaller of
the two maxima. The built-in keypoint model exports to the same contract, so
this one runner serves both.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..skeletons import COCO17, COCO17_SPINE, SPINETRACK37, Skeleton
from ..transforms import Vector, apply_affine, bbox_to_center_scale, get_affine, invert_affine, warp_affine
from . import simcc
from .base import Instance, Predictor, full_image_box

MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
_BY_COUNT = {17: COCO17, 24: COCO17_SPINE, 37: SPINETRACK37}


def preprocess(image: np.ndarray, bbox: Vector, input_size: tuple[int, int], padding: float = 1.25,
               flip: bool = False, mean: npt.NDArray[np.float32] = MEAN,
               std: npt.NDArray[np.float32] = STD) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """Crop one person for the model. image (H, W, 3) uint8 RGB, bbox [x, y, w, h], input_size (W, H).

    Returns the input (3, H_in, W_in) float32 and the 2x3 source-to-crop matrix.
    """
    w, h = input_size
    center, scale = bbox_to_center_scale(bbox, w / h, padding)
    m = get_affine(center, scale, 0.0, (w, h), flip=flip)
    crop = warp_affine(image, m, (w, h))
    crop = (crop - mean) / std
    return np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32), m


class OnnxTopDownPredictor(Predictor):
    """Runs a SimCC ONNX model on person boxes.

    path: the .onnx file. skeleton: the model's keypoints (default: guessed
    from K: 17 COCO17, 24 COCO17_SPINE, 37 SPINETRACK37). split_ratio, padding,
    mean and std follow RTMPose unless the model's sidecar says otherwise.
    threads: onnxruntime intra-op threads (default: all cores).
    """

    def __init__(self, path: str | os.PathLike[str], skeleton: Skeleton | None = None, split_ratio: float = 2.0,
                 padding: float = 1.25, mean: npt.ArrayLike = MEAN, std: npt.ArrayLike = STD,
                 version: str | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.path = Path(path)
        self.session = ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        n, c, h, w = inp.shape
        if not (isinstance(h, int) and isinstance(w, int)):
            raise ValueError(f"{self.path.name}: input height and width must be fixed, got {inp.shape}")
        self.input_size = (w, h)
        self.fixed_batch = n if isinstance(n, int) else None
        outputs = [o.name for o in self.session.get_outputs()]
        if "simcc_x" in outputs and "simcc_y" in outputs:
            self.output_names = ["simcc_x", "simcc_y"]
        elif len(outputs) >= 2:
            self.output_names = outputs[:2]   # exporters that lost the names keep the order x, y
        else:
            raise ValueError(f"{self.path.name}: expected outputs simcc_x and simcc_y, got {outputs}")
        k = self.session.get_outputs()[0].shape[1]
        if not isinstance(k, int):
            # Some exporters leave K symbolic; one dummy run tells it.
            probe = np.zeros((1 if self.fixed_batch in (None, 1) else self.fixed_batch, c, h, w), dtype=np.float32)
            k = int(self.session.run(self.output_names[:1], {self.input_name: probe})[0].shape[1])
        if skeleton is None and (self.path.parent / "model.json").is_file():
            from ..modeldir import read_meta

            meta = read_meta(self.path.parent)
            if meta["kind"] == "keypoints":
                skeleton = Skeleton.from_dict(meta["skeleton"])
        if skeleton is None:
            if not isinstance(k, int) or k not in _BY_COUNT:
                raise ValueError(f"{self.path.name}: {k} keypoints; pass the skeleton explicitly")
            skeleton = _BY_COUNT[k]
        self.skeleton = skeleton
        self.split_ratio = float(split_ratio)
        self.padding = float(padding)
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.version = version or self.path.stem

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw model outputs for inputs (N, 3, H, W): simcc_x (N, K, W*r), simcc_y (N, K, H*r)."""
        if self.fixed_batch == 1 and batch.shape[0] != 1:
            outs = [self.session.run(self.output_names, {self.input_name: batch[i:i + 1]}) for i in range(len(batch))]
            return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])
        sx, sy = self.session.run(self.output_names, {self.input_name: batch})
        return sx, sy

    def predict(self, image: np.ndarray, boxes: np.ndarray | None = None, flip_test: bool = False) -> list[Instance]:
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) if boxes is not None else full_image_box(image)[None]
        if len(boxes) == 0:
            return []
        flips = (False, True) if flip_test else (False,)
        inputs: list[npt.NDArray[np.float32]] = []
        mats: list[npt.NDArray[np.float64]] = []
        for box in boxes:
            for flip in flips:
                x, m = preprocess(image, box, self.input_size, self.padding, flip, self.mean, self.std)
                inputs.append(x)
                mats.append(m)
        sx, sy = self.run(np.stack(inputs))
        decoded = simcc.decode(sx, sy, self.split_ratio)            # (B, K, 3) in crop pixels
        out: list[Instance] = []
        for b, box in enumerate(boxes):
            results = []
            for f, flip in enumerate(flips):
                i = b * len(flips) + f
                kp = decoded[i].copy()
                kp[:, :2] = apply_affine(kp[:, :2], invert_affine(mats[i]))
                if flip:
                    # The mirrored crop shows the left side as the right: swap the names back.
                    kp = kp[self.skeleton.flip_index]
                results.append(kp)
            inst = Instance(keypoints=results[0], bbox=np.asarray(box, dtype=np.float64),
                            score=float(results[0][:, 2].mean()))
            if flip_test:
                inst.extra["flip_keypoints"] = results[1]
            out.append(inst)
        return out
