"""Skeleton presets are the data DESIGN.md states, and remap moves points by name."""

import numpy as np
import pytest

from mlcore.skeletons import (
    COCO17,
    COCO17_SPINE,
    MEDIAPIPE33,
    MEDIAPIPE_TO_COCO17,
    PRESETS,
    SPINETRACK37,
    Skeleton,
    normalise_name,
    remap,
    remap_index,
    skeleton_for_names,
)

COCO_SIGMAS = [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
               0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089]


def test_coco17_carries_the_official_sigmas_in_coco_order():
    assert COCO17.keypoints[0] == "nose" and COCO17.keypoints[-1] == "right_ankle"
    np.testing.assert_allclose(COCO17.sigma_array, COCO_SIGMAS)


def test_coco17_flip_index_swaps_every_left_right_pair():
    assert COCO17.flip_index == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def test_coco_category_links_are_one_based():
    cat = COCO17.coco_category()
    assert cat["keypoints"] == list(COCO17.keypoints)
    assert [[a - 1, b - 1] for a, b in cat["skeleton"]] == [list(p) for p in COCO17.links]
    assert min(min(p) for p in cat["skeleton"]) == 1


def test_skeleton_round_trips_through_dict():
    for skel in PRESETS.values():
        assert Skeleton.from_dict(skel.to_dict()) == skel


def test_spinetrack37_has_the_paper_order_and_sigmas():
    assert SPINETRACK37.num_keypoints == 37
    assert SPINETRACK37.keypoints[17:20] == ("head", "neck", "hip")
    assert SPINETRACK37.keypoints[26:31] == ("spine_01", "spine_02", "spine_03", "spine_04", "spine_05")
    sig = dict(zip(SPINETRACK37.keypoints, SPINETRACK37.sigmas, strict=True))
    assert (sig["spine_01"], sig["spine_04"], sig["left_latissimus"], sig["neck_03"]) == (0.1, 0.08, 0.12, 0.06)


def test_coco17_spine_extends_coco17_as_a_prefix():
    assert COCO17_SPINE.keypoints[:17] == COCO17.keypoints
    assert COCO17_SPINE.num_keypoints == 24


def test_normalise_name_accepts_cvat_title_case():
    assert normalise_name("Left Shoulder") == "left_shoulder"
    assert normalise_name(" right-big  toe ") == "right_big_toe"


def test_mediapipe_names_map_to_the_documented_coco_landmarks():
    index = remap_index(MEDIAPIPE33, COCO17)
    assert tuple(index) == MEDIAPIPE_TO_COCO17 == (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def test_remap_moves_points_by_name_and_zero_fills_missing_ones():
    rng = np.random.default_rng(0)
    mp = rng.uniform(0, 100, size=(2, 33, 3))
    coco = remap(mp, MEDIAPIPE33, COCO17)
    assert coco.shape == (2, 17, 3)
    np.testing.assert_array_equal(coco[:, 5], mp[:, 11])       # left shoulder
    np.testing.assert_array_equal(coco[:, 16], mp[:, 28])      # right ankle
    spine = remap(coco[0], COCO17, COCO17_SPINE)
    assert spine.shape == (24, 3)
    np.testing.assert_array_equal(spine[:17], coco[0])
    assert not spine[17:].any()


def test_remap_rejects_the_wrong_number_of_keypoints():
    with pytest.raises(ValueError):
        remap(np.zeros((3, 18, 3)), COCO17, COCO17_SPINE)


def test_cvat_category_names_are_recognised_as_coco17():
    names = ["Nose", "Left Eye", "Right Eye", "Left Ear", "Right Ear", "Left Shoulder", "Right Shoulder",
             "Left Elbow", "Right Elbow", "Left Wrist", "Right Wrist", "Left Hip", "Right Hip", "Left Knee",
             "Right Knee", "Left Ankle", "Right Ankle"]
    assert skeleton_for_names(names) is COCO17
    custom = skeleton_for_names(["Head", "Left Hand", "Right Hand"])
    assert custom.name == "custom" and custom.flip_pairs == ((1, 2),)
