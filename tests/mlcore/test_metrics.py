"""Metrics against hand-computed cases (and pycocotools agrees with our OKS)."""

import math

import numpy as np
import pytest

from mlcore import metrics
from mlcore.skeletons import COCO17


def test_oks_matches_the_coco_formula_by_hand():
    gt = np.array([[[0, 0, 2], [10, 0, 2], [5, 5, 0]]], dtype=float)
    pred = np.array([[[3, 4], [10, 0], [100, 100]]], dtype=float)    # d = 5, 0, ignored
    sigmas = np.array([0.1, 0.1, 0.1])
    area = 100.0
    # e = d^2 / ((2 sigma)^2 * area * 2) = 25 / (0.04 * 100 * 2) = 3.125
    expected = (math.exp(-3.125) + 1.0) / 2
    assert metrics.oks(pred, gt, [area], sigmas)[0] == pytest.approx(expected)
    ks = metrics.oks_per_keypoint(pred, gt, [area], sigmas)
    assert np.isnan(ks[0, 2]) and ks[0, 1] == 1.0


def test_oks_is_nan_without_labelled_points():
    gt = np.zeros((1, 2, 3))
    assert np.isnan(metrics.oks(np.zeros((1, 2, 2)), gt, [1.0], [0.1, 0.1])[0])


def test_pck_uses_the_longer_box_side():
    gt = np.array([[[0, 0, 2], [0, 0, 2], [0, 0, 1], [0, 0, 0]]], dtype=float)
    pred = np.array([[[4, 0], [6, 0], [0, 5], [50, 50]]], dtype=float)
    overall, per = metrics.pck(pred, gt, [[0, 0, 50, 100]], alpha=0.05)   # threshold 5 px
    assert overall == pytest.approx(2 / 3)
    assert per[:3].tolist() == [1.0, 0.0, 1.0] and np.isnan(per[3])


def test_pixel_error_means_over_labelled_points():
    gt = np.array([[[0, 0, 2], [0, 0, 2]], [[0, 0, 2], [0, 0, 0]]], dtype=float)
    pred = np.array([[[3, 4], [0, 1]], [[6, 8], [9, 9]]], dtype=float)
    overall, per = metrics.pixel_error(pred, gt)
    assert overall == pytest.approx((5 + 1 + 10) / 3)
    assert per.tolist() == pytest.approx([7.5, 1.0])


def coco_case():
    kp1 = np.zeros((17, 3))
    kp1[:, 0] = np.linspace(10, 90, 17)
    kp1[:, 1] = np.linspace(20, 180, 17)
    kp1[:, 2] = 2
    kp2 = kp1 + [200, 0, 0]
    gt = {"categories": [COCO17.coco_category()],
          "images": [{"id": 1, "file_name": "a_1_1.jpg", "width": 400, "height": 200},
                     {"id": 2, "file_name": "a_1_2.jpg", "width": 400, "height": 200}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 80, 160], "area": 12800.0,
                           "keypoints": kp1.ravel().tolist(), "iscrowd": 0},
                          {"id": 2, "image_id": 2, "category_id": 1, "bbox": [210, 20, 80, 160], "area": 12800.0,
                           "keypoints": kp2.ravel().tolist()}]}
    return gt, kp1, kp2


def test_oks_ap_is_perfect_for_exact_predictions_and_drops_for_bad_ones():
    gt, kp1, kp2 = coco_case()
    perfect = [{"image_id": 1, "category_id": 1, "keypoints": kp1.ravel().tolist(), "score": 0.9},
               {"image_id": 2, "category_id": 1, "keypoints": kp2.ravel().tolist(), "score": 0.8}]
    assert metrics.oks_ap(gt, perfect, COCO17.sigma_array)["AP"] == pytest.approx(1.0)
    shifted = kp2.copy()
    shifted[:, 0] += 40          # far off: OKS well under 0.5
    half = [perfect[0], {**perfect[1], "keypoints": shifted.ravel().tolist()}]
    res = metrics.oks_ap(gt, half, COCO17.sigma_array)
    assert 0.3 < res["AP"] < 0.7
    assert metrics.oks_ap(gt, [], COCO17.sigma_array)["AP"] == 0.0


def test_custom_sigmas_change_the_ap():
    gt, kp1, kp2 = coco_case()
    nudged = [{"image_id": i, "category_id": 1, "keypoints": (k + [6, 0, 0]).ravel().tolist(), "score": 0.9}
              for i, k in ((1, kp1), (2, kp2))]
    tight = metrics.oks_ap(gt, nudged, np.full(17, 0.01))["AP"]
    loose = metrics.oks_ap(gt, nudged, np.full(17, 0.2))["AP"]
    assert loose == pytest.approx(1.0) and tight < 0.2


def test_match_predictions_pairs_by_score_and_counts_misses_as_zero():
    gt, kp1, kp2 = coco_case()
    results = [{"image_id": 1, "category_id": 1, "keypoints": kp1.ravel().tolist(), "score": 0.9}]
    matched = metrics.match_predictions(gt, results, COCO17.sigma_array)
    assert [(m["annotation_id"], m["result"]) for m in matched] == [(1, 0), (2, None)]
    assert matched[0]["oks"] == pytest.approx(1.0) and matched[1]["oks"] == 0.0


def test_classification_metrics_by_hand():
    y_true = ["a", "a", "a", "b", "b"]
    y_pred = ["a", "b", "a", "b", "a"]
    rep = metrics.classification_report(y_true, y_pred, ["a", "b"], positive="b")
    assert rep["accuracy"] == pytest.approx(3 / 5)
    assert rep["confusion_matrix"] == [[2, 1], [1, 1]]
    # b: tp 1, fp 1, fn 1 -> F1 0.5; a: tp 2, fp 1, fn 1 -> 4/6
    assert rep["f1"] == pytest.approx(0.5)
    assert rep["f1_macro"] == pytest.approx((0.5 + 4 / 6) / 2)


def test_group_kfold_keeps_each_clip_in_one_fold_and_balances_classes():
    groups = [f"clip{i // 4}" for i in range(40)]           # 10 clips of 4 frames
    labels = ["x" if i < 20 else "y" for i in range(40)]
    folds = metrics.group_kfold(groups, 5, seed=3, labels=labels)
    assert len(folds) == 5
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen.tolist()) == list(range(40))
    for train, test in folds:
        assert not set(np.array(groups)[train]) & set(np.array(groups)[test])
        assert {labels[i] for i in test} == {"x", "y"}
        assert len(test) == 8
    with pytest.raises(ValueError):
        metrics.group_kfold(["a", "b"], 5)
