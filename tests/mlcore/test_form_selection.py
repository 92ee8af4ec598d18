"""Form selection: inner CV sees only training clips, picks the set that carries the signal, and is recorded."""

import json

import numpy as np
import pytest
import torch

from mlcore.form import FormClassifier
from mlcore.form_features import FeatureStack, SpineCurvature, supported_feature_sets
from mlcore.form_nested_cv import clip_accuracy, nested_cv
from mlcore.form_selection import Candidate, FitSettings, FormArrays, default_candidates, pooled, select
from mlcore.skeletons import COCO17, COCO17_SPINE
from mlcore.training.form import form_data, train_form
from mlcore.training.form_select import spine_labelled

from .synthetic import pose_coco

FAST = FitSettings(steps=60)


def noise_dataset(n_clips=12, frames=5, seed=0, signal_dim=3):
    """Poses that carry no label signal, plus two extra inputs: "signal" (label + noise) and "noise".

    The label is constant per clip; the keypoints are random jitter around one pose.
    """
    rng = np.random.default_rng(seed)
    base = form_data(pose_coco(1, seed=seed)).features[0]
    n = n_clips * frames
    clips = np.repeat([f"c{i}" for i in range(n_clips)], frames)
    y = np.repeat(np.arange(n_clips) % 2, frames)
    feats = (base[None] + np.concatenate([rng.normal(0, 0.05, (n, 17, 2)), np.zeros((n, 17, 1))], -1))
    feats = feats.astype(np.float32)
    signal = (y[:, None] * 1.5 + rng.normal(0, 0.5, (n, signal_dim))).astype(np.float32)
    noise = rng.normal(0, 1, (n, signal_dim)).astype(np.float32)
    return FormArrays(feats, y, clips, {"signal": signal, "noise": noise})


def test_selection_picks_the_feature_set_that_carries_the_signal():
    data = noise_dataset()
    cands = [Candidate(features=("geometry",)), Candidate(features=(), extra=("noise",)),
             Candidate(features=(), extra=("signal",))]
    sel = select(data, cands, COCO17, 2, inner_folds=3, settings=FAST)
    assert sel.chosen.extra == ("signal",)
    assert set(sel.scores) == {c.name for c in cands}
    assert sel.scores[sel.chosen.name] > sel.scores[cands[1].name]


def test_selection_prefers_pose_features_when_the_poses_carry_the_signal():
    fd = form_data(pose_coco(16, clips_per_class=4, seed=1))      # lumbar frames drop the head
    y = np.array([lab == "lumbar_error" for lab in fd.labels], dtype=int)
    noise = np.random.default_rng(0).normal(0, 1, (len(y), 3)).astype(np.float32)
    data = FormArrays(fd.features, y, np.array(fd.clip_ids), {"noise": noise})
    cands = [Candidate(features=(), extra=("noise",)), Candidate(features=("trunk",))]
    sel = select(data, cands, COCO17, 2, inner_folds=4, settings=FAST)
    assert sel.chosen.features == ("trunk",) and sel.score > 0.9


def test_selection_needs_every_class_in_every_inner_training_part():
    data = noise_dataset(n_clips=2, frames=4)          # one clip per class: no clip can be held out
    cands = [Candidate(features=(), extra=("noise",)), Candidate(features=(), extra=("signal",))]
    sel = select(data, cands, COCO17, 2, inner_folds=4, settings=FAST)
    assert sel.chosen == cands[0] and sel.inner_folds == 0 and sel.to_dict()["inner_score"] is None
    sel = select(noise_dataset(n_clips=6, frames=3), cands, COCO17, 2, inner_folds=5, settings=FAST)
    assert 2 <= sel.inner_folds <= 5 and sel.chosen == cands[1]


def test_nested_cv_never_lets_an_outer_test_clip_into_selection_or_training():
    data = noise_dataset(n_clips=15)
    seen: list[tuple[str, set]] = []
    folds = []
    cands = [Candidate(features=(), extra=("noise",)), Candidate(features=(), extra=("signal",), pooling="none")]
    res = nested_cv(data, ["correct", "lumbar_error"], "lumbar_error", COCO17, cands, outer_folds=3, inner_folds=3,
                    seeds=(0, 1), settings=FAST, seen=lambda kind, rows: seen.append((kind, set(rows.clips.tolist()))),
                    on_fold=lambda f: folds.append((f, list(seen))) or seen.clear())
    assert len(folds) == 6 and len(res.folds) == 6
    for fold, calls in folds:
        test = set(fold.test_clips)
        assert test and not test & set(fold.train_clips)
        assert set(fold.train_clips) | test == set(data.clips.tolist())
        # Selection ran on the outer training clips only; every inner and final fit saw none of the test clips.
        selections = [clips for kind, clips in calls if kind == "select"]
        assert selections == [set(fold.train_clips)]
        assert all(not clips & test for _, clips in calls)
        assert sum(kind == "fit" for kind, _ in calls) == 3 * 2 + 1
    assert res.chosen_counts()
    summary = res.summary()
    assert set(summary) == {"model", "majority", "always_positive"}
    assert summary["always_positive"]["frame_accuracy"]["mean"] == pytest.approx(7 / 15)  # 7 of 15 clips
    assert summary["model"]["clip_accuracy"]["mean"] >= 0.8


