"""Form classifiers learn a separable synthetic signal, export to ONNX with parity, and quantise."""

import json

import numpy as np
import pytest

from mlcore import coco
from mlcore.form import FormClassifier, pose_features
from mlcore.nets.form_nets import normalised_adjacency
from mlcore.skeletons import COCO17
from mlcore.training.form import FormTrainConfig, fit_gradient_boosting, form_data, train_form

from .synthetic import pose_coco


def test_adjacency_is_symmetric_normalised_with_self_loops():
    a = normalised_adjacency(3, [(0, 1)])
    # Degrees with self loops: 2, 2, 1.
    np.testing.assert_allclose(a, [[0.5, 0.5, 0], [0.5, 0.5, 0], [0, 0, 1]])


def test_pose_features_do_not_depend_on_position_scale_or_facing():
    data = pose_coco(n_per_class=1, seed=3)
    kp = coco.keypoint_table(data).keypoints[:1]
    moved = kp.copy()
    moved[..., :2] = moved[..., :2] * 2.5 + 40
    mirrored = kp.copy()
    mirrored[..., 0] = 500 - mirrored[..., 0]
    mirrored = mirrored[:, COCO17.flip_index]
    base = pose_features(kp, COCO17)
    np.testing.assert_allclose(pose_features(moved, COCO17), base, atol=1e-5)
    np.testing.assert_allclose(pose_features(mirrored, COCO17), base, atol=1e-5)
    assert base.shape == (1, 17, 3) and set(np.unique(base[..., 2])) == {1.0}


@pytest.mark.parametrize("arch", ["gcn", "mlp"])
def test_form_model_learns_exports_and_quantises(tmp_path, arch):
    train, val = pose_coco(20, seed=0), pose_coco(10, seed=1)
    cfg = FormTrainConfig(arch=arch, epochs=150, patience=1000)
    report = train_form(train, tmp_path / arch, val=val, config=cfg)
    assert report["onnx_max_abs_diff"] < 1e-4
    assert report["metrics"]["accuracy"] >= 0.9, report["metrics"]
    assert report["int8"]["int8"]["bytes"] < report["int8"]["fp32"]["bytes"]
    meta = json.loads((tmp_path / arch / "model.json").read_text())
    assert meta["kind"] == "form" and meta["classes"] == ["correct", "lumbar_error"]
    clf = FormClassifier(tmp_path / arch)
    table = coco.keypoint_table(val)
    probs = clf.predict_proba(table.keypoints, COCO17)
    assert probs.shape == (20, 2)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert np.mean(np.array(clf.predict(table.keypoints)) == np.array(table.form_labels)) >= 0.9
    int8 = FormClassifier(tmp_path / arch, int8=True).predict_proba(table.keypoints)
    assert np.abs(int8 - probs).max() < 0.2


def test_gradient_boosting_baseline_fits_the_same_features():
    tr, va = form_data(pose_coco(20, seed=0)), form_data(pose_coco(10, seed=1))
    y = np.array([lab == "lumbar_error" for lab in tr.labels], dtype=int)
    gb = fit_gradient_boosting(tr.features, y)
    pred = gb.predict(va.features.reshape(len(va.features), -1))
    assert np.mean(pred == np.array([lab == "lumbar_error" for lab in va.labels])) >= 0.9


def test_training_needs_two_form_labels(tmp_path):
    data = pose_coco(5)
    for a in data["annotations"]:
        a["attributes"]["form_label"] = "correct"
    with pytest.raises(ValueError):
        train_form(data, tmp_path / "m")
