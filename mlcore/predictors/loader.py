"""``load_predictor``: build a keypoint predictor from what a user names on the command line."""

from __future__ import annotations

import os
from pathlib import Path

from ..modeldir import is_model_dir, read_meta
from ..skeletons import Skeleton
from .base import Predictor


def load_predictor(spec: str | os.PathLike[str], skeleton: Skeleton | None = None,
                   threads: int | None = None, spine_skeleton: Skeleton | None = None) -> Predictor:
    """"mediapipe", "blazepose", a SimCC ``.onnx`` file, or a keypoint model directory (model.json + model.onnx).

    "blazepose" is MediaPipe's BlazePose run as torch modules in this process
    (``mlcore.blazepose``); it raises ``BlazePoseUnavailable`` when the model files are not found.
    A model directory whose model.json says ``"backbone": "blazepose"`` (heads trained with
    ``train keypoints --backbone blazepose``) loads as ``BlazePoseHeadsPredictor`` (same requirement);
    ``spine_skeleton`` makes it answer in that skeleton, spine points it lacks placed along the back contour.
    """
    if str(spec) == "mediapipe":
        from .mediapipe_pose import MediaPipePredictor

        return MediaPipePredictor()
    if str(spec) == "blazepose":
        from ..blazepose.predictor import BlazePosePredictor

        if threads:
            import torch

            torch.set_num_threads(threads)
        return BlazePosePredictor()
    path = Path(spec)
    if path.is_dir():
        meta = read_meta(path)
        if meta["kind"] != "keypoints":
            raise ValueError(f"{path} holds a {meta['kind']} model, not a keypoint model")
        if meta.get("backbone") == "blazepose":
            from ..blazepose.finetuned import BlazePoseHeadsPredictor

            return BlazePoseHeadsPredictor(path, threads=threads, spine_skeleton=spine_skeleton)
        from .onnx_topdown import OnnxTopDownPredictor

        return OnnxTopDownPredictor(path / "model.onnx", skeleton=skeleton or Skeleton.from_dict(meta["skeleton"]),
                                    split_ratio=meta.get("split_ratio", 2.0), padding=meta.get("padding", 1.25),
                                    version=meta.get("version"), threads=threads)
    if path.suffix == ".onnx" and path.is_file():
        from .onnx_topdown import OnnxTopDownPredictor

        if skeleton is None and is_model_dir(path.parent):
            skeleton = Skeleton.from_dict(read_meta(path.parent)["skeleton"])
        return OnnxTopDownPredictor(path, skeleton=skeleton, threads=threads)
    raise ValueError(f"unknown model {spec!r}: use 'mediapipe', 'blazepose', a .onnx file or a model directory")
