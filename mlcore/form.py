"""Form classification from keypoints: features, and running a trained form model.

A form model directory holds model.json (kind "form", classes, skeleton,
architecture, clip ``pooling``, ``extra_inputs``), model.onnx (input
``keypoints`` (N, K, 3) float32 of normalised poses and, when the model reads
extra per-frame vectors, ``extra`` (N, D); output ``probs`` (N, C)),
model.int8.onnx, model.pt.
Callers pass keypoints in pixels in any skeleton; they are remapped by name
to the model's skeleton and normalised here, so the ONNX graph stays plain.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .modeldir import read_meta
from .pose import normalise_pose
from .skeletons import Skeleton, remap


def pose_features(keypoints: npt.NDArray[Any], skeleton: Skeleton) -> npt.NDArray[np.float32]:
    """Classifier input from pixel keypoints (N, K, 3) [x, y, v-or-score]: (N, K, 3) float32.

    x, y: ``normalise_pose`` (pelvis origin, trunk-length units, facing right);
    third channel: 1 where the point is labelled / predicted (v or score > 0), else 0.
    """
    norm, _ = normalise_pose(keypoints, skeleton)
    feats = norm.copy()
    # Taken from the normalised copy, not the input: mirroring swapped left and right points.
    feats[..., 2] = (norm[..., 2] > 0).astype(np.float64)
    return feats.astype(np.float32)


def clip_mean_probs(probs: npt.ArrayLike, clip_ids: Iterable[object]) -> npt.NDArray[np.float64]:
    """Clip-level reading of per-frame form probabilities: (N, C) -> (N, C), each row the mean over its clip.

    A clip is one set of repetitions filmed in one go, and its form label holds for every
    frame, so averaging the frames' evidence is the simplest temporal model; it needs no
    training and never sees labels. Frames with no clip id (None or "") stay as they are.
    """
    p = np.asarray(probs, dtype=np.float64)
    out = p.copy()
    clips = np.asarray([c if c else "" for c in clip_ids], dtype=object)
    for clip in set(clips.tolist()) - {""}:
        rows = clips == clip
        out[rows] = p[rows].mean(axis=0)
    return out


class FormClassifier:
    """A trained form model (ONNX). ``int8`` picks the quantised copy when present."""

    def __init__(self, model_dir: str | os.PathLike[str], int8: bool = False, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.dir = Path(model_dir)
        self.meta = read_meta(self.dir)
        if self.meta["kind"] != "form":
            raise ValueError(f"{model_dir} holds a {self.meta['kind']} model, not a form model")
        self.classes: list[str] = list(self.meta["classes"])
        self.skeleton = Skeleton.from_dict(self.meta["skeleton"])
        self.version = self.meta.get("version", self.dir.name)
        # How frames of one clip are read together (chosen in training): "none" or "mean".
        self.pooling: str = self.meta.get("pooling", "none")
        self.extra_inputs: list[dict[str, Any]] = list(self.meta.get("extra_inputs") or [])
        path = self.dir / ("model.int8.onnx" if int8 and (self.dir / "model.int8.onnx").is_file() else "model.onnx")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def predict_proba(self, keypoints: npt.ArrayLike, skeleton: Skeleton | None = None,
                      extra: Mapping[str, npt.ArrayLike] | None = None) -> npt.NDArray[np.float32]:
        """keypoints (N, K', 3) in pixels, in ``skeleton`` (default: the model's) -> probabilities (N, C).

        extra: name -> (N, D) per-frame vectors, for models that list ``extra_inputs``.
        """
        kp = np.asarray(keypoints, dtype=np.float64)
        if kp.ndim == 2:
            kp = kp[None]
        if skeleton is not None and skeleton.keypoints != self.skeleton.keypoints:
            kp = remap(kp, skeleton, self.skeleton)
        if len(kp) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        feed = {"keypoints": pose_features(kp, self.skeleton)}
        if self.extra_inputs:
            given = extra or {}
            missing = [e["name"] for e in self.extra_inputs if e["name"] not in given]
            if missing:
                raise ValueError(f"form model {self.version} needs extra inputs {missing}")
            feed["extra"] = np.concatenate([np.asarray(given[e["name"]], np.float32).reshape(len(kp), -1)
                                            for e in self.extra_inputs], axis=1)
        probs: npt.NDArray[np.float32] = self.session.run(["probs"], feed)[0]
        return probs

    def predict_clip_proba(self, keypoints: npt.ArrayLike, clip_ids: Iterable[object],
                           skeleton: Skeleton | None = None, extra: Mapping[str, npt.ArrayLike] | None = None
                           ) -> npt.NDArray[np.floating[Any]]:
        """Like ``predict_proba``, then read with the model's clip pooling: (N, C), "mean" = clip means."""
        probs = self.predict_proba(keypoints, skeleton, extra)
        return clip_mean_probs(probs, clip_ids) if self.pooling == "mean" else probs

    def predict(self, keypoints: npt.ArrayLike, skeleton: Skeleton | None = None,
                extra: Mapping[str, npt.ArrayLike] | None = None) -> list[str]:
        probs = self.predict_proba(keypoints, skeleton, extra)
        return [self.classes[i] for i in probs.argmax(axis=1)]
