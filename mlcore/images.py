"""Reading images as RGB arrays (Pillow; OpenCV is not a dependency)."""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt


def load_rgb(path: str | os.PathLike[str]) -> npt.NDArray[np.uint8]:
    """An image file as (H, W, 3) uint8 RGB.

    EXIF orientation is not applied: CVAT stores coordinates against the raw
    pixel grid of extracted video frames, and so must we.
    """
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
