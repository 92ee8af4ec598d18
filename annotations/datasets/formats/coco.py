"""COCO person-keypoints: read CVAT "COCO Keypoints 1.0" / plain COCO files, write exports.

Reading maps the file's keypoint names onto the project skeleton case- and
space-insensitively ("Left Shoulder" -> left_shoulder) and reports every bad
record (file, id, reason) instead of failing on the first or dropping it silently.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeGuard

import numpy as np

from annotations.core.atomic import atomic_path, atomic_zip
from annotations.core.limits import COORDINATE_FACTOR, MAX_IMAGE_SIDE, coordinate_limit
from annotations.datasets.formats import coco_fast
from annotations.datasets.formats.records import AnnotationRecord, DatasetRecord, ParsedCoco, Problem
from mlcore.skeletons import Skeleton, normalise_name

VALID_VISIBILITY = (0, 1, 2)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _category_mapping(categories: list, skeleton: Skeleton, file: str, problems: list[Problem]):
    """{category id: (index array into the project skeleton (-1 = not in it), K_src)}, unmapped names."""
    target = {n: i for i, n in enumerate(skeleton.keypoints)}
    mapping, unmapped = {}, []
    for cat in categories:
        if not isinstance(cat, dict) or not _is_int(cat.get("id")):
            problems.append(Problem(file, None, "category without an integer id"))
            continue
        names = cat.get("keypoints")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            continue  # not a keypoint category (boxes only); its annotations are reported below
        index = np.array([target.get(normalise_name(n), -1) for n in names], dtype=np.int64)
        unmapped += [n for n, i in zip(names, index) if i < 0]
        mapping[cat["id"]] = index
    return mapping, sorted(set(unmapped))


def _parse_images(raw_images, file: str, problems: list[Problem]) -> list[dict]:
    checked = coco_fast.check_images(raw_images)  # the whole list at once when every entry is well-formed
    if checked is not None:
        return checked
    images, seen_ids, seen_names = [], set(), set()
    for img in raw_images:
        if not isinstance(img, dict):
            problems.append(Problem(file, None, "image entry is not an object"))
            continue
        image_id, name = img.get("id"), img.get("file_name")
        if not _is_int(image_id):
            problems.append(Problem(file, image_id, "image id is not an integer"))
            continue
        if image_id in seen_ids:
            problems.append(Problem(file, image_id, "duplicate image id; later entry skipped"))
            continue
        if not isinstance(name, str) or not name.strip():
            problems.append(Problem(file, image_id, "image without a file_name"))
            continue
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        if base in seen_names:
            problems.append(Problem(file, image_id, f"duplicate file name {base!r}; later entry skipped"))
            continue
        width, height = img.get("width"), img.get("height")
        if width is not None and (not _is_int(width) or not 0 < width <= MAX_IMAGE_SIDE) or height is not None and (
            not _is_int(height) or not 0 < height <= MAX_IMAGE_SIDE
        ):
            problems.append(Problem(file, image_id, f"invalid size {width}x{height} (each side 1..{MAX_IMAGE_SIDE:,})"))
            continue
        seen_ids.add(image_id)
        seen_names.add(base)
        images.append({"id": image_id, "file_name": base, "width": width, "height": height,
                       "clip_id": img.get("clip_id") if isinstance(img.get("clip_id"), str) else None})
    return images


def parse_coco(data, skeleton: Skeleton, file: str = "<input>") -> ParsedCoco:
    """Parse a COCO keypoint dict onto `skeleton`. Structural errors raise ValueError; bad records
    become Problems and are skipped."""
    if not isinstance(data, dict):
        raise ValueError(f"{file}: top level is not a JSON object")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{file}: missing or invalid '{key}' list")
    problems: list[Problem] = []
    mapping, unmapped = _category_mapping(data["categories"], skeleton, file, problems)
    if not mapping:
        raise ValueError(f"{file}: no category with a 'keypoints' name list")
    images = _parse_images(data["images"], file, problems)
    sizes = {img["id"]: (img["width"], img["height"]) for img in images}

    K = skeleton.num_keypoints
    names = {cat["id"]: cat["keypoints"] for cat in data["categories"]
             if isinstance(cat, dict) and _is_int(cat.get("id")) and cat["id"] in mapping}
    fast = coco_fast.check_annotations(data["annotations"], sizes, mapping, names, K, file, problems)
    if fast is not None:  # every annotation well-formed: checked per file, no record-by-record pass
        return _parsed(images, fast, problems, unmapped)
    candidates = _screen_annotations(data["annotations"], sizes, mapping, file, problems)
    rows: dict[int, tuple] = {}  # position in the file -> (full (K, 3), present (K,), bbox, area, record)
    for cat_id, group in candidates.items():
        _check_keypoints(group, mapping[cat_id], names[cat_id], sizes, K, file, problems, rows)

    kept: list[dict] = []
    instances: dict[int, int] = {}
    for pos in sorted(rows):
        record = rows[pos][4]
        instances[record["image_id"]] = instances.get(record["image_id"], -1) + 1
        record["instance"] = instances[record["image_id"]]
        kept.append(record)
    ordered = [rows[pos] for pos in sorted(rows)]
    if ordered:
        keypoints = np.stack([r[0] for r in ordered])
        present = np.stack([r[1] for r in ordered])
        bboxes = np.asarray([r[2] for r in ordered], dtype=np.float64)
        areas = np.asarray([r[3] for r in ordered], dtype=np.float64)
    else:
        keypoints, present = np.zeros((0, K, 3)), np.zeros((0, K), dtype=bool)
        bboxes, areas = np.zeros((0, 4)), np.zeros(0)
    return ParsedCoco(images, kept, keypoints, present, bboxes, areas, problems, unmapped)


def instances_of(image_ids: np.ndarray) -> np.ndarray:
    """(N,) person index of each annotation within its image, in file order (0, 1, ... per image)."""
    order = np.argsort(image_ids, kind="stable")
    ranked = image_ids[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    rank = np.arange(len(ranked)) - np.repeat(starts, np.diff(np.r_[starts, len(ranked)]))
    out = np.empty(len(ranked), dtype=np.int64)
    out[order] = rank
    return out


def _parsed(images: list[dict], fast: dict, problems: list[Problem], unmapped: list[str]) -> ParsedCoco:
    """ParsedCoco from coco_fast.check_annotations' arrays."""
    n = len(fast["ids"])
    instances = instances_of(fast["image_ids"])
    kept = [{"id": i, "image_id": im, "form_label": label, "instance": inst} for i, im, label, inst
            in zip(fast["ids"].tolist(), fast["image_ids"].tolist(), fast["labels"], instances.tolist())]
    present = np.broadcast_to(fast["present"], (n, len(fast["present"]))).copy()
    return ParsedCoco(images, kept, fast["keypoints"], present, fast["bboxes"], fast["areas"], problems, unmapped,
                      ids=fast["ids"], instances=instances)


