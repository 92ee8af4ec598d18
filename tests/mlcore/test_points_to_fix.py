"""pipeline.evaluate's points_to_fix: labelled points whose own OKS term is < 0.5, a missed person counting all."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from mlcore import pipeline
from tests.mlcore.synthetic import pose_coco


def _results(gt: dict) -> list[dict]:
    return [{"image_id": a["image_id"], "category_id": a["category_id"], "keypoints": list(a["keypoints"]),
             "score": 1.0} for a in gt["annotations"]]


def test_perfect_predictions_leave_nothing_to_fix_and_moved_points_are_counted():
    gt = pose_coco(n_per_class=3, clips_per_class=1)
    results = _results(gt)
    assert pipeline.evaluate(gt, results)["keypoints"]["points_to_fix"] == 0
    moved = copy.deepcopy(results)
    first = np.asarray(moved[0]["keypoints"], dtype=float).reshape(-1, 3)
    first[[0, 5, 11], :2] += 60.0        # nose, left shoulder, left hip: far beyond their OKS scale
    first[[6], :2] += 0.5                # a half-pixel nudge stays right
    moved[0]["keypoints"] = first.ravel().tolist()
    report = pipeline.evaluate(gt, moved)["keypoints"]
    assert report["points_to_fix"] == pytest.approx(3 / len(gt["annotations"]))


def test_a_person_with_no_prediction_counts_all_its_labelled_points():
    gt = pose_coco(n_per_class=2, clips_per_class=1)
    ann = gt["annotations"][0]
    labelled = int((np.asarray(ann["keypoints"]).reshape(-1, 3)[:, 2] > 0).sum())
    results = [r for r in _results(gt) if r["image_id"] != ann["image_id"]]
    report = pipeline.evaluate(gt, results)["keypoints"]
    assert report["points_to_fix"] == pytest.approx(labelled / len(gt["annotations"]))
