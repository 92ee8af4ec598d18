"""The clip-aware refinements of the swap and off-track checks, on hand-made poses: a crossed pair that
never moves is a swap, two overlapping points that swing past each other are not; a point that follows
the clip's motion to one side is not off track, one far from both sides is."""


from annotations.quality import pose_checks
from mlcore import label_checks as lc
from mlcore.skeletons import COCO17
from tests.mlcore.test_label_checks import clip

NAMES = COCO17.keypoints
L_EYE, R_EYE, L_ELBOW, R_ELBOW, L_WRIST = 1, 2, 7, 8, 9


def run(kps, boxes):
    return pose_checks.check_poses(kps, boxes, links=COCO17.links, flip_pairs=COCO17.flip_pairs, names=NAMES)


def kinds(flags):
    return [(f.kind, f.row, f.keypoints) for f in flags]


def test_a_clean_clip_raises_nothing():
    assert run(*clip(10)) == []


def test_a_crossed_pair_that_keeps_still_is_a_swap_with_its_ratio_in_the_reason():
    kps, boxes = clip(10)
    kps[5, [L_EYE, R_EYE]] = kps[5, [R_EYE, L_EYE]]
    flags = [f for f in run(kps, boxes) if f.kind == "swap"]
    assert kinds(flags) == [("swap", 5, (L_EYE, R_EYE))]
    assert "times the pair's usual change between frames" in flags[0].reason
    assert flags[0].extra["wander_ratio"] > pose_checks.SWAP_WANDER


def test_overlapping_elbows_that_swing_past_each_other_are_not_a_swap():
    kps, boxes = clip(10)
    # Seen from the side, the elbows almost coincide and their order changes with the arms' swing.
    # Row 5 has them crossed against both its neighbours, as every other row has.
    offsets = [4, -5, 5, -4, 6, -4, 3, -6, 5, -3]
    for i, dx in enumerate(offsets):
        kps[i, R_ELBOW, :2] = kps[i, L_ELBOW, :2] + [dx, 1]
    assert any(f.row == 5 and f.keypoints == (L_ELBOW, R_ELBOW) for f in
               lc.swaps(kps, boxes, COCO17.flip_pairs, NAMES))  # the neighbours alone would flag it
    assert [f for f in run(kps, boxes) if f.kind == "swap"] == []


def test_a_one_frame_clip_needs_the_crossed_pair_apart_to_call_it_a_swap():
    kps, boxes = clip(1)
    kps[0, [9, 10]] = kps[0, [10, 9]]  # the wrists, 90 px apart
    assert kinds(run(kps, boxes)) == [("swap", 0, (9, 10))]
    kps, boxes = clip(1)
    kps[0, 10, :2] = kps[0, 9, :2] + [-3, 0]  # the wrists side by side, 3 px apart, crossed
    kps[0, [9, 10]] = kps[0, [10, 9]]
    assert any(f.kind == "swap" for f in lc.swaps(kps, boxes, COCO17.flip_pairs, NAMES))
    assert [f for f in run(kps, boxes) if f.kind == "swap"] == []


def test_a_point_that_follows_the_motion_to_one_side_is_not_off_track():
    kps, boxes = clip(10)
    kps[5:, L_WRIST, 1] += 150  # the bar lowered between two labelled frames: the wrist stays down after
    moved = lc.off_track(kps, boxes, NAMES)
    assert {f.row for f in moved if f.keypoints == (L_WRIST,)} & {4, 5}  # one-sided neighbours disagree
    assert [f for f in run(kps, boxes) if f.kind == "off_track"] == []


def test_a_point_far_from_both_sides_is_off_track():
    kps, boxes = clip(10)
    kps[5, L_WRIST, :2] += [0, 120]
    flags = [f for f in run(kps, boxes) if f.kind == "off_track"]
    assert kinds(flags) == [("off_track", 5, (L_WRIST,))]
    assert min(pose_checks.side_distances(kps, boxes, 5, L_WRIST)) > lc.OFF_TRACK


def crossed_elbows(rows, apart=10):
    """A clip (body size 332 px) whose elbows stay `apart` px apart, crossed in `rows`."""
    kps, boxes = clip(12)
    kps[:, R_ELBOW, :2] = kps[:, L_ELBOW, :2] + [apart, 0]
    for row in rows:
        kps[row, [L_ELBOW, R_ELBOW]] = kps[row, [R_ELBOW, L_ELBOW]]
    return kps, boxes


def test_a_pair_crossed_in_one_or_two_frames_is_flagged_in_each():
    for rows in ([5], [3, 8]):
        flags = [f for f in run(*crossed_elbows(rows)) if f.kind == "swap"]
        assert kinds(flags) == [("swap", row, (L_ELBOW, R_ELBOW)) for row in rows]


def test_a_close_pair_crossed_in_more_frames_than_a_slip_is_the_clips_convention():
    rows = [2, 5, 8]
    assert len(rows) > pose_checks.CROSSED_FRAMES
    kps, boxes = crossed_elbows(rows)
    crossed = [f for f in lc.swaps(kps, boxes, COCO17.flip_pairs, NAMES) if f.keypoints == (L_ELBOW, R_ELBOW)]
    assert {f.row for f in crossed} == set(rows)  # each crossing alone looks like a swap
    assert [f for f in run(kps, boxes) if f.kind == "swap"] == []


def test_a_pair_well_apart_is_flagged_however_often_it_is_crossed():
    rows = [2, 5, 8]
    assert 40 / 332 > pose_checks.TOLD_APART
    flags = [f for f in run(*crossed_elbows(rows, apart=40)) if f.kind == "swap"]
    assert kinds(flags) == [("swap", row, (L_ELBOW, R_ELBOW)) for row in rows]


def test_a_point_that_strays_with_its_partner_is_the_body_moving_not_off_track():
    kps, boxes = clip(10)
    kps[5, [L_WRIST, L_WRIST + 1], :2] += [0, 120]  # both wrists down in one frame: the bar moved
    assert {f.keypoints for f in lc.off_track(kps, boxes, NAMES) if f.row == 5} >= {(L_WRIST,), (L_WRIST + 1,)}
    assert [f for f in run(kps, boxes) if f.kind == "off_track"] == []
    kps[5, L_WRIST + 1, :2] += [90, -120]  # the right wrist back near its track, 90 px aside: the left one slipped
    assert (("off_track", 5, (L_WRIST,))) in kinds(run(kps, boxes))
