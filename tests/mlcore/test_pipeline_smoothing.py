"""predict_coco smooths a predictor's answer along each clip with the radii it carries, while the
uncertainty signals read each frame's own prediction."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mlcore import pipeline
from mlcore.predictors.base import Instance, Predictor
from mlcore.skeletons import Skeleton
from mlcore.temporal_smoothing import WHOLE_CLIP

SKELETON = Skeleton(name="two", keypoints=["nose", "left_wrist"], sigmas=[0.026, 0.062], links=[],
                    flip_pairs=[])
STILL_X = [50.0, 58.0, 49.0, 51.0, 90.0]       # point 0 by frame: one frame far off


class _ByFrame(Predictor):
    """One instance per frame: point 0 at STILL_X[frame], point 1 moving right 10 px a frame."""

    skeleton = SKELETON
    version = "fake-1"

    def predict(self, image, boxes=None, flip_test=False):
        frame = int(image[0, 0, 0])
        kp = np.array([[STILL_X[frame], 40.0, 0.9], [10.0 + 10 * frame, 60.0, 0.8]])
        return [Instance(keypoints=kp, bbox=np.array([0.0, 0.0, 100.0, 100.0]), score=0.85)]


def _clip(tmp_path) -> dict:
    images = []
    for f in range(5):
        name = f"vid_1_{f}.jpg"
        Image.fromarray(np.full((8, 8, 3), f, dtype=np.uint8)).save(tmp_path / name, quality=100)
        images.append({"id": f + 1, "file_name": name, "width": 8, "height": 8})
    return {"images": images, "annotations": [],
            "categories": [{"id": 1, "name": "person", "keypoints": SKELETON.keypoints, "skeleton": []}]}


def test_the_answer_is_smoothed_along_the_clip_and_the_signals_read_the_raw_frames(tmp_path):
    data = _clip(tmp_path)
    raw = pipeline.predict_coco(data, tmp_path, _ByFrame(), boxes="frame", flip_test=False)
    smoothing = _ByFrame()
    smoothing.smoothing_radius = np.array([WHOLE_CLIP, 0])
    smoothed = pipeline.predict_coco(data, tmp_path, smoothing, boxes="frame", flip_test=False)
    by_frame = sorted(smoothed, key=lambda r: r["image_id"])
    xs = np.array([r["keypoints"][0] for r in by_frame])
    np.testing.assert_allclose(xs, np.median(STILL_X))              # the still point: the clip's median
    np.testing.assert_allclose([r["keypoints"][3] for r in by_frame], [10, 20, 30, 40, 50])  # radius 0
    raw_by_frame = sorted(raw, key=lambda r: r["image_id"])
    assert [r["keypoints"][0] for r in raw_by_frame] == STILL_X     # no radius: as predicted
    zero = _ByFrame()
    zero.smoothing_radius = np.zeros(2, dtype=np.int64)            # a model trained with smoothing off
    assert pipeline.predict_coco(data, tmp_path, zero, boxes="frame", flip_test=False) == raw
    # The temporal signal is the raw frame's jump: the far-off frame stands out in both runs alike.
    assert [r["keypoint_signals"]["temporal"] for r in by_frame] == [r["keypoint_signals"]["temporal"]
                                                                     for r in raw_by_frame]
    assert by_frame[4]["keypoint_signals"]["temporal"][0] > by_frame[2]["keypoint_signals"]["temporal"][0]
