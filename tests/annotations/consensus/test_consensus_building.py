"""The consensus of independent annotations and the agreement figures, on hand-made numbers."""

import math

import pytest

from annotations.consensus.building import consensus, krippendorff_alpha

SIGMAS = [0.1, 0.1, 0.1]


def test_each_point_is_the_median_of_the_people_who_placed_it_when_a_majority_did():
    votes = [([10, 10, 2, 50, 50, 2, 0, 0, 0], "correct"),
             ([12, 10, 2, 52, 50, 1, 90, 90, 2], "correct"),
             ([100, 10, 2, 0, 0, 0, 0, 0, 0], "lumbar_error")]  # a stray nose; one person left the rest out
    result = consensus(votes, SIGMAS, 0.75)
    assert result["keypoints"][:3] == [12, 10, 2]  # the median: the stray click does not drag it
    assert result["keypoints"][3:6] == [51, 50, 2]  # two of three placed it: their mean, visible (1 of 2 said so)
    assert result["keypoints"][6:] == [0, 0, 0]  # one of three placed it: not in the consensus
    assert result["form_label"] == "correct" and result["form_agreement"] == pytest.approx(1 / 3, abs=1e-4)


def test_agreement_is_the_mean_pairwise_oks_and_decides_review():
    same = [([10, 10, 2, 40, 40, 2, 0, 0, 0], "correct")] * 2
    agreed = consensus(same, SIGMAS, 0.75)
    assert agreed["oks_per_keypoint"] == [1.0, 1.0, None] and agreed["mean_oks"] == 1.0 and agreed["agreed"]
    apart = [([10, 10, 2, 40, 40, 2, 0, 0, 0], "correct"), ([13, 14, 2, 0, 0, 0, 0, 0, 0], "correct")]
    result = consensus(apart, SIGMAS, 0.75)
    # The box of the consensus is 0 wide (one point): the OKS scale falls back to 1 px^2.
    expected = math.exp(-25 / (2 * 1.0 * (2 * 0.1) ** 2))
    assert result["oks_per_keypoint"][0] == pytest.approx(expected, abs=1e-4)
    assert result["oks_per_keypoint"][1] == 0.0  # one placed it, the other did not
    assert result["disagreeing"] == [0, 1] and not result["agreed"]


def test_one_keypoint_far_apart_sends_an_otherwise_agreed_frame_to_review():
    base = [10, 10, 2, 40, 40, 2, 80, 80, 2]
    far = [10, 10, 2, 40, 40, 2, 80, 120, 2]  # the third point 40 px away
    result = consensus([(base, None), (far, None)], SIGMAS, 0.6)
    assert result["mean_oks"] >= 0.6 and result["oks_per_keypoint"][2] < 0.3
    assert result["disagreeing"] == [2] and not result["agreed"]


def test_a_tied_form_label_has_no_consensus_and_is_disputed():
    votes = [([10, 10, 2], "correct"), ([10, 10, 2], "lumbar_error")]
    result = consensus(votes, [0.1], 0.5)
    assert result["form_label"] == "" and result["form_agreement"] == 0.0 and not result["agreed"]


def test_krippendorffs_alpha_for_nominal_labels():
    # Coincidences: a-a 2, a-b 1, b-a 1, b-b 2; n_a = n_b = 3: alpha = 1 - 2 / (18 / 5) = 4/9.
    assert krippendorff_alpha([["a", "a"], ["a", "b"], ["b", "b"]]) == pytest.approx(4 / 9, abs=1e-4)
    assert krippendorff_alpha([["a", "a"], ["b", "b", "b"]]) == 1.0
    assert krippendorff_alpha([["a", "a"], ["a"]]) is None  # no expected disagreement to compare with
    assert krippendorff_alpha([["a"]]) is None
