"""Exports CVAT reads back: "COCO Keypoints 1.0" and "CVAT for images 1.1" XML with skeletons.

Both use CVAT's own names: the category (skeleton label) is `human` and keypoints are title case
("Left Shoulder", as CVAT's skeleton sublabels are named), and both carry the form label as an
attribute (`attributes.form_label` in COCO, `<attribute name="form_label">` on each skeleton in XML).

Keypoints that no exported annotation has labelled (the spine points PoseReview adds to a CVAT
skeleton, while they are unconfirmed heuristic guesses) are left out, so the file matches the
skeleton of the CVAT task it came from; once a person confirms such a point it is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

from annotations.core.atomic import atomic_zip
from annotations.datasets.formats.coco import add_images
from annotations.datasets.formats.records import AnnotationRecord, DatasetRecord
from mlcore.skeletons import Skeleton

CATEGORY = "human"
FORM_LABEL = "form_label"


def cvat_name(name: str) -> str:
    """CVAT's spelling of a keypoint name: `left_shoulder` -> `Left Shoulder`."""
    return " ".join(part[:1].upper() + part[1:] for part in name.replace("_", " ").split())


def _points(ann: AnnotationRecord) -> list:
    return ann.keypoints if not ann.raw else json.loads(ann.raw["keypoints"])


