"""Model-free label checks on hand-made poses: a swap, a stretched bone, a collapsed pair and a point
outside the box are each flagged by their check, and a clean clip raises nothing."""

import numpy as np

from mlcore import label_checks as lc
from mlcore.skeletons import COCO17

NAMES = COCO17.keypoints
# A person seen from the front-left: right points sit 30 px left of the left ones.
BASE = np.array([[200, 60], [210, 50], [190, 50], [220, 55], [180, 55], [230, 100], [170, 100], [240, 150],
                 [160, 150], [245, 200], [155, 200], [225, 210], [175, 210], [228, 290], [172, 290], [230, 370],
                 [170, 370]], dtype=float)


def clip(n=8):
    """n frames of a steady pose that sways by a pixel or two, with a box around it."""
    kps = np.zeros((n, 17, 3))
    for i in range(n):
        kps[i, :, :2] = BASE + [2 * np.sin(i), i % 3]
        kps[i, :, 2] = 2
    boxes = np.array([[kps[i, :, 0].min(), kps[i, :, 1].min(), np.ptp(kps[i, :, 0]), np.ptp(kps[i, :, 1])]
                      for i in range(n)])
    return kps, boxes


def run(kps, boxes):
    return lc.check_poses(kps, boxes, links=COCO17.links, flip_pairs=COCO17.flip_pairs, names=NAMES)


def test_a_clean_clip_raises_nothing():
    assert run(*clip()) == []


def test_a_swapped_knee_pair_is_flagged_as_a_swap_naming_both_knees():
    kps, boxes = clip()
    kps[4, [13, 14]] = kps[4, [14, 13]]
    swaps = [f for f in run(kps, boxes) if f.kind == "swap"]
    assert [(f.row, f.keypoints) for f in swaps] == [(4, (13, 14))]
    assert "left_knee and right_knee look swapped" in swaps[0].reason


def test_a_swap_in_a_one_frame_clip_is_judged_against_the_rest_of_the_body():
    kps, boxes = clip(1)
    kps[0, [9, 10]] = kps[0, [10, 9]]
    assert [(f.kind, f.keypoints) for f in run(kps, boxes)] == [("swap", (9, 10))]


def test_a_wrist_placed_far_down_the_arm_stretches_the_forearm():
    kps, boxes = clip()
    kps[3, 9, 1] += 60  # the left wrist dropped 60 px: the forearm is twice its length
    flags = [f for f in run(kps, boxes) if f.kind == "bone_length"]
    assert [(f.row, f.keypoints) for f in flags] == [(3, (7, 9))]
    assert "left_elbow-left_wrist bone is 2.2 times its typical length" in flags[0].reason


def test_two_points_placed_on_top_of_each_other_are_collapsed():
    kps, boxes = clip()
    kps[5, 13, :2] = kps[5, 15, :2] + [1, 1]  # left knee dropped on the left ankle
    flags = [f for f in lc.collapsed(kps, boxes, NAMES)]
    assert [(f.row, f.keypoints) for f in flags] == [(5, (13, 15))]
    assert "left_knee and left_ankle are 1.4 px apart" in flags[0].reason


def test_a_point_far_outside_the_box_is_flagged():
    kps, boxes = clip()
    kps[2, 0, :2] = [boxes[2, 0] - 100, boxes[2, 1] - 10]
    flags = lc.outside_box(kps, boxes, NAMES)
    assert [(f.row, f.keypoints) for f in flags] == [(2, (0,))]
    assert "nose lies" in flags[0].reason and "outside the person's box" in flags[0].reason


def test_unlabelled_points_are_never_flagged():
    kps, boxes = clip()
    kps[3, 9] = [5000, 5000, 0]  # far away, but v = 0
    assert run(kps, boxes) == []
