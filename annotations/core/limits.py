"""Bounds on what a request or an import may store: one place, so every write path agrees.

Points may lie outside the frame (annotators place an occluded ear or a cut-off hip a little beyond
the edge, and CVAT keeps it), so coordinates are not clamped to the image. They must still be
finite and within COORDINATE_FACTOR x the larger image side of it: anything further is corrupt, and
a value like 1e300 would break every later reader (JSON encoders, training, dashboards).
"""

from __future__ import annotations

import math

from annotations.core.errors import InputError

# Largest width or height of a frame, in pixels (JPEG's own limit is 65,535).
MAX_IMAGE_SIDE = 100_000
# A coordinate, box corner or box side may be at most this many times the larger image side.
COORDINATE_FACTOR = 10


def is_number(value) -> bool:
    """A finite int or float (booleans are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def valid_image_size(width, height) -> bool:
    """Both sides whole numbers in 1..MAX_IMAGE_SIDE."""
    return all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_IMAGE_SIDE for s in (width, height))


def coordinate_limit(width, height) -> float:
    """The largest |x| or |y| (and box side) allowed in an image of this size; unknown sizes get the largest."""
    sides = [s for s in (width, height) if is_number(s) and s > 0]
    return float(COORDINATE_FACTOR * min(max(sides) if sides else MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))


def check_bbox(bbox, limit: float, field: str = "bbox") -> list[float]:
    """[x, y, w, h] as floats: finite, |x|, |y| <= limit, 0 <= w, h <= limit; InputError naming `field`."""
    if not isinstance(bbox, list) or len(bbox) != 4 or not all(is_number(b) for b in bbox):
        raise InputError(f"'{field}' must be [x, y, w, h]: four finite numbers")
    x, y, w, h = (float(b) for b in bbox)
    if w < 0 or h < 0:
        raise InputError(f"'{field}' must have non-negative width and height")
    if max(abs(x), abs(y), w, h) > limit:
        raise InputError(f"'{field}' values must lie within {limit:g} px ({COORDINATE_FACTOR} x the image size)")
    return [x, y, w, h]