def written_keypoints(datasets: dict[str, DatasetRecord]) -> list[int]:
    """Indices of the skeleton's keypoints that some exported annotation labels (all, if none does)."""
    skeleton = next(iter(datasets.values())).skeleton
    used: set[int] = set()
    for ds in datasets.values():
        for ann in ds.annotations:
            kp = _points(ann)
            used |= {i // 3 for i in range(2, len(kp), 3) if kp[i] > 0}
    return sorted(used) or list(range(skeleton.num_keypoints))


def _links(skeleton: Skeleton, keep: list[int]) -> list[tuple[int, int]]:
    """Skeleton links between kept points, as positions in `keep`."""
    where = {k: n for n, k in enumerate(keep)}
    return [(where[a], where[b]) for a, b in skeleton.links if a in where and b in where]


def _subset_name(subset: str) -> str:
    """CVAT's subset names: Train, Validation, Test (anything else: as it is)."""
    return {"train": "Train", "val": "Validation", "test": "Test", "all": "default"}.get(subset, subset)


# -- COCO Keypoints 1.0 ----------------------------------------------------------------------------

def cvat_coco_dict(ds: DatasetRecord, keep: list[int]) -> dict:
    skeleton = ds.skeleton
    annotations = []
    for ann in ds.annotations:
        kp = _points(ann)
        kp = kp + [0, 0, 0] * (skeleton.num_keypoints - len(kp) // 3)
        points = [v for k in keep for v in kp[3 * k:3 * k + 3]]
        annotations.append({
            "id": ann.id, "image_id": ann.image_id, "category_id": 1, "segmentation": [], "area": ann.area,
            "bbox": ann.bbox if not ann.raw else json.loads(ann.raw["bbox"]), "iscrowd": 0,
            "attributes": {"occluded": False, **({FORM_LABEL: ann.form_label} if ann.form_label else {})},
            "keypoints": points, "num_keypoints": sum(1 for v in points[2::3] if v > 0),
        })
    return {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {"contributor": "", "date_created": "", "description": ds.info.get("description", ""), "url": "",
                 "version": "", "year": ""},
        "categories": [{"id": 1, "name": CATEGORY, "supercategory": "",
                        "keypoints": [cvat_name(skeleton.keypoints[k]) for k in keep],
                        "skeleton": [[a + 1, b + 1] for a, b in _links(skeleton, keep)]}],
        "images": [{"id": im.id, "width": im.width, "height": im.height, "file_name": im.file_name, "license": 0,
                    "flickr_url": "", "coco_url": "", "date_captured": 0} for im in ds.images],
        "annotations": annotations,
    }


def write_cvat_coco(datasets: dict[str, DatasetRecord], out_path, include_images: bool = False) -> dict:
    """A zip as CVAT exports one: annotations/person_keypoints_<Subset>.json (+ images/<Subset>/)."""
    out_path = Path(out_path)
    keep = written_keypoints(datasets)
    copied = 0
    with atomic_zip(out_path) as zf:
        for subset, ds in datasets.items():
            name = _subset_name(subset)
            zf.writestr(f"images/{name}/", b"")  # COCO readers (datumaro) expect the folder, images or not
            zf.writestr(f"annotations/person_keypoints_{name}.json",
                        json.dumps(cvat_coco_dict(ds, keep), separators=(",", ":")))
            if include_images:
                copied += add_images(zf, ds, f"images/{name}/")
    return {"keypoints": len(keep), "images_copied": copied, "bytes": out_path.stat().st_size}


# -- CVAT for images 1.1 ---------------------------------------------------------------------------

def _text(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = text
    return element


def _labels(meta_project: ET.Element, skeleton: Skeleton, keep: list[int], form_labels: list[str]) -> None:
    labels = ET.SubElement(meta_project, "labels")
    human = ET.SubElement(labels, "label")
    _text(human, "name", CATEGORY)
    _text(human, "color", "#fa3253")
    _text(human, "type", "skeleton")
    attributes = ET.SubElement(human, "attributes")
    attribute = ET.SubElement(attributes, "attribute")
    _text(attribute, "name", FORM_LABEL)
    _text(attribute, "mutable", "False")
    _text(attribute, "input_type", "select")
    _text(attribute, "default_value", form_labels[0] if form_labels else "")
    _text(attribute, "values", "\n".join(form_labels))
    # CVAT draws the skeleton from an SVG of its points and links (data-node-id is 1-based).
    svg = [f'<line x1="0" y1="0" x2="0" y2="0" data-type="edge" data-node-from="{a + 1}" data-node-to="{b + 1}" />'
           for a, b in _links(skeleton, keep)]
    svg += [f'<circle r="0.75" cx="0" cy="0" data-type="element node" data-element-id="{n + 1}" '
            f'data-node-id="{n + 1}" data-label-name="{cvat_name(skeleton.keypoints[k])}" />'
            for n, k in enumerate(keep)]
    _text(human, "svg", "".join(svg))
    for k in keep:
        point = ET.SubElement(labels, "label")
        _text(point, "name", cvat_name(skeleton.keypoints[k]))
        _text(point, "color", skeleton.colours[k] if k < len(skeleton.colours) else "#66ff66")
        _text(point, "type", "points")
        ET.SubElement(point, "attributes")
        _text(point, "parent", CATEGORY)


def cvat_xml(datasets: dict[str, DatasetRecord], keep: list[int]) -> bytes:
    first = next(iter(datasets.values()))
    skeleton = first.skeleton
    root = ET.Element("annotations")
    _text(root, "version", "1.1")
    # A CVAT project export: the labels on the project, one task per subset (<subset> names it).
    meta = ET.SubElement(root, "meta")
    project = ET.SubElement(meta, "project")
    _text(project, "name", str(first.info.get("project", "posereview")))
    _labels(project, skeleton, keep, first.form_labels)
    tasks = ET.SubElement(project, "tasks")
    for task_id, (subset, ds) in enumerate(datasets.items(), start=1):
        task = ET.SubElement(tasks, "task")
        _text(task, "id", str(task_id))
        _text(task, "name", f"{first.info.get('project', 'posereview')} {subset}")
        _text(task, "size", str(len(ds.images)))
        _text(task, "mode", "annotation")
        _text(task, "subset", _subset_name(subset))
    names = [cvat_name(skeleton.keypoints[k]) for k in keep]
    image_index = 0
    for task_id, (subset, ds) in enumerate(datasets.items(), start=1):
        by_image: dict[int, list[AnnotationRecord]] = {}
        for ann in ds.annotations:
            by_image.setdefault(ann.image_id, []).append(ann)
        for im in ds.images:
            image = ET.SubElement(root, "image", {"id": str(image_index), "name": im.file_name,
                                                  "subset": _subset_name(subset), "task_id": str(task_id),
                                                  "width": str(im.width), "height": str(im.height)})
            image_index += 1
            for ann in by_image.get(im.id, []):
                kp = _points(ann)
                kp = kp + [0, 0, 0] * (skeleton.num_keypoints - len(kp) // 3)
                shape = ET.SubElement(image, "skeleton", {"label": CATEGORY, "source": "manual", "z_order": "0"})
                for name, k in zip(names, keep):
                    x, y, v = kp[3 * k:3 * k + 3]
                    ET.SubElement(shape, "points", {
                        "label": name, "source": "manual", "outside": "1" if v == 0 else "0",
                        "occluded": "1" if v == 1 else "0", "points": f"{float(x):.2f},{float(y):.2f}"})
                if ann.form_label:  # none: CVAT takes the attribute's default
                    _text(shape, "attribute", ann.form_label).set("name", FORM_LABEL)
    ET.indent(root)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode").encode()


def write_cvat_xml(datasets: dict[str, DatasetRecord], out_path, include_images: bool = False) -> dict:
    """A zip as CVAT exports one: annotations.xml (+ images/<Subset>/)."""
    out_path = Path(out_path)
    keep = written_keypoints(datasets)
    copied = 0
    with atomic_zip(out_path) as zf:
        zf.writestr("annotations.xml", cvat_xml(datasets, keep))
        for subset, ds in datasets.items():
            zf.writestr(f"images/{_subset_name(subset)}/", b"")
            if include_images:
                copied += add_images(zf, ds, f"images/{_subset_name(subset)}/")
    return {"keypoints": len(keep), "images_copied": copied, "bytes": out_path.stat().st_size}
