"""SpineTrack-37 ("Towards Unconstrained 2D Pose Estimation of the Human Spine", CVPRW 2025).

The 17 COCO points, then head, neck, hip (pelvis centre), feet, spine_01..05
(lumbar up to thoracic), latissimus, clavicles, neck_02, neck_03.
"""

from . import coco17
from .base import build

EXTRA_KEYPOINTS = [
    "head", "neck", "hip",
    "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel",
    "spine_01", "spine_02", "spine_03", "spine_04", "spine_05",
    "left_latissimus", "right_latissimus", "left_clavicle", "right_clavicle",
    "neck_02", "neck_03",
]
EXTRA_SIGMAS = [
    0.026, 0.04, 0.07,
    0.079, 0.079, 0.079, 0.079, 0.079, 0.079,
    0.1, 0.1, 0.1, 0.08, 0.08,
    0.12, 0.12, 0.07, 0.07,
    0.07, 0.06,
]
EXTRA_LINKS = [
    ("hip", "spine_01"), ("spine_01", "spine_02"), ("spine_02", "spine_03"), ("spine_03", "spine_04"),
    ("spine_04", "spine_05"), ("spine_05", "neck"), ("neck", "neck_02"), ("neck_02", "neck_03"),
    ("neck_03", "head"),
    ("left_ankle", "left_heel"), ("left_ankle", "left_big_toe"), ("left_ankle", "left_small_toe"),
    ("right_ankle", "right_heel"), ("right_ankle", "right_big_toe"), ("right_ankle", "right_small_toe"),
    ("hip", "left_hip"), ("hip", "right_hip"),
    ("left_clavicle", "neck"), ("right_clavicle", "neck"),
    ("left_clavicle", "left_shoulder"), ("right_clavicle", "right_shoulder"),
    ("left_latissimus", "left_shoulder"), ("right_latissimus", "right_shoulder"),
]

SPINETRACK37 = build(
    "spinetrack37",
    coco17.KEYPOINTS + EXTRA_KEYPOINTS,
    coco17.LINKS + EXTRA_LINKS,
    coco17.SIGMAS + EXTRA_SIGMAS,
)
