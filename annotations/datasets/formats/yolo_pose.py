"""Ultralytics YOLO-pose export: one label .txt per image plus a dataset YAML.

Label line: `class cx cy w h x1 y1 v1 ...`, all coordinates normalised to 0..1 by the
image size; unlabelled points are `0 0 0`. The YAML carries `kpt_shape: [K, 3]`,
`flip_idx` (the flip-pair permutation) so horizontal-flip augmentation swaps sides, and
`kpt_oks_sigmas` (the project's OKS sigmas, which Ultralytics' pose validator reads).

Ultralytics refuses a whole label file (and so drops the image) if any value is negative or
any keypoint coordinate exceeds 1. Annotators do place points just outside the frame, so the
box is clipped to the image and a labelled point outside the image is written as unlabelled
`0 0 0`, as Ultralytics itself does with points that augmentation moves out of the frame.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from annotations.core.atomic import atomic_zip
from annotations.datasets.formats.coco import add_images
from annotations.datasets.formats.records import DatasetRecord


def _clip(value: float, high: float) -> float:
    return min(max(float(value), 0.0), float(high))


def label_lines(ds: DatasetRecord, outside: list | None = None) -> dict[int, list[str]]:
    """{image id: label lines} for every image with at least one annotation.

    outside: if given, gets one (annotation id, keypoint index) per labelled point that lies
    outside its image and was therefore written as unlabelled.
    """
    sizes = {im.id: (im.width, im.height) for im in ds.images}
    lines: dict[int, list[str]] = {}
    for ann in ds.annotations:
        w_img, h_img = sizes[ann.image_id]
        x, y, w, h = ann.bbox
        x0, x1 = _clip(x, w_img), _clip(x + w, w_img)
        y0, y1 = _clip(y, h_img), _clip(y + h, h_img)
        values = [(x0 + x1) / 2 / w_img, (y0 + y1) / 2 / h_img, (x1 - x0) / w_img, (y1 - y0) / h_img]
        kp = ann.keypoints
        for i in range(0, len(kp), 3):
            px, py, v = float(kp[i]), float(kp[i + 1]), int(kp[i + 2])
            if v > 0 and 0 <= px <= w_img and 0 <= py <= h_img:
                values += [px / w_img, py / h_img, v]
            else:
                if v > 0 and outside is not None:
                    outside.append((ann.id, i // 3))
                values += [0.0, 0.0, 0]
        text = "0 " + " ".join(f"{v:.6f}" if isinstance(v, float) else str(v) for v in values)
        lines.setdefault(ann.image_id, []).append(text)
    return lines


def yaml_subsets(subsets: list[str]) -> tuple[dict[str, str], list[str]]:
    """{train/val/test key: exported subset it reads} and comments on the keys that borrow a subset.

    Ultralytics refuses a YAML without `train:` and `val:`: when the export lacks one, it points at an
    exported subset and a comment says so."""
    keys = {s: s for s in subsets if s in ("train", "val", "test")}
    first = subsets[0]
    notes = []
    if "train" not in keys:
        keys["train"] = first
        notes.append(f"# train: the exported '{first}' subset (no train subset was exported)")
    if "val" not in keys:
        keys["val"] = "test" if "test" in subsets else first
        notes.append(f"# val: the exported '{keys['val']}' subset (Ultralytics requires a val entry)")
    return {k: keys[k] for k in ("train", "val", "test") if k in keys}, notes


def dataset_yaml(skeleton, subsets: list[str]) -> str:
    """data.yaml without a `path` key: Ultralytics' check_det_dataset (ultralytics/data/utils.py) then
    takes the dataset root from the YAML's own folder (`Path(data["yaml_file"]).parent`), so the
    unzipped export works from any working directory; train/val/test are relative to that folder."""
    keys, notes = yaml_subsets(subsets)
    config = {
        **{key: f"images/{subset}" for key, subset in keys.items()},
        "kpt_shape": [skeleton.num_keypoints, 3],
        "flip_idx": skeleton.flip_index,
        "names": {0: "person"},
        "kpt_names": {0: list(skeleton.keypoints)},
        "kpt_oks_sigmas": [float(s) for s in skeleton.sigmas],
    }
    header = [
        "# Ultralytics YOLO-pose dataset written by PoseReview.",
        "# Unzip anywhere and pass this file: yolo pose train data=<unzipped folder>/data.yaml",
        "# No `path:` key on purpose: Ultralytics then resolves train/val/test against this file's folder,",
        "# from any working directory. Images go in images/<subset>/ (included when exported with images),",
        "# labels are in labels/<subset>/.",
        "# kpt_oks_sigmas: the project's OKS sigmas, one per keypoint; Ultralytics' pose validator reads them",
        "# (ultralytics 8.4: PoseValidator.init_metrics; older releases ignore it and use COCO's or 1/K).",
        *notes,
    ]
    return "\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False)


def write_export(datasets: dict[str, DatasetRecord], out_path, include_images: bool = False) -> dict:
    out_path = Path(out_path)
    n_labels = copied = 0
    outside: list = []
    with atomic_zip(out_path) as zf:
        skeleton = next(iter(datasets.values())).skeleton
        zf.writestr("data.yaml", dataset_yaml(skeleton, list(datasets)))
        for subset, ds in datasets.items():
            zf.writestr(f"images/{subset}/", b"")  # the folder exists after unzipping, images or not
            stems = {im.id: im.file_name.rsplit(".", 1)[0] for im in ds.images}
            for image_id, lines in label_lines(ds, outside).items():
                zf.writestr(f"labels/{subset}/{stems[image_id]}.txt", "\n".join(lines) + "\n")
                n_labels += 1
            if include_images:
                copied += add_images(zf, ds, f"images/{subset}/")
    return {"label_files": n_labels, "images_copied": copied, "bytes": out_path.stat().st_size,
            "points_outside_image": len(outside)}
