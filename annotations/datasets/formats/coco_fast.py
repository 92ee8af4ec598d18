"""Whole-file checks of a COCO keypoint file for the common case: every record well-formed.

Each check runs per file (numpy over all annotations, type sets over all values), not per record.
A function returns None as soon as any record is irregular; the caller then takes the record-by-record
path in coco.py, which names every problem (file, id, reason) exactly as before. Points outside the
image are not irregular: they are kept with a warning, found here by numpy.
"""

from __future__ import annotations

import numpy as np

from annotations.core.limits import COORDINATE_FACTOR, MAX_IMAGE_SIDE
from annotations.datasets.formats.records import Problem

VALID_VISIBILITY = (0, 1, 2)
_NONE = type(None)


def _only(values, *types) -> bool:
    """Every value's exact type is one of `types` (bool is not int here)."""
    return not set(map(type, values)) - set(types)


def check_images(raw: list) -> list[dict] | None:
    """The image entries as coco._parse_images returns them, or None if any entry needs its checks."""
    if not _only(raw, dict):
        return None
    ids = [im.get("id") for im in raw]
    names = [im.get("file_name") for im in raw]
    if not _only(ids, int) or len(set(ids)) != len(ids) or not _only(names, str) or not all(map(str.strip, names)):
        return None
    joined = "\n".join(names)  # one scan: most files name images without folders
    bases = ([name.replace("\\", "/").rsplit("/", 1)[-1] for name in names]
             if "/" in joined or "\\" in joined else names)
    if len(set(bases)) != len(bases):
        return None
    widths = [im.get("width") for im in raw]
    heights = [im.get("height") for im in raw]
    for sides in (widths, heights):
        if not _only(sides, int, _NONE):
            return None
        known = [s for s in sides if s is not None]
        if known and (min(known) <= 0 or max(known) > MAX_IMAGE_SIDE):
            return None
    clips = [c if type(c) is str else None for c in (im.get("clip_id") for im in raw)]
    return [{"id": i, "file_name": b, "width": w, "height": h, "clip_id": c}
            for i, b, w, h, c in zip(ids, bases, widths, heights, clips)]


def check_annotations(raw: list, images_by_id: dict, mapping: dict, names: dict, K: int, file: str,
                problems: list[Problem]) -> dict | None:
    """All annotations of a file with one keypoint category, checked per file; None if any is irregular.

    images_by_id: {image id: (width, height)}; mapping: {category id: index array into the skeleton};
    names: {category id: the file's keypoint names}. Returns arrays in file order: ids, image_ids (N,),
    keypoints (N, K, 3), present (K,), bboxes (N, 4), areas (N,) and labels (N form-label names or None);
    appends the kept-with-a-warning problems (points outside the image).
    """
    n = len(raw)
    if not n or not _only(raw, dict):
        return None
    ids = [a.get("id") for a in raw]
    image_ids = [a.get("image_id") for a in raw]
    cats = [a.get("category_id") for a in raw]
    if not _only(ids, int) or len(set(ids)) != n or not _only(image_ids, int) or not _only(cats, int):
        return None
    if len(set(cats)) != 1 or cats[0] not in mapping or not all(map(images_by_id.__contains__, image_ids)):
        return None
    index = mapping[cats[0]]
    kps = [a.get("keypoints") for a in raw]
    if not _only(kps, list) or set(map(len, kps)) != {3 * len(index)}:
        return None
    try:
        arr = np.array(kps, dtype=np.float64).reshape(n, len(index), 3)
    except (TypeError, ValueError):
        return None
    sizes = [images_by_id[i] for i in image_ids]
    w = np.array([a or 0 for a, _ in sizes], dtype=np.float64)
    h = np.array([b or 0 for _, b in sizes], dtype=np.float64)
    side = np.maximum(w, h)
    limit = COORDINATE_FACTOR * np.minimum(np.where(side > 0, side, MAX_IMAGE_SIDE), MAX_IMAGE_SIDE)
    x, y, v = arr[..., 0], arr[..., 1], arr[..., 2]
    if not np.isfinite(arr).all() or not np.isin(v, VALID_VISIBILITY).all():
        return None
    if ((np.abs(x) > limit[:, None]) | (np.abs(y) > limit[:, None])).any():
        return None
    bboxes = _bboxes([a.get("bbox") for a in raw], arr, limit)
    if bboxes is None:
        return None
    labelled = v > 0
    outside = labelled & ((x < 0) | (y < 0) | ((x > w[:, None]) & (w[:, None] > 0))
                          | ((y > h[:, None]) & (h[:, None] > 0)))
    point_names = names[cats[0]]
    rows, cols = np.nonzero(outside)  # row-major: the order the record-by-record path reports them in
    for m, k, px, py in zip(rows.tolist(), cols.tolist(), x[rows, cols].tolist(), y[rows, cols].tolist()):
        width, height = images_by_id[image_ids[m]]
        size = f"{width}x{height} image" if width and height else "image"
        problems.append(Problem(file, ids[m], f"keypoint outside the {size}: {point_names[k]} at ({px:g}, {py:g}); "
                                "kept", "kept", keypoint=point_names[k], point=[px, py]))
    given = np.array([a if type(a) in (int, float) else np.nan for a in (r.get("area") for r in raw)],
                     dtype=np.float64)
    good_area = np.isfinite(given) & (given >= 0) & (given <= limit ** 2)
    areas = np.where(good_area, given, bboxes[:, 2] * bboxes[:, 3])
    attributes = [r.get("attributes") for r in raw]
    labels = [lb if type(lb) is str else None
              for lb in (a.get("form_label") if type(a) is dict else None for a in attributes)]
    ok = index >= 0
    full = np.zeros((n, K, 3))
    full[:, index[ok]] = arr[:, ok]
    present = np.zeros(K, dtype=bool)
    present[index[ok]] = True
    return {"ids": np.asarray(ids, dtype=np.int64), "image_ids": np.asarray(image_ids, dtype=np.int64),
            "keypoints": full, "present": present, "bboxes": bboxes, "areas": areas, "labels": labels}


def _bboxes(given: list, arr: np.ndarray, limit: np.ndarray) -> np.ndarray | None:
    """(N, 4) boxes: the file's where given (valid, else None for the caller's per-record path), the
    tight box of the labelled points where absent."""
    if not _only(given, list, _NONE):
        return None
    absent = np.fromiter((b is None for b in given), bool, len(given))
    boxes = [b for b in given if b is not None]
    if boxes and (set(map(len, boxes)) != {4} or not _only([c for b in boxes for c in b], int, float)):
        return None
    out = np.zeros((len(given), 4))
    if boxes:
        values = np.array(boxes, dtype=np.float64)
        if (not np.isfinite(values).all() or (values[:, 2:] < 0).any()
                or (np.abs(values).max(axis=1) > limit[~absent]).any()):
            return None
        out[~absent] = values
    if absent.any():
        pts = arr[absent]
        lab = pts[..., 2] > 0
        x0 = np.where(lab, pts[..., 0], np.inf).min(axis=1)
        y0 = np.where(lab, pts[..., 1], np.inf).min(axis=1)
        x1 = np.where(lab, pts[..., 0], -np.inf).max(axis=1)
        y1 = np.where(lab, pts[..., 1], -np.inf).max(axis=1)
        any_lab = lab.any(axis=1)
        out[absent] = np.where(any_lab[:, None], np.stack([x0, y0, x1 - x0, y1 - y0], axis=1), 0.0)
    return out
