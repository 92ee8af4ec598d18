"""Scoring against a gold frame: OKS per keypoint with the project's sigmas, pixel error, form agreement."""

import math

import pytest

from annotations.gold.scoring import score

SIGMAS = [0.05, 0.1, 0.1]
GOLD = [10, 10, 2, 50, 10, 2, 0, 0, 0]  # the third point is not in the gold


def test_the_gold_itself_scores_one_and_no_pixel_error():
    result = score(GOLD, "correct", GOLD, 400.0, "correct", SIGMAS)
    assert result["oks"] == 1.0 and result["oks_per_keypoint"] == [1.0, 1.0, None]
    assert result["pixel_error"] == 0.0 and result["missed"] == 0 and result["extra"] == 0
    assert result["form_agreement"] is True


def test_a_shifted_point_follows_cocos_formula_and_a_missed_one_scores_zero():
    mine = [13, 14, 2, 0, 0, 0, 30, 30, 2]  # 5 px off, the second gold point left out, an extra third point
    result = score(mine, "lumbar_error", GOLD, 400.0, "correct", SIGMAS)
    expected = math.exp(-25 / (2 * 400.0 * (2 * 0.05) ** 2))
    assert result["oks_per_keypoint"][0] == pytest.approx(expected, abs=1e-4)
    assert result["oks_per_keypoint"][1:] == [0.0, None]
    assert result["oks"] == pytest.approx(expected / 2, abs=1e-4)
    assert result["pixel_error"] == 5.0 and result["pixel_error_per_keypoint"] == [5.0, None, None]
    assert (result["missed"], result["extra"], result["form_agreement"]) == (1, 1, False)


def test_no_gold_label_means_no_form_agreement_and_a_short_list_reads_as_unlabelled():
    result = score([10, 10, 2], None, GOLD, 0.0, None, SIGMAS)  # no area stored: the gold box's area
    assert result["form_agreement"] is None and result["missed"] == 1
    assert result["oks_per_keypoint"][0] == 1.0
