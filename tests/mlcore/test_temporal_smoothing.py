"""Keypoints smoothed along a clip: the windowed median by hand, clips kept apart, and radii chosen per point
on held-out frames (long for a still point, none for a moving one)."""

from __future__ import annotations

import numpy as np

from mlcore.temporal_smoothing import WHOLE_CLIP, choose_radii, smooth_in_clips


def test_each_point_takes_the_median_of_its_window_in_frame_order_and_clips_stay_apart():
    # Clip "a" listed out of order (frames 30, 10, 20, 40), clip "b" two frames, one frame without a number.
    clips, frames = ["a", "a", "a", "a", "b", "b", "a"], [30, 10, 20, 40, 1, 2, None]
    kp = np.zeros((7, 2, 3))
    kp[:, 0, 0] = [3.0, 1.0, 100.0, 4.0, 50.0, 60.0, 999.0]   # x of point 0; frame order in "a": 1, 100, 3, 4
    kp[:, 1, 0] = np.arange(7) * 10.0
    kp[:, :, 2] = 0.7
    got = smooth_in_clips(kp, clips, frames, [1, 0])
    # Point 0, radius 1 in "a": frame 10 -> median(1, 100) = 50.5; 20 -> median(1, 100, 3) = 3; 30 -> median(100,
    # 3, 4) = 4; 40 -> median(3, 4) = 3.5. "b": both frames -> 55. The numberless frame is left alone.
    np.testing.assert_allclose(got[:, 0, 0], [4.0, 50.5, 3.0, 3.5, 55.0, 55.0, 999.0])
    np.testing.assert_array_equal(got[:, 1], kp[:, 1])           # radius 0: unchanged
    np.testing.assert_array_equal(got[:, :, 2], kp[:, :, 2])     # scores stay
    whole = smooth_in_clips(kp, clips, frames, WHOLE_CLIP)
    np.testing.assert_allclose(whole[[0, 1, 2, 3], 0, 0], 3.5)   # median of 1, 100, 3, 4


def test_frames_holding_several_people_are_not_smoothed_and_nan_points_are_left_out():
    kp = np.zeros((3, 1, 3))
    kp[:, 0, 0] = [1.0, 2.0, 9.0]
    same_frame = smooth_in_clips(kp, ["a", "a", "a"], [1, 1, 2], WHOLE_CLIP)
    np.testing.assert_array_equal(same_frame, kp)                # who is who across frames is unknown
    kp[1, 0, :2] = np.nan
    got = smooth_in_clips(kp, ["a", "a", "a"], [1, 2, 3], WHOLE_CLIP)
    np.testing.assert_allclose(got[:, 0, 0], 5.0)                # median of 1 and 9


def test_radii_are_chosen_long_for_a_still_point_and_zero_for_a_moving_one():
    rng = np.random.default_rng(0)
    n_clips, n = 4, 12
    clips = [f"c{c}" for c in range(n_clips) for _ in range(n)]
    frames = [3 * j for _ in range(n_clips) for j in range(n)]
    labels = np.zeros((n_clips * n, 2, 3))
    labels[:, 0, :2] = [100.0, 200.0]                            # point 0 stands still
    t = np.tile(np.arange(n), n_clips)
    labels[:, 1, 0] = 100.0 + 40.0 * np.sin(t * 1.3)             # point 1 swings fast, frame to frame
    labels[:, 1, 1] = 150.0
    labels[:, :, 2] = 2
    pred = labels.copy()
    pred[:, 0, :2] += rng.normal(0, 6, size=(len(pred), 2))      # noisy still point
    pred[:, 1, :2] += rng.normal(0, 0.5, size=(len(pred), 2))    # nearly exact moving point
    areas = np.full(len(pred), 100.0 * 100.0)
    chosen = choose_radii(pred, labels, areas, [0.079, 0.062], clips, frames)
    assert chosen["radius"][0] != 0 and chosen["radius"][1] == 0
    terms = chosen["mean_oks_term"]
    assert terms[str(chosen["radius"][0])][0] > terms["0"][0]
    assert chosen["frames"] == len(pred)
