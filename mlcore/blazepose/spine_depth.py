"""How deep below the back contour a project's spine points lie, fitted on the spine points people verified.

``spine_contour.place_spine`` moves neck, hip and spine_01..05 inwards from the traced back by a depth
(a fraction of the torso width). Its default is a guess; once a project has verified spine points,
``fit_spine_depth`` fits it by least squares (``spine_contour.fit_depth``) on BlazePose's body mask of
those frames (one landmark pass on each person box) and the people's points, and a heads model keeps
it in model.json (``spine_depth``) for the points it places along the back.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .. import coco
from ..images import load_rgb
from ..spine_contour import DEFAULT_DEPTH, PLACED, fit_depth
from .predictor import BlazePosePredictor

MAX_FRAMES = 60          # enough for a stable mean; each frame costs one backbone pass


def spine_examples(data: dict[str, Any], images_dir: str | os.PathLike[str], predictor: BlazePosePredictor,
                   max_frames: int = MAX_FRAMES) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(mask (H, W), keypoints (K, 3), keypoints (K, 3)) of up to ``max_frames`` annotations of ``data`` with a
    verified (v > 0) spine point, in the file's own skeleton; the mask is BlazePose's on the person box."""
    skeleton = coco.category_skeleton(data)
    spine = [skeleton.index(n) for n in PLACED if n in skeleton.keypoints]
    if not spine:
        return []
    table = coco.keypoint_table(data, skeleton)
    rows = np.flatnonzero((table.keypoints[:, spine, 2] > 0).any(axis=1))[:max_frames]
    index = coco.ImageIndex(images_dir)
    out = []
    for r in rows.tolist():
        path = index.find(table.file_names[r])
        if path is None:
            continue
        image = load_rgb(path)
        roi = predictor.rois(image, table.bboxes[r][None])[0][0]
        mask = predictor.segmentation(predictor.run_roi(image, roi), *image.shape[:2])
        out.append((mask, table.keypoints[r], table.keypoints[r]))
    return out


def fit_spine_depth(data: dict[str, Any], images_dir: str | os.PathLike[str],
                    predictor: BlazePosePredictor) -> dict[str, Any]:
    """{"depth": fraction of the torso width, "frames": verified frames used, "fitted": bool}.

    Without verified spine points (or when no back can be traced on them) the depth is the default.
    """
    examples = spine_examples(data, images_dir, predictor)
    if not examples:
        return {"depth": DEFAULT_DEPTH, "frames": 0, "fitted": False}
    depth = fit_depth(examples, coco.category_skeleton(data), default=float("nan"))
    assert isinstance(depth, float)
    if np.isnan(depth):
        return {"depth": DEFAULT_DEPTH, "frames": len(examples), "fitted": False}
    return {"depth": round(depth, 4), "frames": len(examples), "fitted": True}
