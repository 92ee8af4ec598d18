"""Pseudo-labels: a pre-annotator's confident predictions turned into COCO annotations to train on.

A few hundred human-labelled frames from a handful of clips is a small world
for a keypoint model trained from scratch; the unlabelled pool holds many
more people, places and cameras. A pretrained pre-annotator (MediaPipe, an
uploaded RTMPose model) labels the pool, its confident keypoints become
training targets, and the built-in model trains on them first and then on the
human labels (``train_keypoints(..., init_from=...)``): the pseudo-labels
teach what people look like, the human labels teach the project's own
conventions (where exactly a hip or a spine point goes).

Never train on pseudo-labels of frames you evaluate on: keep held-out clips
out of the pool you pass in.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from .coco import category_skeleton, keypoints_to_coco, points_bbox


def pseudo_label_coco(data: dict[str, Any], results: list[dict[str, Any]], min_score: float = 0.5,
                      min_keypoints: int = 8, min_box: float = 16.0) -> dict[str, Any]:
    """COCO dict of ``data``'s images with one annotation per usable prediction.

    data: COCO dict listing the images (its keypoint category gives the
    skeleton; existing annotations are ignored). results: COCO keypoint
    results for those images (``keypoints`` flat [x, y, s] * K in that
    skeleton; ``keypoint_scores`` when present, else the s values).
    A keypoint is kept (v = 2) when its score >= ``min_score``, else it is
    unlabelled (0, 0, 0). A prediction is kept when it has >= ``min_keypoints``
    such points and their box is at least ``min_box`` pixels on each side; the
    box is the one around the kept points (as CVAT writes human boxes). Images
    with no kept prediction are dropped. Each annotation records where it came
    from in ``attributes.pseudo_label`` (the result's ``model_version``).
    """
    skeleton = category_skeleton(data)
    k = skeleton.num_keypoints
    cat_id = next(c["id"] for c in data["categories"] if c.get("keypoints"))
    images = {img["id"]: img for img in data.get("images", [])}
    out = {key: copy.deepcopy(v) for key, v in data.items() if key not in ("images", "annotations")}
    out["images"], out["annotations"] = [], []
    used: set[int] = set()
    for res in results:
        img = images.get(res.get("image_id"))
        if img is None or not res.get("keypoints"):
            continue
        kp = np.asarray(res["keypoints"], dtype=np.float64).reshape(-1, 3)
        if kp.shape[0] != k:
            raise ValueError(f"prediction for image {img['id']} has {kp.shape[0]} keypoints, the skeleton {k}")
        scores = np.asarray(res.get("keypoint_scores", kp[:, 2]), dtype=np.float64)
        keep = np.isfinite(kp[:, :2]).all(1) & (scores >= min_score)
        if keep.sum() < min_keypoints:
            continue
        labelled = np.where(keep[:, None], np.column_stack([kp[:, :2], np.full(k, 2.0)]), 0.0)
        box = points_bbox(labelled)
        if min(box[2], box[3]) < min_box:
            continue
        out["annotations"].append({
            "id": len(out["annotations"]) + 1, "image_id": img["id"], "category_id": cat_id,
            "keypoints": keypoints_to_coco(labelled), "num_keypoints": int(keep.sum()), "bbox": box,
            "area": box[2] * box[3], "iscrowd": 0,
            "attributes": {"pseudo_label": res.get("model_version", "unknown")}})
        if img["id"] not in used:
            used.add(img["id"])
            out["images"].append(copy.deepcopy(img))
    return out
