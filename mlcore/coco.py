"""COCO keypoint files as plain dicts: load, save, merge, split, and read them as arrays.

Everything here is a pure function on the COCO dict (``{"images", "annotations",
"categories", ...}``) unless it says it touches a file. The lab's conventions
(seed 000) are kept:

- merge: several CVAT/COCO exports become one file; image and annotation ids
  are renumbered 1..N in input order so they never collide; images without an
  annotation are dropped (CVAT lists every frame of a task, most unlabelled).
- clip id: ``images[].clip_id`` when present, else the file name without its
  last ``_<frame>`` part (``52723_8`` from ``52723_8_10.jpg``). Frames of one
  clip are near-duplicates, so every split and fold groups by it.
- form label: ``annotation["attributes"]["form_label"]`` (CVAT keeps per-shape
  attributes there). A CVAT task that holds one label only (the barbell-row
  tasks) gets it through ``merge_coco(..., form_labels=[...])``.
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, SupportsInt

import numpy as np
import numpy.typing as npt

from .files import atomic_path
from .skeletons import Skeleton, normalise_name, remap, skeleton_for_names

_FRAME_SUFFIX = re.compile(r"^(?P<clip>.+)_(?P<frame>\d+)$")


# ----------------------------------------------------------------------------- files

def load_coco(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a COCO JSON file."""
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def save_coco(data: dict[str, Any] | list[Any], path: str | os.PathLike[str]) -> None:
    """Write JSON to a temporary file next to ``path`` and rename it into place.

    A reader (or a crashed job) never sees half a file.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, cls=_NumpyEncoder)
        os.chmod(tmp, 0o644)  # results are meant to be read by other processes, whatever the umask


class _NumpyEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return float(o)
        if isinstance(o, np.ndarray):
            return o.tolist()
        return super().default(o)


# ----------------------------------------------------------------------------- ids and labels

def clip_id_from_file_name(file_name: str) -> str:
    """``52723_8`` from ``52723_8_10.jpg`` (or ``some/dir/52723_8_10.jpg``).

    The last ``_<digits>`` of the stem is the frame number; a stem without one
    is its own clip.
    """
    stem = Path(file_name).stem
    m = _FRAME_SUFFIX.match(stem)
    return m.group("clip") if m else stem


def frame_index_from_file_name(file_name: str) -> int | None:
    """``10`` from ``52723_8_10.jpg``; None when the name carries no frame number."""
    m = _FRAME_SUFFIX.match(Path(file_name).stem)
    return int(m.group("frame")) if m else None


def clip_id(image: dict[str, Any]) -> str:
    """An image record's clip id: ``clip_id`` wins when present, else the file name decides."""
    cid = image.get("clip_id")
    if cid not in (None, ""):
        return str(cid)
    return clip_id_from_file_name(image["file_name"])


def frame_index(image: dict[str, Any]) -> int | None:
    """An image record's frame number: ``frame_index``/``frame`` when present, else from the file name."""
    for key in ("frame_index", "frame"):
        if image.get(key) is not None:
            return int(image[key])
    return frame_index_from_file_name(image["file_name"])


def form_label(annotation: dict[str, Any]) -> str | None:
    """``annotation["attributes"]["form_label"]``, or None when the annotation has none."""
    label = (annotation.get("attributes") or {}).get("form_label")
    return None if label in (None, "") else str(label)


# ----------------------------------------------------------------------------- merge, subset, split

