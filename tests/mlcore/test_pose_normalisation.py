"""normalise_pose centres on the pelvis, scales by the trunk and mirrors left-facing poses."""

import numpy as np

from mlcore.pose import facing_direction, normalise_pose
from mlcore.skeletons import COCO17

INDEX = {n: i for i, n in enumerate(COCO17.keypoints)}


def side_pose(face_right=True):
    kp = np.zeros((17, 3))
    pts = {"nose": (130, 50), "left_ear": (110, 45), "left_shoulder": (100, 80),
           "right_shoulder": (104, 80), "left_hip": (100, 180), "right_hip": (104, 180),
           "left_wrist": (120, 150)}
    for n, (x, y) in pts.items():
        kp[INDEX[n]] = (x, y, 2)
    if not face_right:
        # The mirror image: x -> 300 - x, and what was the left side now shows as the right.
        kp[:, 0] = np.where(kp[:, 2] > 0, 300 - kp[:, 0], 0)
        kp = kp[COCO17.flip_index]
    return kp


def test_centre_and_scale_are_pelvis_and_trunk_length():
    out, norm = normalise_pose(side_pose(), COCO17)
    np.testing.assert_allclose(norm.centre[0], (102, 180))
    np.testing.assert_allclose(norm.scale[0], 100)
    np.testing.assert_allclose(out[INDEX["left_shoulder"], :2], (-0.02, -1.0))
    np.testing.assert_allclose(out[INDEX["nose"], :2], (0.28, -1.3))
    assert out[INDEX["left_knee"]].tolist() == [0, 0, 0]


def test_left_facing_pose_is_mirrored_and_its_sides_swapped():
    right, _ = normalise_pose(side_pose(True), COCO17)
    left, norm = normalise_pose(side_pose(False), COCO17)
    assert norm.facing[0] == -1
    # Mirrored: the nose is in front (+x) again; the left ear became the right ear.
    np.testing.assert_allclose(left, right)
    assert left[INDEX["left_ear"], 2] == 2 and left[INDEX["right_ear"], 2] == 0


def test_facing_falls_back_to_head_ahead_of_hips():
    kp = side_pose(False)
    kp[INDEX["nose"]] = 0
    assert facing_direction(kp[None], COCO17)[0] == -1


def test_without_a_trunk_the_box_of_labelled_points_scales():
    kp = np.zeros((17, 3))
    kp[INDEX["left_knee"]] = (0, 0, 2)
    kp[INDEX["left_ankle"]] = (0, 40, 2)
    out, norm = normalise_pose(kp, COCO17, facing=False)
    assert norm.scale[0] == 20
    np.testing.assert_allclose(out[INDEX["left_ankle"], :2], (0, 1))