def _screen_annotations(raw, sizes, mapping, file, problems) -> dict[int, list[tuple[int, dict]]]:
    """Cheap per-record checks (ids, image, category, keypoint count); {category: [(position, ann)]}."""
    seen_ids: set[int] = set()
    groups: dict[Any, list[tuple[int, dict]]] = {}  # keyed by the file's category id (a key of `mapping`)
    for pos, ann in enumerate(raw):
        if not isinstance(ann, dict):
            problems.append(Problem(file, None, "annotation entry is not an object"))
            continue
        ann_id, image_id, cat_id = ann.get("id"), ann.get("image_id"), ann.get("category_id")
        if not _is_int(ann_id):
            problems.append(Problem(file, ann_id, "annotation id is not an integer"))
            continue
        if ann_id in seen_ids:
            problems.append(Problem(file, ann_id, "duplicate annotation id; later entry skipped"))
            continue
        if image_id not in sizes:
            problems.append(Problem(file, ann_id, f"unknown image id {image_id!r}"))
            continue
        if cat_id not in mapping:
            problems.append(Problem(file, ann_id, f"category {cat_id!r} has no keypoints"))
            continue
        kp = ann.get("keypoints")
        expected = 3 * len(mapping[cat_id])
        if not isinstance(kp, list) or len(kp) != expected:
            got = len(kp) if isinstance(kp, list) else type(kp).__name__
            problems.append(Problem(file, ann_id, f"expected {expected} keypoint values, got {got}"))
            continue
        seen_ids.add(ann_id)
        groups.setdefault(cat_id, []).append((pos, ann))
    return groups


