"""BlazePose geometry without the model files: anchors, decoding, weighted NMS, the ROI crop and heatmap refinement."""

import math

import numpy as np
import pytest

from mlcore.blazepose.detector import decode, ssd_anchors, weighted_nms
from mlcore.blazepose.predictor import in_box, refine_from_heatmaps
from mlcore.blazepose.roi import (
    Roi,
    alignment_rotation,
    crop_roi,
    crop_to_image,
    normalize_radians,
    roi_from_alignment,
    roi_from_box,
    roi_matrix,
)
from mlcore.blazepose.torch_builder import same_padding
from mlcore.transforms import apply_affine, invert_affine


def test_the_detector_has_mediapipes_2254_anchors_in_layer_order():
    a = ssd_anchors()
    assert a.shape == (2254, 2)
    # stride 8: 28 x 28 cells, two anchors each, row-major, centres at (i + 0.5) / 28
    np.testing.assert_allclose(a[0], a[1])
    np.testing.assert_allclose(a[:4], [[0.5 / 28, 0.5 / 28]] * 2 + [[1.5 / 28, 0.5 / 28]] * 2)
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])
    # the three stride-32 layers merge: six anchors per 7 x 7 cell
    np.testing.assert_allclose(a[1568 + 392:1568 + 392 + 6], [[0.5 / 7, 0.5 / 7]] * 6)
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7])


def test_decoding_offsets_boxes_and_keypoints_from_their_anchor_and_drops_low_scores():
    anchors = np.array([[0.25, 0.5], [0.75, 0.5]])
    raw = np.zeros((2, 12))
    raw[0, :4] = [22.4, -11.2, 44.8, 89.6]           # pixels of the 224 input: +0.1, -0.05, w 0.2, h 0.4
    raw[0, 4:6] = [0.0, 22.4]                        # keypoint 0 at anchor + (0, 0.1)
    logits = np.array([[2.0], [-2.0]])
    boxes, kps, scores = decode(raw, logits, anchors)
    assert len(boxes) == 1
    np.testing.assert_allclose(boxes[0], [0.25, 0.25, 0.45, 0.65])
    np.testing.assert_allclose(kps[0, 0], [0.25, 0.6])
    np.testing.assert_allclose(scores, [1 / (1 + math.exp(-2))])


def test_weighted_nms_averages_a_cluster_by_score_and_keeps_separate_people():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [5.0, 5.0, 6.0, 6.0]])
    kps = np.zeros((3, 4, 2))
    kps[1] += 1.0
    out = weighted_nms(boxes, kps, np.array([0.9, 0.6, 0.7]))
    assert len(out) == 2
    box, kp, score = out[0]
    assert score == pytest.approx(0.9)
    np.testing.assert_allclose(box, [0.04, 0.0, 1.04, 1.0])
    np.testing.assert_allclose(kp[0], [0.4, 0.4])
    np.testing.assert_allclose(out[1][0], boxes[2])


@pytest.mark.parametrize("size,kernel,stride,expected", [(256, 3, 2, (0, 1)), (255, 3, 2, (1, 1)), (64, 5, 1, (2, 2)),
                                                         (8, 2, 2, (0, 0)), (7, 4, 1, (1, 2))])
def test_same_padding_puts_the_smaller_half_first_like_tflite(size, kernel, stride, expected):
    assert same_padding(size, kernel, stride) == expected


def test_the_crop_and_its_inverse_map_points_back_exactly():
    rng = np.random.default_rng(0)
    for _ in range(20):
        roi = Roi(*rng.uniform(0, 400, 2), rng.uniform(50, 600), rng.uniform(-math.pi, math.pi))
        image_points = rng.uniform(-100, 500, (33, 2))
        m = roi_matrix(roi)
        crop_points = apply_affine(image_points, m)
        np.testing.assert_allclose(crop_to_image(crop_points, roi), image_points, atol=1e-4)
        np.testing.assert_allclose(apply_affine(crop_points, invert_affine(m)), image_points, atol=1e-4)


def test_the_roi_centres_the_hip_and_spans_two_and_a_half_body_radii():
    roi = roi_from_alignment(np.array([[100.0, 200.0], [100.0, 120.0]]))    # upright: the circle point above the hip
    assert (roi.center_x, roi.center_y, roi.size) == (100.0, 200.0, 200.0)
    assert roi.rotation == pytest.approx(0.0)
    np.testing.assert_allclose(apply_affine(np.array([[100.0, 200.0]]), roi_matrix(roi)), [[128, 128]])
    box = roi_from_box(np.array([10.0, 20.0, 100.0, 200.0]), rotation=0.3)
    assert (box.center_x, box.center_y, box.size, box.rotation) == (60.0, 120.0, 250.0, 0.3)


@pytest.mark.parametrize("head,expected_degrees", [((1, 0), 90), ((-1, 0), -90), ((0, 1), -180), ((0, -1), 0)])
def test_rotation_turns_the_body_upright_in_the_crop(head, expected_degrees):
    hip = np.array([200.0, 150.0])
    top = hip + 60 * np.array(head, dtype=float)                  # image axes: y grows downwards
    roi = roi_from_alignment(np.stack([hip, top]))
    assert math.degrees(roi.rotation) == pytest.approx(expected_degrees)
    # the body-circle point lands straight above the crop centre, at 128 / 1.25 pixels
    np.testing.assert_allclose(apply_affine(top[None], roi_matrix(roi))[0], [128, 128 - 128 / 1.25], atol=1e-9)
    # and the pixels follow: a bright dot at the head is found at the top of the crop
    image = np.zeros((300, 400, 3), dtype=np.uint8)
    image[int(top[1]) - 2:int(top[1]) + 3, int(top[0]) - 2:int(top[0]) + 3] = 255
    crop, _ = crop_roi(image, roi)
    v, u = np.unravel_index(np.argmax(crop[..., 0]), crop.shape[:2])
    assert abs(u - 128) <= 3 and abs(v - (128 - 128 / 1.25)) <= 3


def test_angles_are_normalised_to_minus_pi_up_to_pi():
    assert normalize_radians(3 * math.pi / 2) == pytest.approx(-math.pi / 2)
    assert normalize_radians(math.pi) == pytest.approx(-math.pi)
    assert alignment_rotation(np.array([0.0, 0.0]), np.array([0.0, -1.0])) == pytest.approx(0.0)


def test_heatmap_refinement_moves_confident_points_to_the_weighted_peak():
    heat = np.full((3, 64, 64), -20.0)
    heat[0, 30, 40] = 20.0                                          # one confident cell
    heat[0, 30, 41] = 20.0
    heat[1, 10, 10] = -1.0                                          # never above 0.5 confidence
    xy = np.array([[41.0 / 64, 31.0 / 64], [10 / 64, 10 / 64], [-0.5, 0.5]])
    out = refine_from_heatmaps(xy, heat)
    np.testing.assert_allclose(out[0], [40.5 / 64, 30 / 64], atol=1e-6)
    np.testing.assert_allclose(out[1:], xy[1:])                    # unconfident and outside points are kept


def test_a_point_belongs_to_a_box_grown_by_the_margin():
    box = np.array([10.0, 20.0, 100.0, 50.0])
    assert in_box(np.array([60.0, 45.0]), box)
    assert not in_box(np.array([140.0, 45.0]), box)
    assert in_box(np.array([140.0, 45.0]), box, margin=0.5)
    assert not in_box(np.array([60.0, 100.0]), box, margin=0.5)
