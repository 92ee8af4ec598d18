"""The BlazePose predictor on real barbell-row frames: whole frame, person boxes, flip test, mask, registration."""

import numpy as np
import pytest

from mlcore import coco, metrics
from mlcore.blazepose.files import BlazePoseUnavailable, blazepose_files
from mlcore.images import load_rgb
from mlcore.skeletons import COCO17


@pytest.fixture(scope="module")
def predictor():
    try:
        blazepose_files()
    except BlazePoseUnavailable as exc:
        pytest.skip(f"BlazePose files not found: {exc}")
    from mlcore.blazepose.predictor import BlazePosePredictor

    return BlazePosePredictor(with_mask=True)


@pytest.fixture(scope="module")
def frame(dataset):
    data = coco.load_coco(dataset / "annotations" / "correct_n2_3_7_100.json")
    ann = data["annotations"][0]
    img = next(i for i in data["images"] if i["id"] == ann["image_id"])
    return load_rgb(coco.ImageIndex(dataset / "images").find(img["file_name"])), ann


def _oks(inst, ann) -> float:
    gt = np.asarray(ann["keypoints"], dtype=float).reshape(1, 17, 3)
    return float(metrics.oks(inst.keypoints[None], gt, [ann["area"]], COCO17.sigma_array)[0])


def test_the_whole_frame_goes_through_the_detector_and_finds_the_lifter(predictor, frame):
    image, ann = frame
    found = predictor.predict(image, flip_test=True)
    assert len(found) == 1
    inst = found[0]
    assert inst.keypoints.shape == (17, 3) and np.all((inst.keypoints[:, 2] >= 0) & (inst.keypoints[:, 2] <= 1))
    assert _oks(inst, ann) > 0.3
    assert inst.extra["landmarks33"].shape == (33, 3) and inst.extra["presence"] >= 0.5
    mask = inst.extra["segmentation"]
    assert mask.shape == image.shape[:2] and 0 <= mask.min() and mask.max() <= 1
    # the person's hips are inside the mask, the image corner is not
    hip = inst.keypoints[11, :2].round().astype(int)
    assert mask[hip[1], hip[0]] > 0.5 and mask[0, 0] < 0.5
    flip = inst.extra["flip_keypoints"]
    assert np.median(np.hypot(*(flip[:, :2] - inst.keypoints[:, :2]).T)) < 15


def test_a_box_around_the_detected_person_reuses_the_detection_roi(predictor, frame):
    image, ann = frame
    box = np.asarray(ann["bbox"], dtype=float)
    whole, boxed = predictor.predict(image), predictor.predict(image, boxes=box[None])
    assert len(boxed) == 1
    np.testing.assert_allclose(boxed[0].bbox, box)
    np.testing.assert_allclose(boxed[0].keypoints, whole[0].keypoints)


def test_the_box_own_roi_is_tracked_to_the_network_s_alignment_points(predictor, frame):
    from mlcore.blazepose.predictor import BlazePosePredictor

    image, ann = frame
    box_only = BlazePosePredictor(landmark_net=predictor.net, detector=predictor.detector, box_roi="box")
    found = box_only.predict(image, boxes=np.asarray(ann["bbox"], dtype=float)[None])
    assert len(found) == 1 and _oks(found[0], ann) > 0.3
    first = box_only.rois(image, np.asarray(ann["bbox"], dtype=float)[None])[0][0]
    assert found[0].extra["roi"] != first                  # the second pass ran on the tracking ROI
    with pytest.raises(ValueError, match="box_roi"):
        BlazePosePredictor(landmark_net=predictor.net, detector=predictor.detector, box_roi="centre")


def test_an_empty_frame_has_nobody(predictor):
    assert predictor.predict(np.zeros((240, 320, 3), dtype=np.uint8)) == []


def test_it_is_registered_as_blazepose():
    try:
        blazepose_files()
    except BlazePoseUnavailable as exc:
        pytest.skip(f"BlazePose files not found: {exc}")
    from mlcore.blazepose.predictor import BlazePosePredictor
    from mlcore.predictors import load_predictor

    assert isinstance(load_predictor("blazepose"), BlazePosePredictor)


def test_the_command_line_predicts_with_blazepose(predictor, dataset, tmp_path):
    import json

    from mlcore.cli import main

    out = tmp_path / "preds.json"
    images = dataset / "annotations" / "correct_n2_3_7_100.json"
    status = main(["predict", "--model", "blazepose", "--coco", str(images), "--images", str(dataset / "images"),
                   "--out", str(out), "--limit", "1", "--no-flip-test", "--threads", "1"])
    assert status == 0
    preds = json.loads(out.read_text())
    assert len(preds) == 1 and preds[0]["model_version"].startswith("blazepose")
    assert len(preds[0]["keypoints"]) == 17 * 3
