"""Form classifiers learn a separable synthetic signal, export to ONNX with parity, and quantise."""

import json

import numpy as np
import pytest

from mlcore import coco
from mlcore.form import FormClassifier, clip_mean_probs, pose_features
from mlcore.nets.form_nets import normalised_adjacency
from mlcore.skeletons import COCO17, Skeleton
from mlcore.training.form import FormTrainConfig, build_net, fit_gradient_boosting, form_data, train_form

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


@pytest.mark.parametrize("arch", ["select", "geometry", "gcn", "mlp"])
def test_form_model_learns_exports_and_quantises(tmp_path, arch):
    train, val = pose_coco(20, seed=0), pose_coco(10, seed=1)
    cfg = FormTrainConfig(arch=arch, epochs=150, patience=1000)
    report = train_form(train, tmp_path / arch, val=val, config=cfg)
    assert report["onnx_max_abs_diff"] < 1e-4
    assert report["metrics"]["accuracy"] >= 0.9, report["metrics"]
    if arch in ("gcn", "mlp"):
        # The geometry MLP (and the selected feature classifier) has ~1k weights: its graph is mostly the
        # geometry ops, and INT8 only adds
        # (de)quantise nodes; its size change is reported, not expected to shrink.
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


def test_auto_architecture_is_recorded_as_what_was_trained(tmp_path):
    report = train_form(pose_coco(10, seed=0), tmp_path / "m", config=FormTrainConfig(epochs=20))
    assert report["architecture"] == "select"
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["architecture"] == "select"
    assert meta["candidate"]["name"] == report["selection"]["chosen"]["name"]
    assert meta["pooling"] == meta["candidate"]["pooling"] and meta["extra_inputs"] == []


def test_auto_falls_back_to_the_gcn_for_skeletons_without_body_point_names():
    dots = Skeleton("dots", ("a", "b", "c"), ((0, 1), (1, 2)), (), (0.1, 0.1, 0.1))
    net = build_net("auto", dots, 2, FormTrainConfig())
    assert type(net).__name__ == "FormGCN"
    with pytest.raises(ValueError, match="lacks the body points"):
        build_net("geometry", dots, 2, FormTrainConfig())


def test_clip_mean_probs_averages_within_clips_only():
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.3, 0.7]])
    out = clip_mean_probs(probs, ["a", "a", "b", None])
    np.testing.assert_allclose(out, [[0.7, 0.3], [0.7, 0.3], [0.2, 0.8], [0.3, 0.7]])
