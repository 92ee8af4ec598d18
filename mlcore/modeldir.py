"""Model directories: what training writes and predict/evaluate read.

    <model-dir>/
      model.json     {"kind": "keypoints" | "form", "format": 1, "version", "skeleton", ..., "metrics"}
      model.onnx     the exported network (the keypoint model follows the RTMPose SimCC contract)
      model.pt       torch checkpoint of the best epoch (state_dict + config), for fine-tuning and MC-dropout
      model.int8.onnx  (form models) dynamically quantised copy
      history.json   per-epoch losses and validation metrics
      checkpoints/   last.pt, for resuming

Files are written to a temporary name and renamed into place, so a crashed
job never leaves a half model that looks whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .coco import save_coco

FORMAT = 1


def read_meta(model_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """model.json of a model directory (ValueError if it is not one)."""
    path = Path(model_dir) / "model.json"
    if not path.is_file():
        raise ValueError(f"{model_dir} is not a model directory (no model.json)")
    with open(path, encoding="utf-8") as fh:
        meta: dict[str, Any] = json.load(fh)
    if meta.get("kind") not in ("keypoints", "form"):
        raise ValueError(f"{path}: unknown model kind {meta.get('kind')!r}")
    return meta


def write_meta(model_dir: str | os.PathLike[str], meta: dict[str, Any]) -> None:
    save_coco({"format": FORMAT, **meta}, Path(model_dir) / "model.json")


def is_model_dir(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / "model.json").is_file()
