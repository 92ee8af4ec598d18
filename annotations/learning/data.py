"""Database rows -> the plain COCO dicts and image folders mlcore works on.

mlcore finds a frame's pixels as `images_dir/file_name`; `linked_images` builds such a folder of
symbolic links (copies for storages without local paths) so frames referenced in place, copied
into media storage, or extracted from videos all look alike to it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from django.core.files.storage import default_storage

from annotations.core.errors import InputError
from annotations.core.storage import local_copy, unreadable_frames_message
from annotations.datasets import exporting, splitting
from annotations.datasets.formats.coco import to_coco_dict
from annotations.models import Annotation, ClipSplit, Frame, FrameStatus, SplitVersion
from mlcore.skeletons import Skeleton

# Frames whose annotation a reviewer sent back are not training material until fixed.
NOT_TRAINABLE = (FrameStatus.REJECTED,)
POOL_STATUSES = (FrameStatus.UNLABELLED, FrameStatus.PREANNOTATED)


def image_record(frame_row: dict) -> dict:
    return {"id": frame_row["id"], "file_name": frame_row["file_name"], "width": frame_row["width"],
            "height": frame_row["height"], "clip_id": frame_row["clip__key"], "frame_index": frame_row["frame_index"]}


FRAME_FIELDS = ("id", "file_name", "width", "height", "clip__key", "frame_index", "image", "source_path", "status")


def frames_coco(project, frame_ids=None, *, with_annotations: bool = True) -> dict:
    """COCO dict of frames (all of the project's, or `frame_ids`) in the project's skeleton.

    Annotations (the human ones, every point as stored) come along when `with_annotations`, so a
    prediction is made in the person's box and can be compared with their label.
    Image records carry clip_id and frame_index (temporal signals need both).
    """
    skeleton = project.get_skeleton()
    frames = Frame.objects.filter(project=project)
    if frame_ids is not None:
        frames = frames.filter(pk__in=list(frame_ids))
    rows = list(frames.order_by("clip__key", "frame_index", "id").values(*FRAME_FIELDS))
    data: dict[str, Any] = {"categories": [skeleton.coco_category()], "images": [image_record(r) for r in rows],
                            "annotations": [],
            "form_labels": list(project.form_labels.values_list("name", flat=True))}
    if with_annotations:
        ids = [r["id"] for r in rows]
        K = skeleton.num_keypoints
        for ann in (Annotation.objects.filter(project=project, frame_id__in=ids).select_related("form_label")
                    .order_by("id")):
            kp, _states = ann.padded_keypoints(K)
            if not any(kp[2::3]) or ann.area <= 0:
                continue
            data["annotations"].append({"id": ann.pk, "image_id": ann.frame_id, "category_id": 1, "iscrowd": 0,
                                        "keypoints": kp, "num_keypoints": ann.num_keypoints, "bbox": ann.bbox,
                                        "area": ann.area,
                                        "attributes": {"form_label": label.name
                                                       if (label := ann.form_label) is not None else None}})
    data["_paths"] = {r["id"]: _path_of(r["image"], r["source_path"]) for r in rows}
    return data


def _path_of(image_name: str, source_path: str) -> str | None:
    if image_name:
        try:
            return default_storage.path(image_name)
        except NotImplementedError:
            return "storage:" + image_name
    return source_path or None


def subset_coco(project, version: SplitVersion | None, subset: str) -> dict:
    """The verified training material of one subset: unverified points unlabelled, rejected frames and
    annotations without a labelled point left out. `_paths` maps image ids to pixel files."""
    ds = exporting.build_dataset(project, subset, version, verified_only=True)
    data = to_coco_dict(ds)
    bad = set(Frame.objects.filter(project=project, status__in=NOT_TRAINABLE).values_list("id", flat=True))
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] not in bad and any(a["keypoints"][2::3])
                           and a["area"] > 0]
    keep = {a["image_id"] for a in data["annotations"]}
    data["images"] = [im for im in data["images"] if im["id"] in keep]
    data["_paths"] = {r["id"]: _path_of(r["image"], r["source_path"])
                      for r in Frame.objects.filter(pk__in=keep).values("id", "image", "source_path")}
    return data


def without_private(data: dict) -> dict:
    return {k: v for k, v in data.items() if not k.startswith("_")}


@contextmanager
def linked_images(*datasets: dict):
    """A temporary folder where every image of `datasets` is found under its file_name.

    Each entry is a symbolic link: to the file on disk, or for frames in an object store to the worker's
    cached copy (`storage.local_copy`), so a frame is downloaded once per worker, not once per job.
    A frame whose file this machine cannot read (referenced in place on another host, or its file
    gone) stops the job with an InputError naming the frames and the fix, before any work starts.
    """
    folder = Path(tempfile.mkdtemp(prefix="posereview-frames-"))
    unreadable: list[tuple[int, str, str]] = []
    try:
        for data in datasets:
            paths = data.get("_paths", {})
            for im in data["images"]:
                src = paths.get(im["id"])
                dst = folder / im["file_name"]
                if not src or dst.exists():
                    continue
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src.startswith("storage:"):
                    os.symlink(local_copy(src[len("storage:"):]), dst)
                elif os.access(src, os.R_OK):
                    os.symlink(src, dst)
                else:
                    unreadable.append((im["id"], im["file_name"], src))
        if unreadable:
            slug = Frame.objects.filter(pk=unreadable[0][0]).values_list("project__slug", flat=True).first()
            raise InputError(unreadable_frames_message(unreadable, slug or "<project>"))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def ensure_split(project, user=None) -> SplitVersion:
    """The split version to train on: the current one, or a new version (keeping every assignment)
    when annotated clips have appeared that it does not place."""
    current = SplitVersion.current(project)
    if current is not None:
        placed = set(ClipSplit.objects.filter(version=current).values_list("clip_id", flat=True))
        annotated = set(Annotation.objects.filter(project=project).values_list("frame__clip_id", flat=True))
        if annotated <= placed:
            return current
        return splitting.create_split(project, ratios=current.ratios, seed=current.seed, user=user)
    return splitting.create_split(project, user=user)


def learnable_skeleton(skeleton: Skeleton, data: dict, min_labels: int = 5) -> Skeleton:
    """The part of `skeleton` with at least `min_labels` labelled points in `data`.

    Points nobody has verified yet (spine points placed by the heuristic) would get zero loss
    weight anyway; leaving them out of the model lets predictions fill them by the heuristic
    (score 0) instead of showing an untrained network's guesses with a made-up confidence.
    """
    K = skeleton.num_keypoints
    counts = np.zeros(K, dtype=int)
    for a in data["annotations"]:
        v = np.asarray(a["keypoints"], dtype=float).reshape(-1, 3)[:K, 2]
        counts[: len(v)] += v > 0
    keep = [i for i in range(K) if counts[i] >= min_labels]
    if not keep:
        raise InputError(f"no keypoint has {min_labels} verified labels in the training frames yet")
    if len(keep) == K:
        return skeleton
    return sub_skeleton(skeleton, keep)


def sub_skeleton(skeleton: Skeleton, keep: list[int]) -> Skeleton:
    """The skeleton restricted to the keypoints `keep` (indices), links and flip pairs re-indexed."""
    new = {old: i for i, old in enumerate(keep)}
    return Skeleton(
        name=f"{skeleton.name}-learned{len(keep)}",
        keypoints=tuple(skeleton.keypoints[i] for i in keep),
        links=tuple((new[a], new[b]) for a, b in skeleton.links if a in new and b in new),
        flip_pairs=tuple((new[a], new[b]) for a, b in skeleton.flip_pairs if a in new and b in new),
        sigmas=tuple(skeleton.sigmas[i] for i in keep),
        colours=tuple(skeleton.colours[i] for i in keep),
    )


def clips_of(data: dict) -> list[str]:
    return sorted({im["clip_id"] for im in data["images"]})
