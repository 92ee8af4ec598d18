"""Test-time views: each view's heatmap lands on the plain crop's grid where the point is, the zoomed view's
crop is the scaled ROI's crop, and averaging maps keeps the stronger of two disagreeing modes."""

from __future__ import annotations

import numpy as np
import torch

from mlcore.blazepose.heads import STRIDE, decode_heatmaps
from mlcore.blazepose.roi import Roi, roi_matrix
from mlcore.blazepose.test_views import MIRRORED, PLAIN, to_plain_grid, view_matrix, views_mean_logits, zoom
from mlcore.skeletons import COCO17

SIGMA = 1.5


def _gaussians(cells: np.ndarray, weight: np.ndarray | None = None) -> torch.Tensor:
    """(1, K, 64, 64) log-probabilities: one Gaussian per channel at cells (K, 2) [x, y] (fractional)."""
    grid = np.arange(64.0)
    gx = np.exp(-((grid[None, :] - cells[:, :1]) ** 2) / (2 * SIGMA ** 2))
    gy = np.exp(-((grid[None, :] - cells[:, 1:]) ** 2) / (2 * SIGMA ** 2))
    p = gy[:, :, None] * gx[:, None, :]
    p /= p.sum(axis=(1, 2), keepdims=True)
    return torch.from_numpy(np.log(np.maximum(p, 1e-30))[None]).float()


def _view_cells(view: np.ndarray, plain_cells: np.ndarray) -> np.ndarray:
    """Where points at plain cells (K, 2) sit on the view's heatmap grid."""
    crop = np.hstack([plain_cells * STRIDE, np.ones((len(plain_cells), 1))]) @ view.T
    return crop[:, :2] / STRIDE


def _decoded(prob: torch.Tensor) -> np.ndarray:
    """(K, 2) decoded cells of probability maps (1, K, 64, 64): the plain map's decoding is the yardstick, since
    the decoding window itself pulls a point between cells a little towards the cell centre."""
    return decode_heatmaps(torch.log(prob.clamp_min(1e-30)).numpy())[0, :, :2]


def test_a_zoomed_view_is_the_crop_of_the_roi_scaled_about_its_centre():
    roi = Roi(301.5, 188.0, 240.0, np.deg2rad(25))
    for scale in (0.9, 1.1, 1.5):
        scaled = Roi(roi.center_x, roi.center_y, roi.size * scale, roi.rotation)
        np.testing.assert_allclose(view_matrix(zoom(scale), roi_matrix(roi)), roi_matrix(scaled), atol=1e-9)
    np.testing.assert_allclose(view_matrix(PLAIN, roi_matrix(roi)), roi_matrix(roi))


def test_each_views_heatmap_decodes_on_the_plain_grid_at_the_points_plain_cells():
    rng = np.random.default_rng(0)
    # Points within 0.3 of a cell centre: nearer the edge between two cells the decoding window's argmax may
    # fall on either side, which moves the window's centroid by a few tenths of a cell in any map.
    plain_cells = rng.integers(14, 50, size=(17, 2)) + rng.uniform(-0.3, 0.3, size=(17, 2))
    for view in (zoom(0.9), zoom(1.1)):
        got = to_plain_grid(_gaussians(_view_cells(view, plain_cells)), view)
        np.testing.assert_allclose(_decoded(got), _decoded(torch.exp(_gaussians(plain_cells))), atol=0.1)
        # the area change is undone: a point inside both crops keeps its whole mass
        np.testing.assert_allclose(got.sum(dim=(2, 3)).numpy(), 1.0, atol=0.05)


def test_the_mirrored_view_reads_each_point_from_its_left_right_twins_channel():
    rng = np.random.default_rng(1)
    plain_cells = rng.integers(10, 54, size=(17, 2)) + rng.uniform(-0.3, 0.3, size=(17, 2))
    # In the mirrored crop the left wrist is seen where the right wrist was, and named right wrist.
    view_cells = _view_cells(MIRRORED, plain_cells)[COCO17.flip_index]
    got = to_plain_grid(_gaussians(view_cells), MIRRORED, COCO17.flip_index)
    np.testing.assert_allclose(_decoded(got), _decoded(torch.exp(_gaussians(plain_cells))), atol=0.1)


def test_a_mirrored_view_needs_the_flip_index():
    try:
        to_plain_grid(_gaussians(np.full((17, 2), 32.0)), MIRRORED)
    except ValueError as e:
        assert "flip_index" in str(e)
    else:
        raise AssertionError("a mirroring view without flip_index was accepted")


def test_averaging_maps_keeps_the_stronger_mode_where_points_would_average_to_the_midpoint():
    near, far = np.full((17, 2), 20.0), np.full((17, 2), 44.0)
    confident = _gaussians(near)
    # The second view is torn between the same place and a far one, and leans slightly to the far one.
    torn = torch.log(0.45 * torch.exp(_gaussians(near)) + 0.55 * torch.exp(_gaussians(far)))
    mean = views_mean_logits([confident, torn], [PLAIN, PLAIN])
    np.testing.assert_allclose(decode_heatmaps(mean.numpy())[0, :, :2], near, atol=0.05)
    points = (decode_heatmaps(confident.numpy()) + decode_heatmaps(torn.numpy()))[0, :, :2] / 2
    assert np.all(np.abs(points - near) > 10)       # the point-wise mean lands between the two modes


def test_the_settings_rules_are_the_rules_and_force_or_leave_the_choice():
    import pytest

    from mlcore.blazepose.head_config import TEST_VIEW_RULES, HeadTrainConfig
    from mlcore.blazepose.test_views import RULES, rule_keypoints
    from mlcore.blazepose.training import test_view_candidates

    assert tuple(RULES) == TEST_VIEW_RULES
    assert test_view_candidates(HeadTrainConfig()) == TEST_VIEW_RULES           # chosen on held-out clips
    assert test_view_candidates(HeadTrainConfig(flip_average=True)) == ("flip_points",)
    assert test_view_candidates(HeadTrainConfig(flip_average=False)) == ("plain",)
    assert test_view_candidates(HeadTrainConfig(flip_average=False, test_views="zoom")) == ("zoom",)
    listed = HeadTrainConfig(test_views=["flip_maps", "plain", "flip_points"])
    assert test_view_candidates(listed) == ("plain", "flip_points", "flip_maps")   # in the rules' order
    for wrong in ("zoom3", ["plain", "zoom3"], []):
        with pytest.raises(ValueError, match="test_views"):
            test_view_candidates(HeadTrainConfig(test_views=wrong))
    with pytest.raises(ValueError, match="unknown test-time rule"):
        rule_keypoints("zoom3", {"plain": _gaussians(np.full((17, 2), 32.0))}, np.eye(3)[None, :2], COCO17.flip_index)
