"""MediaPipe pre-annotator: the landmark mapping always; the model itself only where mediapipe is installed."""

import numpy as np
import pytest

from mlcore import coco, metrics
from mlcore.images import load_rgb
from mlcore.predictors.mediapipe_pose import landmarks_to_instance, mediapipe_available
from mlcore.skeletons import COCO17


def test_landmarks_become_coco17_pixels_with_visibility_as_score():
    lm = np.zeros((33, 4))
    lm[:, 0] = np.arange(33) / 100
    lm[:, 1] = 0.5
    lm[:, 3] = np.linspace(0, 1, 33)
    inst = landmarks_to_instance(lm, width=200, height=100)
    assert inst.keypoints.shape == (17, 3)
    np.testing.assert_allclose(inst.keypoints[5], [22, 50, lm[11, 3]])   # left shoulder is landmark 11
    np.testing.assert_allclose(inst.keypoints[16], [56, 50, lm[28, 3]])  # right ankle is landmark 28
    np.testing.assert_allclose(inst.bbox, [0, 50, 56, 0])


@pytest.mark.skipif(not mediapipe_available(), reason="mediapipe extra not installed (requirements-mediapipe.txt)")
def test_mediapipe_finds_the_lifter_in_a_real_frame(dataset):
    from mlcore.predictors.mediapipe_pose import MediaPipePredictor

    data = coco.load_coco(dataset / "annotations" / "correct_n2_3_7_100.json")
    ann = data["annotations"][0]
    img = next(i for i in data["images"] if i["id"] == ann["image_id"])
    image = load_rgb(coco.ImageIndex(dataset / "images").find(img["file_name"]))
    pred = MediaPipePredictor()
    try:
        found = pred.predict(image, flip_test=True)
    finally:
        pred.close()
    assert len(found) == 1
    gt = np.asarray(ann["keypoints"], dtype=float).reshape(1, 17, 3)
    score = metrics.oks(found[0].keypoints[None], gt, [ann["area"]], COCO17.sigma_array)[0]
    assert score > 0.3
    assert found[0].extra["flip_keypoints"].shape == (17, 3)
