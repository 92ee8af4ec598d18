"""Uncertainty signals, priority, queue diversity and label-error scores on hand-computed cases."""

import math

import numpy as np
import pytest

from mlcore import uncertainty as u

BOX = [[0, 0, 10, 10]]     # instance size sqrt(100) = 10


def test_confidence_is_one_minus_score_and_frames_average_it():
    c = u.confidence([[0.9, 0.3, 1.2]])
    np.testing.assert_allclose(c, [[0.1, 0.7, 0.0]])
    np.testing.assert_allclose(u.frame_mean([[0.1, np.nan, 0.3]]), [0.2])
    assert np.isnan(u.frame_mean([[np.nan, np.nan]])[0])


def test_flip_disagreement_is_distance_over_instance_size():
    kp = np.array([[[0, 0, 1], [5, 5, 1]]], float)
    fl = np.array([[[3, 4, 1], [5, 5, 1]]], float)
    np.testing.assert_allclose(u.flip_disagreement(kp, fl, BOX), [[0.5, 0.0]])


def test_sample_spread_is_rms_distance_from_the_mean():
    s = np.array([[[[0, 0]]], [[[2, 0]]]], float)      # two samples, one frame, one keypoint
    np.testing.assert_allclose(u.sample_spread(s, BOX), [[0.1]])


def test_temporal_jump_uses_interpolation_between_neighbours_and_half_distance_at_ends():
    kp = np.zeros((4, 1, 2))
    kp[:, 0, 0] = [0, 10, 7, 30]      # frames 1, 2, 4, 5 of clip a ... (frame 4 is out of line)
    frames = [1, 3, 4, 9]
    out = u.temporal_jump(kp, ["a"] * 4, frames, [[0, 0, 10, 10]] * 4)
    # frame 3: between (1, 0) and (4, 7) expect 0 + 2/3 * 7 = 4.667; it is at 10.
    assert out[1, 0] == pytest.approx((10 - 14 / 3) / 10)
    # frame 4: between (3, 10) and (9, 30) expect 10 + 1/6 * 20.
    assert out[2, 0] == pytest.approx(abs(7 - (10 + 20 / 6)) / 10)
    assert out[0, 0] == pytest.approx(0.5 * 10 / 10)     # first frame: half the distance to frame 3
    single = u.temporal_jump(kp[:1], ["b"], [1], BOX)
    assert np.isnan(single[0, 0])


def test_form_margin_and_entropy():
    p = np.array([[0.5, 0.5], [1.0, 0.0], [0.8, 0.2]])
    np.testing.assert_allclose(u.form_margin(p), [1.0, 0.0, 0.4])
    e = u.form_entropy(p)
    assert e[0] == pytest.approx(1.0) and e[1] == pytest.approx(0.0, abs=1e-9)
    assert e[2] == pytest.approx(-(0.8 * math.log(0.8) + 0.2 * math.log(0.2)) / math.log(2))


def test_ranks_share_ties_and_keep_nan():
    np.testing.assert_allclose(u.rank01([3.0, 1.0, 3.0, np.nan, 2.0])[[0, 1, 2, 4]], [5 / 6, 0, 5 / 6, 1 / 3])
    assert np.isnan(u.rank01([1.0, np.nan])[1])


def test_combined_priority_is_the_weighted_mean_of_available_ranks():
    signals = {"confidence": np.array([0.1, 0.5, 0.9]), "flip": np.array([0.3, np.nan, 0.1])}
    pr = u.combine(signals, weights={"flip": 3.0})
    # ranks: confidence 0, .5, 1; flip 1, nan, 0 -> frame 0: (0 + 3) / 4; frame 1: .5; frame 2: (1 + 0) / 4
    np.testing.assert_allclose(pr, [0.75, 0.5, 0.25])


def test_diverse_order_caps_frames_per_clip_at_the_top():
    pr = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    clips = ["a", "a", "a", "b", "c"]
    assert u.diverse_order(pr, clips, max_per_clip=1).tolist() == [0, 3, 4, 1, 2]
    assert u.diverse_order(pr, clips, max_per_clip=2).tolist() == [0, 1, 3, 4, 2]


def test_label_error_needs_a_confident_model_on_several_joints():
    sig = np.full(4, 0.1)
    human = np.array([[[0, 0, 2], [10, 0, 2], [20, 0, 2], [30, 0, 2]]] * 2, float)
    pred = human.copy()
    pred[:, :3, 1] += 30              # three joints far off in both frames
    pred[0, :, 2] = 0.9               # frame 0: confident
    pred[1, :, 2] = 0.2               # frame 1: unsure, so not the human's fault
    res = u.label_error_scores(pred, human, [100.0, 100.0], sig, min_joints=3)
    assert res["count"].tolist() == [3, 0] and res["flagged"].tolist() == [True, False]
    assert res["score"][0] == pytest.approx(0.75)


def test_label_error_from_a_confident_form_disagreement():
    human = np.zeros((2, 1, 3))
    probs = np.array([[0.9, 0.1], [0.6, 0.4]])
    res = u.label_error_scores(human, human, [1, 1], [0.1], form_probs=probs, human_form=["lumbar", "lumbar"],
                               classes=["correct", "lumbar"])
    assert res["form_disagrees"].tolist() == [True, False]
    assert res["score"].tolist() == pytest.approx([0.9, 0.0])


def test_error_capture_counts_errors_in_the_top_share():
    pr = np.arange(10, dtype=float)            # frame 9 first
    err = np.zeros(10, bool)
    err[[9, 8, 0]] = True
    res = u.error_capture(pr, err, top=0.2)
    assert res["capture"] == pytest.approx(2 / 3) and res["precision"] == 1.0
    assert res["random_precision"] == pytest.approx(0.3)
    assert res["ceiling"] == pytest.approx(2 / 3)      # 3 errors, 2 places at the top
    assert u.error_capture(pr, np.ones(10, bool), top=0.2)["ceiling"] == pytest.approx(0.2)
