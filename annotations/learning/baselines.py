"""The bar a trained keypoint model must clear: untuned BlazePose on the same held-out clips.

BlazePose predicts the 17 COCO body points only (spine points would come from the straight-line
heuristic), so the comparison is on those 17: the held-out annotations and the trained model's
results are cut down to them by name and both are scored with the same COCO-17 sigmas. The figures
land in the keypoint version's metrics ("untuned_blazepose") and on the models page.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from mlcore import coco, pipeline
from mlcore.blazepose.files import BlazePoseUnavailable
from mlcore.blazepose.predictor import BlazePosePredictor
from mlcore.skeletons import COCO17, remap
from mlcore.training.common import no_progress

FIGURES = ("mean_oks", "points_to_fix", "oks_ge_0.5")


def body_only(gt: dict, results: list[dict]) -> tuple[dict, list[dict]] | None:
    """gt and results with only the COCO-17 points (by name); None when gt's skeleton lacks one of them."""
    skeleton = coco.category_skeleton(gt)
    if any(name not in skeleton.keypoints for name in COCO17.keypoints):
        return None
    body = copy.deepcopy(gt)
    category_id = next(c["id"] for c in gt["categories"] if c.get("keypoints"))
    body["categories"] = [COCO17.coco_category(category_id)]
    for ann in body["annotations"]:
        kp = remap(np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3), skeleton, COCO17)
        ann["keypoints"] = kp.ravel().tolist()
        ann["num_keypoints"] = int((kp[:, 2] > 0).sum())
    cut = [{**r, "keypoints": remap(np.asarray(r["keypoints"], dtype=np.float64).reshape(-1, 3), skeleton,
                                    COCO17).ravel().tolist()} for r in results]
    return body, cut


def _figures(report: dict) -> dict:
    out = {k: report.get(k) for k in FIGURES}
    out["oks_ap"] = (report.get("oks_ap") or {}).get("AP")
    return out


def compare_with_untuned(gt: dict, images_dir: Path, trained_results: list[dict],
                         progress=no_progress) -> dict:
    """{"frames", "trained": figures, "untuned_blazepose": figures} on the body points of ``gt`` (each person in
    its human box, as the trained model was scored), or {"skipped": why}."""
    cut = body_only(gt, trained_results)
    if cut is None:
        return {"skipped": "the project's skeleton lacks some of the 17 COCO body points"}
    body, trained = cut
    if not body["annotations"]:
        return {"skipped": "no held-out annotation"}
    try:
        predictor = BlazePosePredictor()
    except BlazePoseUnavailable as exc:
        return {"skipped": f"BlazePose's model files are not here ({exc})"}
    untuned = [r for r in pipeline.predict_coco(body, images_dir, predictor, boxes="auto", progress=progress)
               if "annotation_id" in r]
    if not untuned:
        return {"skipped": "untuned BlazePose predicted nothing on the held-out frames"}
    return {"frames": len(body["annotations"]),
            "trained": _figures(pipeline.evaluate(body, trained)["keypoints"]),
            "untuned_blazepose": _figures(pipeline.evaluate(body, untuned)["keypoints"])}
