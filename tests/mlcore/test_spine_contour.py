"""Spine points along the back contour of a body mask, on synthetic silhouettes with a known back."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mlcore.skeletons import COCO17_SPINE
from mlcore.spine import fill_spine
from mlcore.spine_contour import DEFAULT_DEPTH, PLACED, fit_depth, place_spine

IDX = {n: i for i, n in enumerate(COCO17_SPINE.keypoints)}
X0, X1, THICK = 100.0, 300.0, 60.0   # pelvis x, shoulders x, torso thickness (px)


def back_y(x, bulge):
    """A rounded back (image y points down, so the back bulges upwards by ``bulge`` px mid-torso)."""
    return 200.0 - bulge * np.sin(np.pi * (np.asarray(x, dtype=float) - X0) / (X1 - X0))


def silhouette(bulge=15.0, size=(400, 400)):
    """A bent-over torso seen from the side: back curve on top, belly THICK px below, pelvis left."""
    xs = np.linspace(X0 - 10, X1 + 10, 200)
    top = list(zip(xs, back_y(xs, bulge)))
    bottom = list(zip(xs[::-1], back_y(xs[::-1], bulge) + THICK))
    img = Image.new("L", size, 0)
    ImageDraw.Draw(img).polygon(top + bottom, fill=255)
    return np.asarray(img, dtype=np.float32) / 255.0


def pose(bulge=15.0, facing=True):
    """Shoulders and hips at mid-thickness of each end; knees and hanging wrists below (the front)."""
    kp = np.zeros((COCO17_SPINE.num_keypoints, 3))
    pelvis, shoulders = (X0, back_y(X0, bulge) + THICK / 2), (X1, back_y(X1, bulge) + THICK / 2)
    points = {"left_hip": pelvis, "right_hip": pelvis, "left_shoulder": shoulders, "right_shoulder": shoulders}
    if facing:
        points |= {"left_knee": (X0 + 20, 300), "right_knee": (X0 + 25, 300),
                   "left_wrist": (X1, 330), "right_wrist": (X1 + 5, 330)}
    for name, (x, y) in points.items():
        kp[IDX[name]] = (x, y, 2)
    return kp


def distance_to_back(points, bulge):
    """Distance of each point (P, 2) from the back curve between pelvis and shoulders, and whether it lies
    below it (inside)."""
    xs = np.linspace(X0, X1, 5000)
    curve = np.stack([xs, back_y(xs, bulge)], axis=1)
    d = np.linalg.norm(points[:, None] - curve[None], axis=2).min(axis=1)
    return d, points[:, 1] > back_y(points[:, 0], bulge)


def spine_xy(kp):
    return np.array([kp[IDX[n], :2] for n in PLACED])


def test_points_follow_a_rounded_back_offset_inwards_by_the_depth():
    result = place_spine(silhouette(), pose(), COCO17_SPINE)
    assert result.method == "contour"
    xy = spine_xy(result.keypoints)
    depth = DEFAULT_DEPTH * THICK
    assert abs(result.contour.width - THICK) < 3     # twice the axis-to-back distance next to the joints
    dist, inside = distance_to_back(xy, 15.0)
    np.testing.assert_allclose(dist, depth, atol=2.0)
    assert inside.all()
    # In order from the pelvis (hip) to the neck, evenly spaced along the back.
    assert np.all(np.diff(xy[:, 0]) > 0)
    assert abs(xy[0, 0] - X0) < depth / 2 and abs(xy[-1, 0] - X1) < depth / 2   # ends move along the normal
    # Mid-back points bulge above the straight pelvis-shoulder line (what the heuristic would give).
    assert xy[3, 1] < 230 - 10
    assert result.placed[[IDX[n] for n in PLACED]].all() and not result.placed[:17].any()
    assert np.all(result.scores[result.placed] > 0) and np.all(result.scores < 0.5)
    assert np.all(result.keypoints[result.placed, 2] == 1)


def test_a_straight_torso_gives_points_on_a_line():
    result = place_spine(silhouette(bulge=0.0), pose(bulge=0.0), COCO17_SPINE)
    assert result.method == "contour"
    xy = spine_xy(result.keypoints)
    np.testing.assert_allclose(xy[:, 1], 200 + DEFAULT_DEPTH * THICK, atol=1.0)
    gaps = np.diff(xy[:, 0])
    np.testing.assert_allclose(gaps, gaps.mean(), atol=1.0)


def test_an_empty_or_missing_mask_falls_back_to_the_straight_line():
    kp = pose()
    expected, _ = fill_spine(kp[None], COCO17_SPINE)
    for mask in (np.zeros((400, 400), dtype=np.float32), None):
        result = place_spine(mask, kp, COCO17_SPINE)
        assert result.method == "heuristic"
        np.testing.assert_allclose(result.keypoints, expected[0])
        assert np.all(result.scores == 0)


def test_an_unclear_facing_falls_back_to_the_straight_line():
    result = place_spine(silhouette(), pose(facing=False), COCO17_SPINE)
    assert result.method == "heuristic"


def test_labelled_spine_points_are_left_alone():
    kp = pose()
    kp[IDX["spine_03"]] = (150, 190, 2)
    result = place_spine(silhouette(), kp, COCO17_SPINE)
    np.testing.assert_allclose(result.keypoints[IDX["spine_03"]], (150, 190, 2))
    assert not result.placed[IDX["spine_03"]]


def test_depth_fitting_recovers_a_known_depth():
    bulge, true_depth = 15.0, 0.4
    examples = []
    for shift in (0.0, 20.0, 45.0):
        xs = np.linspace(X0 + 10 + shift / 3, X1 - 10, len(PLACED))
        slope = np.gradient(back_y(xs, bulge), xs)
        normal = np.stack([-slope, np.ones_like(xs)], axis=1) / np.sqrt(1 + slope ** 2)[:, None]   # inwards (down)
        pts = np.stack([xs, back_y(xs, bulge)], axis=1) + true_depth * THICK * normal
        verified = np.zeros((COCO17_SPINE.num_keypoints, 3))
        for name, p in zip(PLACED, pts):
            verified[IDX[name]] = (*p, 2)
        examples.append((silhouette(bulge), pose(bulge), verified))
    fitted = fit_depth(examples, COCO17_SPINE)
    assert abs(fitted - true_depth) < 0.03
    per_point = fit_depth(examples, COCO17_SPINE, per_point=True)
    np.testing.assert_allclose(per_point, true_depth, atol=0.04)
    result = place_spine(silhouette(bulge), pose(bulge), COCO17_SPINE, depth=fitted)
    dist, _ = distance_to_back(spine_xy(result.keypoints), bulge)
    np.testing.assert_allclose(dist, true_depth * THICK, atol=2.0)


def test_depth_fitting_without_usable_examples_keeps_the_default():
    kp = pose()
    assert fit_depth([(np.zeros((400, 400)), kp, kp)], COCO17_SPINE) == DEFAULT_DEPTH


def test_blazepose_can_place_spine_points_on_its_own_mask(dataset):
    from mlcore import coco
    from mlcore.blazepose.files import BlazePoseUnavailable, blazepose_files
    from mlcore.images import load_rgb

    try:
        blazepose_files()
    except BlazePoseUnavailable as exc:
        pytest.skip(f"BlazePose files not found: {exc}")
    from mlcore.blazepose.predictor import BlazePosePredictor

    data = coco.load_coco(dataset / "annotations" / "correct_n2_3_7_100.json")
    ann = data["annotations"][0]
    img = next(i for i in data["images"] if i["id"] == ann["image_id"])
    image = load_rgb(coco.ImageIndex(dataset / "images").find(img["file_name"]))
    box = np.array([ann["bbox"]])
    plain = BlazePosePredictor()
    spine = BlazePosePredictor(landmark_net=plain.net, detector=plain.detector, spine="contour")
    assert spine.skeleton is COCO17_SPINE and plain.skeleton.num_keypoints == 17
    a, b = plain.predict(image, box, flip_test=True)[0], spine.predict(image, box, flip_test=True)[0]
    np.testing.assert_allclose(b.keypoints[:17], a.keypoints)          # body points unchanged
    assert b.score == pytest.approx(a.score)
    assert b.extra["spine_method"] == "contour"
    placed = b.extra["spine_placed"]
    assert sorted(placed) == sorted(IDX[n] for n in PLACED)
    assert np.all((b.keypoints[placed, 2] > 0) & (b.keypoints[placed, 2] < 0.5))
    assert np.isnan(b.extra["flip_keypoints"][placed]).all()
    h, w = image.shape[:2]
    assert np.all((b.keypoints[placed, 0] >= 0) & (b.keypoints[placed, 0] < w))
    assert np.all((b.keypoints[placed, 1] >= 0) & (b.keypoints[placed, 1] < h))


def test_the_command_line_places_contour_spine_points_for_a_spine_skeleton(dataset, tmp_path):
    import json

    from mlcore import coco
    from mlcore.blazepose.files import BlazePoseUnavailable, blazepose_files
    from mlcore.cli import main

    try:
        blazepose_files()
    except BlazePoseUnavailable as exc:
        pytest.skip(f"BlazePose files not found: {exc}")
    data = coco.load_coco(dataset / "annotations" / "correct_n2_3_7_100.json")
    cat = next(c for c in data["categories"] if c.get("keypoints"))
    cat["keypoints"], cat["skeleton"] = list(COCO17_SPINE.keypoints), []
    for a in data["annotations"]:
        a["keypoints"] = list(a["keypoints"]) + [0] * 3 * (COCO17_SPINE.num_keypoints - 17)
    spine_file, out = tmp_path / "spine.json", tmp_path / "preds.json"
    spine_file.write_text(json.dumps(data))
    args = ["predict", "--model", "blazepose", "--coco", str(spine_file), "--images", str(dataset / "images"),
            "--out", str(out), "--limit", "1", "--no-flip-test", "--threads", "1", "--spine", "contour"]
    assert main(args) == 0
    pred = json.loads(out.read_text())[0]
    kp = np.asarray(pred["keypoints"]).reshape(-1, 3)
    assert kp.shape == (COCO17_SPINE.num_keypoints, 3)
    spine = [IDX[n] for n in PLACED]
    assert np.all(kp[spine, 2] == 1) and np.all(kp[spine, :2] > 0)
    assert all(0 < pred["keypoint_scores"][i] < 0.5 for i in spine)


def test_the_back_profile_reads_how_far_the_back_bulges_from_the_straight_line():
    from mlcore.spine_contour import PROFILE_POINTS, back_profile

    length = X1 - X0
    flat = back_profile(silhouette(bulge=0.0), pose(bulge=0.0), COCO17_SPINE)
    assert flat is not None and flat.shape == (PROFILE_POINTS + 1,)
    np.testing.assert_allclose(flat[:-1], 0.0, atol=2.0 / length)      # within 2 px of the straight back
    assert flat[-1] == pytest.approx(THICK / length, abs=3.0 / length)   # torso width in torso lengths
    rounded = back_profile(silhouette(bulge=20.0), pose(bulge=20.0), COCO17_SPINE)
    assert rounded is not None
    at = np.linspace(0.0, 1.0, PROFILE_POINTS + 2)[1:-1]
    # The axis runs between the ends, so the profile is the bulge itself: 20 px x sin(pi t), outwards (+).
    np.testing.assert_allclose(rounded[:-1], 20.0 * np.sin(np.pi * at) / length, atol=2.5 / length)
    assert back_profile(silhouette(), pose(facing=False), COCO17_SPINE) is None