def _as_array(group, file, problems) -> tuple[np.ndarray, list[tuple[int, dict]]]:
    """All keypoint lists of a group as one (M, Ks * 3) array; rows that are not numbers are dropped."""
    try:
        return np.array([ann["keypoints"] for _, ann in group], dtype=np.float64), group
    except (TypeError, ValueError):
        good = []
        for pos, ann in group:
            try:
                np.asarray(ann["keypoints"], dtype=np.float64)
            except (TypeError, ValueError):
                problems.append(Problem(file, ann["id"], "keypoints are not all numbers"))
                continue
            good.append((pos, ann))
        if not good:
            return np.zeros((0, 0)), good
        return np.array([ann["keypoints"] for _, ann in good], dtype=np.float64), good


def _check_keypoints(group, index, names, sizes, K, file, problems, rows) -> None:
    """Vectorised coordinate checks for one category's annotations; good ones go into `rows`.

    names: the file's keypoint names of this category (for the per-point warnings)."""
    flat, group = _as_array(group, file, problems)
    if not group:
        return
    arr = flat.reshape(len(group), -1, 3)  # (M, Ks, 3)
    wh = np.array([sizes[ann["image_id"]] for _, ann in group], dtype=object)
    w = np.array([x or 0 for x in wh[:, 0]], dtype=np.float64)[:, None]
    h = np.array([x or 0 for x in wh[:, 1]], dtype=np.float64)[:, None]
    limit = np.array([coordinate_limit(a, b) for a, b in wh], dtype=np.float64)[:, None]
    labelled = arr[..., 2] > 0
    finite = np.all(np.isfinite(arr), axis=(1, 2))
    safe = np.where(np.isfinite(arr), arr, 0.0)
    valid_v = np.all(np.isin(safe[..., 2], VALID_VISIBILITY), axis=1)
    x, y = safe[..., 0], safe[..., 1]
    # Annotators place occluded points outside the frame (an ear or a hip a few pixels beyond the
    # edge); CVAT keeps them, and so does the import: each such point is a warning, the annotation
    # is kept as it is. Only coordinates beyond COORDINATE_FACTOR x the image size are corrupt.
    corrupt = (np.abs(x) > limit) | (np.abs(y) > limit)
    outside = labelled & ((x < 0) | (y < 0) | ((x > w) & (w > 0)) | ((y > h) & (h > 0)))
    ok = index >= 0
    full = np.zeros((len(group), K, 3))
    full[:, index[ok]] = arr[:, ok]
    present = np.zeros(K, dtype=bool)
    present[index[ok]] = True
    for m, (pos, ann) in enumerate(group):
        ann_id = ann["id"]
        if not finite[m]:
            problems.append(Problem(file, ann_id, "NaN or infinite keypoint coordinate"))
            continue
        if not valid_v[m]:
            problems.append(Problem(file, ann_id, "visibility flags must be 0, 1 or 2"))
            continue
        if corrupt[m].any():
            k = int(np.flatnonzero(corrupt[m])[0])
            problems.append(Problem(file, ann_id, f"keypoint {names[k]} at ({x[m, k]:g}, {y[m, k]:g}) is more than "
                                    f"{COORDINATE_FACTOR} x the image size away from it",
                                    keypoint=names[k], point=[float(x[m, k]), float(y[m, k])]))
            continue
        bbox = ann.get("bbox")
        if bbox is not None:
            if (not isinstance(bbox, list) or len(bbox) != 4
                    or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and math.isfinite(b)
                               for b in bbox)
                    or bbox[2] < 0 or bbox[3] < 0 or max(abs(b) for b in bbox) > limit[m, 0]):
                problems.append(Problem(file, ann_id, f"invalid bbox {bbox!r}"))
                continue
        else:
            bbox = _bbox_of(arr[m])
        width, height = sizes[ann["image_id"]]
        size = f"{width}x{height} image" if width and height else "image"
        for k in np.flatnonzero(outside[m]).tolist():
            problems.append(Problem(file, ann_id, f"keypoint outside the {size}: {names[k]} at "
                                    f"({x[m, k]:g}, {y[m, k]:g}); kept", "kept",
                                    keypoint=names[k], point=[float(x[m, k]), float(y[m, k])]))
        area = ann.get("area")
        if (not isinstance(area, (int, float)) or isinstance(area, bool) or not math.isfinite(area) or area < 0
                or area > limit[m, 0] ** 2):
            area = float(bbox[2] * bbox[3])
        attributes = ann.get("attributes") if isinstance(ann.get("attributes"), dict) else {}
        label = attributes.get("form_label")
        rows[pos] = (full[m], present, bbox, float(area),
                     {"id": ann_id, "image_id": ann["image_id"],
                      "form_label": label if isinstance(label, str) else None})


