"""Skeletons as data, one file each; PRESETS maps preset names to them.

MEDIAPIPE33 (what the MediaPipe pre-annotator returns) is deliberately not a
preset: nobody annotates in it. ``remap`` moves arrays between skeletons by name.
"""

from .base import Skeleton, normalise_name
from .coco17 import COCO17
from .coco17_spine import COCO17_SPINE
from .mapping import remap, remap_index
from .mediapipe33 import MEDIAPIPE33, MEDIAPIPE_TO_COCO17
from .spinetrack37 import SPINETRACK37

PRESETS: dict[str, Skeleton] = {s.name: s for s in (COCO17, COCO17_SPINE, SPINETRACK37)}


def get_preset(name: str) -> Skeleton:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton preset {name!r}; choose one of {sorted(PRESETS)}") from None


def skeleton_for_names(names: list[str], sigma_default: float = 0.079) -> Skeleton:
    """The preset whose keypoints are exactly ``names`` (after normalisation), else a custom skeleton.

    Used to recognise the skeleton of a COCO/CVAT category ("Left Shoulder" ...).
    A custom skeleton gets flip pairs from left_/right_ names and ``sigma_default``.
    """
    norm = tuple(normalise_name(n) for n in names)
    for skel in (*PRESETS.values(), MEDIAPIPE33):
        if skel.keypoints == norm:
            return skel
    from .base import build

    return build("custom", list(norm), [], [sigma_default] * len(norm))


__all__ = [
    "Skeleton", "normalise_name", "PRESETS", "get_preset", "COCO17", "COCO17_SPINE", "SPINETRACK37",
    "MEDIAPIPE33", "MEDIAPIPE_TO_COCO17", "remap", "remap_index", "skeleton_for_names",
]
