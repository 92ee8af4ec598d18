"""The demo skeleton: COCO-17 plus the SpineTrack spine chain (neck, hip, spine_01..05).

Names and sigmas are SpineTrack's, so a SpineTrack-37 model maps one to one.
"""

from . import coco17
from .base import build

SPINE_KEYPOINTS = ["neck", "hip", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05"]
SPINE_SIGMAS = [0.04, 0.07, 0.1, 0.1, 0.1, 0.08, 0.08]
# The spine chain from pelvis centre up to the neck, then to the head (nose).
SPINE_LINKS = [
    ("hip", "spine_01"), ("spine_01", "spine_02"), ("spine_02", "spine_03"),
    ("spine_03", "spine_04"), ("spine_04", "spine_05"), ("spine_05", "neck"),
    ("neck", "nose"), ("hip", "left_hip"), ("hip", "right_hip"),
    ("neck", "left_shoulder"), ("neck", "right_shoulder"),
]

COCO17_SPINE = build(
    "coco17_spine",
    coco17.KEYPOINTS + SPINE_KEYPOINTS,
    coco17.LINKS + SPINE_LINKS,
    coco17.SIGMAS + SPINE_SIGMAS,
)
