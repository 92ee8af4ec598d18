"""The spine heuristic places neck, hip and spine_01..05 where its docstring says."""

import numpy as np

from mlcore.skeletons import COCO17, COCO17_SPINE
from mlcore.spine import fill_spine

IDX = {n: i for i, n in enumerate(COCO17_SPINE.keypoints)}


def pose(**points):
    kp = np.zeros((1, COCO17_SPINE.num_keypoints, 3))
    for name, (x, y) in points.items():
        kp[0, IDX[name]] = (x, y, 2)
    return kp


def test_spine_points_divide_the_hip_to_neck_segment_in_sixths():
    kp = pose(left_shoulder=(10, 0), right_shoulder=(14, 0), left_hip=(10, 60), right_hip=(14, 60))
    filled, mask = fill_spine(kp, COCO17_SPINE)
    np.testing.assert_allclose(filled[0, IDX["neck"]], (12, 0, 1))
    np.testing.assert_allclose(filled[0, IDX["hip"]], (12, 60, 1))
    # spine_01 is 1/6 of the way up from the hip, spine_05 5/6.
    np.testing.assert_allclose(filled[0, IDX["spine_01"], :2], (12, 50))
    np.testing.assert_allclose(filled[0, IDX["spine_03"], :2], (12, 30))
    np.testing.assert_allclose(filled[0, IDX["spine_05"], :2], (12, 10))
    assert mask[0, 17:].all() and not mask[0, :17].any()


def test_neck_moves_ten_percent_towards_the_head():
    kp = pose(nose=(12, -20), left_shoulder=(10, 0), right_shoulder=(14, 0), left_hip=(10, 60), right_hip=(14, 60))
    filled, _ = fill_spine(kp, COCO17_SPINE)
    np.testing.assert_allclose(filled[0, IDX["neck"], :2], (12, -2))
    # The chain follows the moved neck: spine_03 is half way from (12, 60) to (12, -2).
    np.testing.assert_allclose(filled[0, IDX["spine_03"], :2], (12, 29))


def test_one_labelled_shoulder_stands_in_for_the_pair():
    kp = pose(left_shoulder=(30, 10), left_hip=(0, 40), right_hip=(10, 40))
    filled, mask = fill_spine(kp, COCO17_SPINE)
    np.testing.assert_allclose(filled[0, IDX["neck"], :2], (30, 10))
    np.testing.assert_allclose(filled[0, IDX["spine_03"], :2], (17.5, 25))
    assert mask[0, IDX["spine_03"]]


def test_labelled_spine_points_are_kept_unless_asked():
    kp = pose(left_shoulder=(10, 0), right_shoulder=(14, 0), left_hip=(10, 60), right_hip=(14, 60), spine_03=(20, 31))
    filled, mask = fill_spine(kp, COCO17_SPINE)
    np.testing.assert_allclose(filled[0, IDX["spine_03"]], (20, 31, 2))
    assert not mask[0, IDX["spine_03"]]
    refilled, mask2 = fill_spine(kp, COCO17_SPINE, only_missing=False)
    np.testing.assert_allclose(refilled[0, IDX["spine_03"]], (12, 30, 1))
    assert mask2[0, IDX["spine_03"]]


def test_without_hips_only_the_neck_is_placed():
    kp = pose(left_shoulder=(10, 0), right_shoulder=(14, 0))
    filled, mask = fill_spine(kp, COCO17_SPINE)
    assert mask[0, IDX["neck"]] and not mask[0, IDX["hip"]] and not mask[0, IDX["spine_01"]]
    assert filled[0, IDX["spine_01"], 2] == 0


def test_skeletons_without_spine_points_come_back_unchanged():
    kp = np.random.default_rng(1).uniform(1, 50, size=(3, 17, 3))
    filled, mask = fill_spine(kp, COCO17)
    np.testing.assert_array_equal(filled, kp)
    assert not mask.any()