def _bbox_of(kpts: np.ndarray) -> list[float]:
    """Tight box [x, y, w, h] around the labelled points of a (K, 3) array."""
    pts = kpts[kpts[:, 2] > 0, :2]
    if len(pts) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


# -- writing -----------------------------------------------------------------------------------

def coco_category(skeleton: Skeleton) -> dict:
    """The person category: keypoint names, 1-based skeleton links and the project's OKS sigmas
    (`sigmas`, one per keypoint, for COCOeval's `params.kpt_oks_sigmas`)."""
    return {**skeleton.coco_category(), "sigmas": [float(s) for s in skeleton.sigmas]}


def to_coco_dict(dataset: DatasetRecord) -> dict:
    """COCO dict: the project's keypoint names, skeleton and OKS sigmas in the category, CVAT-style
    `attributes` (form_label, per-keypoint states and verified flags) on every annotation,
    `clip_id` on every image, `attributes` on gold and consensus frames' images."""
    images = [
        {"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height,
         "clip_id": im.clip_id, "frame_index": im.frame_index, "split": im.split,
         **({"attributes": im.attributes} if im.attributes else {})}
        for im in dataset.images
    ]
    annotations = [
        {
            "id": a.id, "image_id": a.image_id, "category_id": 1, "iscrowd": 0,
            "keypoints": a.keypoints, "num_keypoints": a.num_keypoints,
            "bbox": a.bbox, "area": a.area, "segmentation": [],
            "attributes": {
                "form_label": a.form_label,
                "keypoint_states": a.keypoint_states,
                "verified": [s == "verified" for s in a.keypoint_states],
                "source": a.source,
            },
        }
        for a in dataset.annotations
    ]
    return {
        "info": dataset.info,
        "licenses": [],
        "categories": [coco_category(dataset.skeleton)],
        "form_labels": dataset.form_labels,
        "images": images,
        "annotations": annotations,
    }


def _annotation_text(a: AnnotationRecord, raw: dict, cache: dict[str | None, str]) -> str:
    """One annotation as JSON text, the same object to_coco_dict builds, from pre-serialised parts.

    `raw` is `a.raw`, the pre-serialised parts; `cache` holds the JSON of the few distinct state lists, labels
    and sources.
    """
    states = raw["keypoint_states"]
    for key, make in ((states, lambda: [s == "verified" for s in json.loads(states)]),
                      (a.form_label, lambda: a.form_label), (a.source, lambda: a.source)):
        if key not in cache:
            cache[key] = json.dumps(make(), separators=(",", ":"))
    return (
        f'{{"id":{a.id},"image_id":{a.image_id},"category_id":1,"iscrowd":0,"keypoints":{raw["keypoints"]},'
        f'"num_keypoints":{a.num_keypoints},"bbox":{raw["bbox"]},"area":{float(a.area)!r},"segmentation":[],'
        f'"attributes":{{"form_label":{cache[a.form_label]},"keypoint_states":{states},'
        f'"verified":{cache[states]},"source":{cache[a.source]}}}}}'
    )


