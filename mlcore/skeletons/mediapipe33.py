"""MediaPipe BlazePose's 33 landmarks, and the 17 of them that are COCO's.

BlazePose names its eye and ear landmarks like COCO ("left_eye" is landmark 2,
the eye centre; 1 and 3 are the inner and outer corners), so a name-based
``remap`` to COCO17 picks landmarks 0, 2, 5, 7, 8, 11-16, 23-28, the mapping
MediaPipe's own docs give. Not in PRESETS: nobody annotates in this skeleton,
it is only what the optional MediaPipe pre-annotator returns.
"""

from . import coco17
from .base import build

KEYPOINTS = [
    "nose", "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_pinky", "right_pinky",
    "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
]

# Landmark index of each COCO-17 point, in COCO order.
MEDIAPIPE_TO_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

_coco_sigma = dict(zip(coco17.KEYPOINTS, coco17.SIGMAS, strict=True))
# Points COCO does not have get sigmas of their nearest COCO relative: face
# points like the eyes, hand points like the wrists, foot points like
# SpineTrack's foot points (0.079).
_extra_sigma = {"eye": 0.025, "mouth": 0.026, "pinky": 0.062, "index": 0.062, "thumb": 0.062,
                "heel": 0.079, "foot_index": 0.079}


def _sigma(name: str) -> float:
    if name in _coco_sigma:
        return _coco_sigma[name]
    for key, value in _extra_sigma.items():
        if key in name:
            return value
    return 0.079


SIGMAS = [_sigma(n) for n in KEYPOINTS]

LINKS = [
    ("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"), ("left_eye", "left_eye_outer"),
    ("left_eye_outer", "left_ear"), ("nose", "right_eye_inner"), ("right_eye_inner", "right_eye"),
    ("right_eye", "right_eye_outer"), ("right_eye_outer", "right_ear"), ("mouth_left", "mouth_right"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("left_wrist", "left_pinky"), ("left_wrist", "left_index"), ("left_wrist", "left_thumb"),
    ("left_pinky", "left_index"), ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
    ("right_wrist", "right_pinky"), ("right_wrist", "right_index"), ("right_wrist", "right_thumb"),
    ("right_pinky", "right_index"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_hip", "right_hip"), ("left_hip", "left_knee"), ("left_knee", "left_ankle"),
    ("left_ankle", "left_heel"), ("left_heel", "left_foot_index"), ("left_ankle", "left_foot_index"),
    ("right_hip", "right_knee"), ("right_knee", "right_ankle"), ("right_ankle", "right_heel"),
    ("right_heel", "right_foot_index"), ("right_ankle", "right_foot_index"),
]

MEDIAPIPE33 = build("mediapipe33", KEYPOINTS, LINKS, SIGMAS)
