"""mlcore.blazepose's detector and ROI constants are the ones in the mediapipe wheel's own pose graph.

Runs bench/blazepose_graph_options.py with an interpreter that has
mediapipe==0.10.14 ($MLCORE_MEDIAPIPE_PYTHON, else .venv-mediapipe); skips without one.
"""

import json
import math
import os
import subprocess
from pathlib import Path

import pytest

from mlcore.blazepose import detector, predictor, roi
from mlcore.blazepose.models import NUM_LANDMARKS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nodes() -> dict[str, dict]:
    python = os.environ.get("MLCORE_MEDIAPIPE_PYTHON") or str(REPO / ".venv-mediapipe" / "bin" / "python")
    if not Path(python).exists():
        pytest.skip(f"no interpreter with mediapipe ({python} not found)")
    run = subprocess.run([python, str(REPO / "bench" / "blazepose_graph_options.py")], capture_output=True,
                         text=True, timeout=120)
    if run.returncode != 0:
        pytest.skip(f"{python} cannot expand MediaPipe's pose graph: {run.stderr.strip()[-300:]}")
    out = {}
    for node in json.loads(run.stdout):
        options = node["options"]
        out[node["name"]] = next(iter(options.values())) if options else {}
    return out


def test_the_detector_input_anchors_decoding_and_nms_match_the_graph(nodes):
    image = nodes["posedetectioncpu__ImageToTensorCalculator"]
    assert (image["outputTensorWidth"], image["outputTensorHeight"]) == (detector.INPUT_SIZE,) * 2
    assert image["keepAspectRatio"] and image["borderMode"] == "BORDER_ZERO"
    assert image["outputTensorFloatRange"] == {"min": -1.0, "max": 1.0}
    anchors = nodes["posedetectioncpu__SsdAnchorsCalculator"]
    assert tuple(anchors["strides"]) == detector.STRIDES and anchors["numLayers"] == len(detector.STRIDES)
    assert anchors["aspectRatios"] == [1.0] and anchors["fixedAnchorSize"]
    assert "interpolatedScaleAspectRatio" not in anchors          # proto default 1.0: a second anchor per layer
    assert anchors["anchorOffsetX"] == anchors["anchorOffsetY"] == 0.5
    decode = nodes["posedetectioncpu__TensorsToDetectionsCalculator"]
    assert decode["numBoxes"] == len(detector.ssd_anchors()) == 2254
    assert decode["numKeypoints"] == detector.NUM_KEYPOINTS and decode["numCoords"] == 4 + 2 * detector.NUM_KEYPOINTS
    assert decode["xScale"] == decode["yScale"] == decode["wScale"] == decode["hScale"] == detector.INPUT_SIZE
    assert decode["reverseOutputOrder"] and decode["sigmoidScore"]
    assert decode["minScoreThresh"] == detector.MIN_SCORE and decode["scoreClippingThresh"] == detector.SCORE_CLIP
    nms = nodes["posedetectioncpu__NonMaxSuppressionCalculator"]
    assert nms["minSuppressionThreshold"] == pytest.approx(detector.NMS_IOU)
    assert nms["algorithm"] == "WEIGHTED" and nms["overlapType"] == "INTERSECTION_OVER_UNION"


def test_the_roi_crop_and_landmark_post_processing_match_the_graph(nodes):
    for prefix in ("posedetectiontoroi", "poselandmarkstoroi"):
        align = nodes[f"{prefix}__AlignmentPointsRectsCalculator"]
        assert align["rotationVectorStartKeypointIndex"] == roi.START_KEYPOINT
        assert align["rotationVectorEndKeypointIndex"] == roi.END_KEYPOINT
        assert math.radians(align["rotationVectorTargetAngleDegrees"]) == pytest.approx(roi.TARGET_ANGLE)
        rect = nodes[f"{prefix}__RectTransformationCalculator"]
        assert rect["scaleX"] == rect["scaleY"] == roi.ROI_SCALE and rect["squareLong"]
    crop = nodes["poselandmarkbyroicpu__ImageToTensorCalculator"]
    assert (crop["outputTensorWidth"], crop["outputTensorHeight"]) == (roi.CROP_SIZE,) * 2
    assert crop["outputTensorFloatRange"] == {"min": 0.0, "max": 1.0}
    assert "borderMode" not in crop                               # unspecified: replicate on CPU
    prefix = "poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation__"
    assert nodes[prefix + "RefineLandmarksFromHeatmapCalculator"]["kernelSize"] == predictor.REFINE_KERNEL
    assert nodes[prefix + "ThresholdingCalculator"]["threshold"] == predictor.MIN_PRESENCE
    assert nodes[prefix + "TensorsToLandmarksCalculator_1"]["numLandmarks"] == NUM_LANDMARKS