def merge_coco(datasets: list[dict[str, Any]], form_labels: list[str | None] | None = None,
               file_prefixes: list[str | None] | None = None,
               drop_unannotated: bool = True) -> dict[str, Any]:
    """Merge COCO dicts into one, renumbering ids (the lab's merge script, seed 000).

    datasets: COCO dicts, merged in order (inputs are not modified).
    form_labels: per dataset, a form label written to ``attributes.form_label``
        of annotations that have none (a CVAT task per label).
    file_prefixes: per dataset, a folder prepended to ``file_name``
        (``"correct"`` -> ``correct/52723_8_10.jpg``) so same-named frames of
        different tasks stay apart.
    drop_unannotated: drop images that no annotation refers to.

    Categories are matched by name and keypoint names (normalised), so two
    CVAT exports of one project share a category; the first occurrence's
    record is kept. Image ids become 1..N and annotation ids 1..M in input
    order. ``info``/``licenses`` come from the first dataset.
    """
    n = len(datasets)
    form_labels = list(form_labels) if form_labels is not None else [None] * n
    file_prefixes = list(file_prefixes) if file_prefixes is not None else [None] * n
    if len(form_labels) != n or len(file_prefixes) != n:
        raise ValueError("form_labels and file_prefixes need one entry per dataset")

    merged: dict[str, Any] = {"info": copy.deepcopy(datasets[0].get("info", {})) if datasets else {},
                    "licenses": copy.deepcopy(datasets[0].get("licenses", [])) if datasets else [],
                    "categories": [], "images": [], "annotations": []}
    cat_key_to_id: dict[tuple[Any, tuple[str, ...]], int] = {}
    next_image, next_ann = 1, 1
    for data, label, prefix in zip(datasets, form_labels, file_prefixes, strict=True):
        cat_map: dict[int, int] = {}
        for cat in data.get("categories", []):
            key = (cat.get("name"), tuple(normalise_name(k) for k in cat.get("keypoints", [])))
            if key not in cat_key_to_id:
                new = copy.deepcopy(cat)
                new["id"] = len(cat_key_to_id) + 1
                cat_key_to_id[key] = new["id"]
                merged["categories"].append(new)
            cat_map[cat["id"]] = cat_key_to_id[key]
        annotated = {a["image_id"] for a in data.get("annotations", [])}
        image_map: dict[int, int] = {}
        for img in data.get("images", []):
            if drop_unannotated and img["id"] not in annotated:
                continue
            new = copy.deepcopy(img)
            new["id"] = next_image
            if prefix:
                new["file_name"] = f"{prefix.rstrip('/')}/{img['file_name']}"
            image_map[img["id"]] = next_image
            next_image += 1
            merged["images"].append(new)
        for ann in data.get("annotations", []):
            if ann["image_id"] not in image_map:
                continue  # an annotation of an image the file does not list
            new = copy.deepcopy(ann)
            new["id"] = next_ann
            new["image_id"] = image_map[ann["image_id"]]
            new["category_id"] = cat_map.get(ann.get("category_id"), ann.get("category_id"))
            if label is not None and form_label(new) is None:
                new.setdefault("attributes", {})
                new["attributes"] = {**(new["attributes"] or {}), "form_label": label}
            next_ann += 1
            merged["annotations"].append(new)
    return merged


def subset(data: dict[str, Any], image_ids: Iterable[SupportsInt]) -> dict[str, Any]:
    """The images with these ids and their annotations (ids are kept). Categories/info are copied."""
    keep = set(int(i) for i in image_ids)
    out = {k: copy.deepcopy(v) for k, v in data.items() if k not in ("images", "annotations")}
    out["images"] = [copy.deepcopy(i) for i in data.get("images", []) if i["id"] in keep]
    out["annotations"] = [copy.deepcopy(a) for a in data.get("annotations", []) if a["image_id"] in keep]
    return out


def split_by_clip(data: dict[str, Any], ratios: tuple[float, ...] = (0.7, 0.15, 0.15), seed: int = 42,
                  names: tuple[str, ...] = ("train", "val", "test")) -> dict[str, dict[str, Any]]:
    """Split into subsets with every clip in exactly one of them (the lab's split script).

    Clip ids are sorted, shuffled with ``random.Random(seed)`` and cut in
    order: the first ``int(ratio * n_clips)`` go to the first subset, and so
    on; the last subset takes the remainder. Ratios are over clips, not frames.
    """
    if len(ratios) != len(names):
        raise ValueError("one ratio per subset name")
    by_clip: dict[str, list[int]] = {}
    for img in data.get("images", []):
        by_clip.setdefault(clip_id(img), []).append(img["id"])
    clips = sorted(by_clip)
    random.Random(seed).shuffle(clips)
    total = sum(ratios)
    out: dict[str, dict[str, Any]] = {}
    start = 0
    for i, (name, ratio) in enumerate(zip(names, ratios, strict=True)):
        end = len(clips) if i == len(names) - 1 else start + int(ratio / total * len(clips))
        out[name] = subset(data, [iid for c in clips[start:end] for iid in by_clip[c]])
        start = end
    return out


# ----------------------------------------------------------------------------- arrays

def category_skeleton(data: dict[str, Any], category_id: int | None = None) -> Skeleton:
    """The skeleton of a keypoint category (the first one with keypoints when no id is given).

    Recognises the presets by keypoint names ("Left Shoulder" = COCO17).
    """
    for cat in data.get("categories", []):
        if cat.get("keypoints") and (category_id is None or cat["id"] == category_id):
            return skeleton_for_names(cat["keypoints"])
    raise ValueError("no keypoint category found" + (f" with id {category_id}" if category_id else ""))


