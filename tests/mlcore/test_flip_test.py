"""The flip test on cached crops: un-mirroring exactly, the choice on held-out frames, and the same answer as
the predictor's own mirrored pass."""

from __future__ import annotations

import numpy as np

from mlcore.blazepose.flip_test import averaged, choose_flip_average, unmirror
from mlcore.blazepose.heads import STRIDE
from mlcore.skeletons import COCO17
from mlcore.transforms import apply_affine, invert_affine


def _peaked(cells: np.ndarray) -> np.ndarray:
    """(1, K, 64, 64) logits with one sharp peak per channel at cells (K, 2) [col, row]."""
    hm = np.full((1, len(cells), 64, 64), -50.0)
    for k, (c, r) in enumerate(cells):
        hm[0, k, r, c] = 50.0
    return hm


def test_unmirror_swaps_left_and_right_and_maps_mirrored_crop_pixels_back_to_the_image():
    rng = np.random.default_rng(0)
    cells = rng.integers(3, 61, size=(17, 2))
    # A crop of 256 px from a 512 px wide region, shifted and rotated: image -> crop matrix.
    angle = np.deg2rad(20)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * 0.5
    m = np.hstack([rot, [[10.0], [-30.0]]])
    got = unmirror(_peaked(cells), m[None], COCO17.flip_index)[0]
    for j in range(17):
        c, r = cells[COCO17.flip_index[j]]           # left wrist's answer is the mirrored crop's right wrist
        crop_xy = np.array([[256.0 - c * STRIDE, r * STRIDE]])
        np.testing.assert_allclose(got[j, :2], apply_affine(crop_xy, invert_affine(m))[0], atol=1e-6)
    assert COCO17.flip_index[COCO17.index("left_wrist")] == COCO17.index("right_wrist")


def _labels(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    gt = np.zeros((n, 17, 3))
    gt[:, :, :2] = rng.uniform(50, 250, size=(n, 17, 2))
    gt[:, :, 2] = 2
    return gt, np.full(n, 150.0 * 150.0)


def test_the_flip_average_is_chosen_only_when_it_scores_higher_on_the_held_out_frames():
    rng = np.random.default_rng(1)
    gt, areas = _labels(6, rng)
    noise = rng.normal(0, 8, size=(6, 17, 2))
    plain, mirrored = gt.copy(), gt.copy()
    plain[:, :, :2] += noise
    mirrored[:, :, :2] -= noise                       # errors that cancel in the mean
    chosen = choose_flip_average(plain, mirrored, gt, areas, COCO17)
    assert chosen["flip_average"] is True and chosen["averaged_mean_oks"] > chosen["plain_mean_oks"]
    np.testing.assert_allclose(averaged(plain, mirrored)[:, :, :2], gt[:, :, :2])
    far = gt.copy()
    far[:, :, :2] += 60.0                             # a mirrored pass that is far off
    refused = choose_flip_average(gt.copy(), far, gt, areas, COCO17)
    assert refused["flip_average"] is False and refused["plain_mean_oks"] > refused["averaged_mean_oks"]
    assert refused["frames"] == 6