def coco_text(dataset: DatasetRecord) -> str:
    """The JSON text of to_coco_dict(dataset); annotations with `raw` parts are spliced in as text."""
    if not any(a.raw for a in dataset.annotations):
        return json.dumps(to_coco_dict(dataset), separators=(",", ":"))
    shell = to_coco_dict(DatasetRecord(dataset.skeleton, dataset.form_labels, dataset.images, [], dataset.info))
    head = json.dumps(shell, separators=(",", ":"))
    assert head.endswith(',"annotations":[]}')
    cache: dict[str | None, str] = {}
    dict_based = to_coco_dict(DatasetRecord(dataset.skeleton, [], [], [a for a in dataset.annotations if not a.raw]))
    parsed_texts = iter(json.dumps(d, separators=(",", ":")) for d in dict_based["annotations"])
    parts = [_annotation_text(a, a.raw, cache) if a.raw else next(parsed_texts) for a in dataset.annotations]
    return head[: -len("]}")] + ",".join(parts) + "]}"


def write_json_atomic(payload: dict | str, out_path: str | os.PathLike) -> int:
    """Write JSON (a dict, or ready JSON text) to a temporary file beside `out_path`, then rename it
    into place. Returns bytes."""
    # json.dumps runs in C; json.dump to a file object would go through the slow pure-Python encoder.
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    with atomic_path(out_path) as tmp:
        tmp.write_text(text)
    return len(text)


def write_export(datasets: dict[str, DatasetRecord], out_path, include_images: bool = False) -> dict:
    """One subset: a COCO JSON file. Several subsets or images: a zip of annotations/<subset>.json
    (+ images/<subset>/...)."""
    out_path = Path(out_path)
    if len(datasets) == 1 and not include_images:
        (subset, ds), = datasets.items()
        size = write_json_atomic(coco_text(ds), out_path)
        return {"files": 1, "bytes": size, "images": len(ds.images), "annotations": len(ds.annotations)}
    return write_zip(datasets, out_path, include_images)


def write_zip(datasets: dict[str, DatasetRecord], out_path: Path, include_images: bool) -> dict:
    copied = 0
    with atomic_zip(out_path) as zf:
        for subset, ds in datasets.items():
            zf.writestr(f"annotations/{subset}.json", coco_text(ds))
            if include_images:
                copied += add_images(zf, ds, f"images/{subset}/")
    return {"files": len(datasets), "bytes": out_path.stat().st_size, "images_copied": copied,
            "images": sum(len(d.images) for d in datasets.values()),
            "annotations": sum(len(d.annotations) for d in datasets.values())}


# Image path prefix -> opener (a binary file, or None when missing) for pixels that are not local files;
# exporting registers the media storage's ("storage:<name>"), keeping this module free of Django.
IMAGE_READERS: dict[str, Callable[[str], IO[bytes] | None]] = {}


def add_images(zf: zipfile.ZipFile, ds: DatasetRecord, prefix: str) -> int:
    """Copy each image's pixels into the zip (stored, JPEGs do not compress)."""
    count = 0
    for im in ds.images:
        reader = next((r for scheme, r in IMAGE_READERS.items() if im.path and im.path.startswith(scheme)), None)
        if reader is not None and im.path:  # e.g. frames on an object store: streamed, not downloaded first
            src = reader(im.path)
            if src is not None:
                with src, zf.open(zipfile.ZipInfo(prefix + im.file_name), "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                count += 1
        elif im.path and os.path.exists(im.path):
            zf.write(im.path, prefix + im.file_name, compress_type=zipfile.ZIP_STORED)
            count += 1
    return count