@dataclass
class KeypointTable:
    """One row per keypoint annotation, in ``annotations`` order.

    keypoints: (N, K, 3) float64 [x, y, v] in pixels, in ``skeleton`` order.
    bboxes: (N, 4) float64 [x, y, w, h]; areas: (N,) float64 (``area``, else box w * h, the OKS scale);
    image_ids, annotation_ids: (N,) int64;
    clip_ids, file_names: N strings; frames: N ints or None; form_labels: N strings or None.
    """

    skeleton: Skeleton
    keypoints: npt.NDArray[np.float64]
    bboxes: npt.NDArray[np.float64]
    areas: npt.NDArray[np.float64]
    image_ids: npt.NDArray[np.int64]
    annotation_ids: npt.NDArray[np.int64]
    clip_ids: list[str]
    file_names: list[str]
    frames: list[int | None]
    form_labels: list[str | None]

    def __len__(self) -> int:
        return len(self.annotation_ids)


def keypoint_table(data: dict[str, Any], skeleton: Skeleton | None = None) -> KeypointTable:
    """Keypoint annotations as arrays, remapped by name into ``skeleton`` (default: the category's).

    Annotations without keypoints are skipped. A missing bbox becomes the box of
    the labelled points.
    """
    images = {i["id"]: i for i in data.get("images", [])}
    cats = {c["id"]: c for c in data.get("categories", []) if c.get("keypoints")}
    if skeleton is None:
        skeleton = category_skeleton(data)
    cat_skels = {cid: skeleton_for_names(c["keypoints"]) for cid, c in cats.items()}
    rows = []
    for ann in data.get("annotations", []):
        if not ann.get("keypoints") or ann.get("category_id") not in cat_skels:
            continue
        src = cat_skels[ann["category_id"]]
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        if kp.shape[0] != src.num_keypoints:
            raise ValueError(f"annotation {ann.get('id')}: {kp.shape[0]} keypoints, category has {src.num_keypoints}")
        kp = remap(kp, src, skeleton) if src.keypoints != skeleton.keypoints else kp
        bbox = ann.get("bbox") or points_bbox(kp)
        img = images.get(ann["image_id"], {"file_name": "", "id": ann["image_id"]})
        area = float(ann.get("area") or bbox[2] * bbox[3])
        rows.append((kp, np.asarray(bbox, dtype=np.float64), ann["image_id"], ann.get("id", -1),
                     clip_id(img) if img.get("file_name") else "", img.get("file_name", ""),
                     frame_index(img) if img.get("file_name") else None, form_label(ann), area))
    k = skeleton.num_keypoints
    return KeypointTable(
        skeleton=skeleton,
        keypoints=np.stack([r[0] for r in rows]) if rows else np.zeros((0, k, 3)),
        bboxes=np.stack([r[1] for r in rows]) if rows else np.zeros((0, 4)),
        areas=np.array([r[8] for r in rows], dtype=np.float64),
        image_ids=np.array([r[2] for r in rows], dtype=np.int64),
        annotation_ids=np.array([r[3] for r in rows], dtype=np.int64),
        clip_ids=[r[4] for r in rows], file_names=[r[5] for r in rows],
        frames=[r[6] for r in rows], form_labels=[r[7] for r in rows],
    )


def points_bbox(keypoints: npt.ArrayLike) -> list[float]:
    """[x, y, w, h] around the labelled points of one instance (K, 3); zeros if none are labelled."""
    kp = np.asarray(keypoints, dtype=np.float64)
    lab = kp[:, 2] > 0
    if not lab.any():
        return [0.0, 0.0, 0.0, 0.0]
    lo, hi = kp[lab, :2].min(axis=0), kp[lab, :2].max(axis=0)
    return [float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])]


def keypoints_to_coco(keypoints: npt.ArrayLike) -> list[float]:
    """(K, 3) array -> COCO's flat [x1, y1, v1, ...] list of Python floats (v as written)."""
    return [float(v) for v in np.asarray(keypoints, dtype=np.float64).reshape(-1)]


# ----------------------------------------------------------------------------- image files

class ImageIndex:
    """Finds an image record's file under a root folder.

    Tries ``root/file_name``, then a file with the same base name anywhere
    under ``root`` (CVAT exports name frames without the task folder they were
    uploaded from). An ambiguous base name is resolved by the folder part of
    ``file_name`` when there is one, else refused.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._by_name: dict[str, list[Path]] | None = None

    def _scan(self) -> dict[str, list[Path]]:
        if self._by_name is None:
            index: dict[str, list[Path]] = {}
            for dirpath, _dirs, files in os.walk(self.root):
                for f in files:
                    index.setdefault(f, []).append(Path(dirpath) / f)
            self._by_name = index
        return self._by_name

    def find(self, file_name: str) -> Path | None:
        """Path of the file, or None when it is not there."""
        direct = self.root / file_name
        if direct.is_file():
            return direct
        candidates = self._scan().get(Path(file_name).name, [])
        if len(candidates) == 1:
            return candidates[0]
        parent = Path(file_name).parent.name
        matching = [c for c in candidates if parent and c.parent.name == parent]
        return matching[0] if len(matching) == 1 else None