def test_clip_pooling_reads_a_clip_by_the_mean_of_its_frames():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    clips = ["a", "a", "a", "b"]
    np.testing.assert_allclose(pooled(probs, clips, "mean")[:3], [[7 / 15, 8 / 15]] * 3)
    np.testing.assert_allclose(pooled(probs, clips, "none"), probs)
    # Clip a: mean says class 1 (its label); clip b: class 0, but its label is 1.
    assert clip_accuracy(probs, np.array([1, 1, 1, 1]), clips) == 0.5
    with pytest.raises(ValueError):
        pooled(probs, clips, "max")


def test_train_form_records_the_choice_and_exports_the_extra_input(tmp_path):
    data = pose_coco(12, clips_per_class=4, seed=0)
    fd = form_data(data)
    rng = np.random.default_rng(0)
    y = np.array([lab == "lumbar_error" for lab in fd.labels], dtype=np.float32)
    extra = {"signal": (y[:, None] * 2 + rng.normal(0, 0.3, (len(y), 2))).astype(np.float32)}
    cands = [Candidate(features=(), extra=("signal",)), Candidate(features=("trunk",), extra=("signal",))]
    report = train_form(data, tmp_path / "m", extra_features=extra, candidates=cands, quantize=False)
    sel = report["selection"]
    assert sel["chosen"]["name"] in {c.name for c in cands} and set(sel["inner_scores"]) == {c.name for c in cands}
    assert sel["inner_clips"] == 8 and report["onnx_max_abs_diff"] < 1e-4
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["extra_inputs"] == [{"name": "signal", "dim": 2}]
    clf = FormClassifier(tmp_path / "m")
    with pytest.raises(ValueError, match="extra inputs"):
        clf.predict_proba(fd.keypoints)
    probs = clf.predict_clip_proba(fd.keypoints, fd.clip_ids, extra=extra)
    assert np.mean(probs.argmax(1) == y) >= 0.9


def test_default_grid_offers_spine_features_only_when_people_placed_the_spine():
    names = {c.name.split("/")[0] for c in default_candidates(COCO17_SPINE)}
    assert names == {"geometry", "trunk", "geometry+trunk"}
    with_spine = {c.name.split("/")[0] for c in default_candidates(COCO17_SPINE, spine_labelled=True)}
    assert {"spine", "trunk+spine"} <= with_spine
    assert "spine" not in supported_feature_sets(COCO17)
    kp = np.zeros((2, COCO17_SPINE.num_keypoints, 3))
    kp[:, COCO17_SPINE.keypoints.index("spine_03"), 2] = 1     # heuristic guesses: v = 1
    assert not spine_labelled(kp, COCO17_SPINE)
    kp[1, COCO17_SPINE.keypoints.index("spine_03"), 2] = 2
    assert spine_labelled(kp, COCO17_SPINE)


def test_spine_curvature_is_zero_on_a_straight_chain_and_signed_on_a_bent_one():
    k = COCO17_SPINE.num_keypoints
    x = torch.zeros(2, k, 3)
    chain = ["hip", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05", "neck"]
    for j, name in enumerate(chain):
        i = COCO17_SPINE.keypoints.index(name)
        bend = np.sin(np.pi * j / 6) * 0.2
        x[0, i] = torch.tensor([j / 6, 0.0, 1.0])
        x[1, i] = torch.tensor([j / 6, -bend, 1.0])
    f = SpineCurvature(COCO17_SPINE)(x)
    assert f.shape == (2, 12)
    assert torch.allclose(f[0, :11], torch.zeros(11), atol=1e-5)
    assert (f[1, :5] != 0).all() and f[1, 10] > 0 and f[1, 11] == 1


def test_feature_sets_are_flip_invariant():
    data = pose_coco(3, seed=2)
    fd = form_data(data)
    kp = fd.keypoints.copy()
    mirrored = kp.copy()
    mirrored[..., 0] = 600 - mirrored[..., 0]
    mirrored = mirrored[:, COCO17.flip_index]
    from mlcore.form import pose_features

    stack = FeatureStack(COCO17, ["geometry", "trunk"])
    a = stack(torch.from_numpy(pose_features(kp, COCO17)))
    b = stack(torch.from_numpy(pose_features(mirrored, COCO17)))
    assert a.shape == (6, stack.num_features)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
