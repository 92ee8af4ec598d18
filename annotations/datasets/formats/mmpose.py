"""MMPose-ready export: COCO-style annotation files, a dataset metainfo file and a config stub.

MMPose reads `metainfo.py` (dataset_info with keypoint_info: name, id, color, type, swap;
skeleton_info; joint_weights; sigmas) and COCO JSON; PoseReview never imports MMPose.
"""

from __future__ import annotations

import pprint
from pathlib import Path

from annotations.core.atomic import atomic_zip
from annotations.datasets.formats.coco import add_images, coco_text
from annotations.datasets.formats.records import DatasetRecord
from mlcore.skeletons import Skeleton

LOWER_BODY = ("hip", "knee", "ankle", "heel", "toe")


def _rgb(hex_colour: str) -> list[int]:
    h = hex_colour.lstrip("#")
    return [int(h[i:i + 2], 16) for i in (0, 2, 4)]


def dataset_info(skeleton: Skeleton, dataset_name: str) -> dict:
    flip = skeleton.flip_index
    names = skeleton.keypoints
    keypoint_info = {
        i: {
            "name": name,
            "id": i,
            "color": _rgb(skeleton.colours[i]),
            "type": "lower" if any(part in name for part in LOWER_BODY) and name != "hip" else "upper",
            "swap": names[flip[i]] if flip[i] != i else "",
        }
        for i, name in enumerate(names)
    }
    skeleton_info = {
        i: {"link": (names[a], names[b]), "id": i, "color": _rgb(skeleton.colours[b])}
        for i, (a, b) in enumerate(skeleton.links)
    }
    return {
        "dataset_name": dataset_name,
        "paper_info": {},
        "keypoint_info": keypoint_info,
        "skeleton_info": skeleton_info,
        "joint_weights": [1.0] * len(names),
        "sigmas": list(skeleton.sigmas),
    }


def metainfo_file(skeleton: Skeleton, dataset_name: str) -> str:
    return "# MMPose dataset metainfo, written by PoseReview.\ndataset_info = " + pprint.pformat(
        dataset_info(skeleton, dataset_name), sort_dicts=False, width=110) + "\n"


def config_stub(subsets: list[str], skeleton: Skeleton) -> str:
    """A config fragment with the dataset wiring; the model part is the user's choice."""
    def loader(subset: str, mode: str) -> str:
        return (f"dict(\n    batch_size=32, num_workers=2,\n    dataset=dict(\n"
                f"        type=dataset_type, data_root=data_root,"
                f" data_mode='topdown',\n        metainfo=dict(from_file='metainfo.py'),\n"
                f"        ann_file='annotations/{subset}.json', data_prefix=dict(img='images/{subset}/'),\n"
                f"        test_mode={mode == 'test'}, pipeline={'train' if mode == 'train' else 'val'}_pipeline))")

    parts = [
        "# MMPose config stub written by PoseReview: dataset wiring only.",
        "# Inherit a model config (e.g. an RTMPose top-down config) and set its head's out_channels.",
        f"num_keypoints = {skeleton.num_keypoints}",
        "dataset_type = 'CocoDataset'",
        "data_root = './'",
        "train_pipeline = []  # fill in from the model config you inherit",
        "val_pipeline = []",
    ]
    if "train" in subsets:
        parts.append("train_dataloader = " + loader("train", "train"))
    for subset in ("val", "test"):
        if subset in subsets:
            parts.append(f"{subset}_dataloader = " + loader(subset, "test"))
            parts.append(f"{subset}_evaluator = dict(type='CocoMetric',"
                         f" ann_file=data_root + 'annotations/{subset}.json')")
    return "\n".join(parts) + "\n"


def write_export(datasets: dict[str, DatasetRecord], out_path, include_images: bool = False) -> dict:
    out_path = Path(out_path)
    skeleton = next(iter(datasets.values())).skeleton
    name = next(iter(datasets.values())).info.get("project", "posereview")
    copied = 0
    with atomic_zip(out_path) as zf:
        zf.writestr("metainfo.py", metainfo_file(skeleton, name))
        zf.writestr("config.py", config_stub(list(datasets), skeleton))
        for subset, ds in datasets.items():
            zf.writestr(f"annotations/{subset}.json", coco_text(ds))
            if include_images:
                copied += add_images(zf, ds, f"images/{subset}/")
    return {"subsets": list(datasets), "images_copied": copied, "bytes": out_path.stat().st_size}
