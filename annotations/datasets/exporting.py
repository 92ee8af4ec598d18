"""Exports: build plain dataset records from the database and hand them to a registered format.

Only annotated frames are exported (the unlabelled pool never appears as labelled data).
Image ids are frame ids and annotation ids are annotation ids: stable across exports.
Points no person has confirmed (keypoint state heuristic, predicted, or unverified, which is what
interpolation writes) are exported as unlabelled (0, 0, 0) unless the caller asks for them
(`include_unconfirmed`): training code must not learn guesses as truth.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import orjson
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from annotations.core.atomic import atomic_path, atomic_zip
from annotations.core.errors import InputError
from annotations.core.storage import STORAGE_PREFIX, cache_root, is_local, storage_path, unreadable_frames_message
from annotations.datasets import coco_stream
from annotations.datasets.formats import get_format
from annotations.datasets.formats.coco import IMAGE_READERS
from annotations.datasets.formats.records import AnnotationRecord, DatasetRecord, ImageRecord
from annotations.models import Annotation, ConsensusFrame, ConsensusVote, Frame, GoldFrame, SplitVersion

SUBSET_CHOICES = ("train", "val", "test", "all")


def resolve_version(project, version_number: int | None) -> SplitVersion | None:
    if version_number is None:
        return SplitVersion.current(project)
    try:
        return SplitVersion.objects.get(project=project, number=version_number)
    except SplitVersion.DoesNotExist:
        raise InputError(f"project {project.slug} has no split version {version_number}") from None


def _in_subset(queryset, clip_path: str, project, subset: str, version: SplitVersion | None):
    """Restrict frames or annotations (whose clip is reached by `clip_path`) to one subset."""
    if subset == "all":
        return queryset
    if subset not in SUBSET_CHOICES:
        raise InputError(f"unknown subset {subset!r}; choose one of {SUBSET_CHOICES}")
    if version is None:
        raise InputError(f"project {project.slug} has no split yet: run a split first")
    return queryset.filter(**{f"{clip_path}__split_assignments__version": version,
                              f"{clip_path}__split_assignments__subset": subset})


def _frames_query(project, subset: str, version: SplitVersion | None):
    """Annotated frames of a subset (a semi-join: no DISTINCT over 100k rows)."""
    annotated = Frame.objects.filter(project=project).filter(Exists(Annotation.objects.filter(frame=OuterRef("pk"))))
    return _in_subset(annotated, "clip", project, subset, version)


def _open_stored(path: str):
    name = path[len(STORAGE_PREFIX):]
    return default_storage.open(name, "rb") if default_storage.exists(name) else None


IMAGE_READERS[STORAGE_PREFIX] = _open_stored


def _image_path(image_name: str, source_path: str) -> str | None:
    """A frame's pixels: a local path, or "storage:<name>" on an object store (read through the storage)."""
    if image_name:
        return storage_path(image_name) or STORAGE_PREFIX + image_name
    return source_path or None


def build_dataset(project, subset: str = "all", version: SplitVersion | None = None,
                  verified_only: bool = False, raw_json: bool = False) -> DatasetRecord:
    """DatasetRecord of the annotated frames of one subset ("all": every annotated frame).

    verified_only: keypoints a person has not verified are written as unlabelled (0, 0, 0) (what every
    export does unless asked for unconfirmed points; a merge keeps every point with its state).
    raw_json: annotations carry their JSON text (AnnotationRecord.raw) instead of lists, for the COCO
    writer; other writers need lists.
    """
    skeleton = project.get_skeleton()
    K = skeleton.num_keypoints
    frames = _frames_query(project, subset, version)
    subset_of = {}
    if version is not None:
        subset_of = dict(version.assignments.values_list("clip_id", "subset"))
    attributes = image_attributes(project)
    images = [
        ImageRecord(id=pk, file_name=name, width=width, height=height, clip_id=clip_key, frame_index=index,
                    split=subset_of.get(clip_id, ""), path=_image_path(image, source_path),
                    attributes=attributes.get(pk, {}))
        for pk, name, width, height, clip_id, clip_key, index, image, source_path in frames.order_by("id").values_list(
            "id", "file_name", "width", "height", "clip_id", "clip__key", "frame_index", "image", "source_path")
    ]
    annotations_query = _in_subset(Annotation.objects.filter(project=project), "frame__clip", project, subset,
                                   version)
    rows = annotations_query.order_by("id").values_list("id", "frame_id", "keypoints", "keypoint_states", "bbox",
                                                        "area", "form_label__name", "source", "num_keypoints")
    annotations = []
    for ann_id, frame_id, kp, states, bbox, area, label, source, labelled in rows:
        if len(kp) < 3 * K:  # skeleton gained keypoints after this annotation was made
            states = states + ["unverified"] * (K - len(kp) // 3)
            kp = kp + [0, 0, 0] * (K - len(kp) // 3)
            labelled = None
        if verified_only and any(s != "verified" for s in states):
            kp, labelled = _confirmed_only(kp, states), None
        if raw_json:  # pre-serialised parts for the COCO text writer
            annotations.append(AnnotationRecord(
                ann_id, frame_id, [], [], [], area, label, source,
                labelled=sum(1 for v in kp[2::3] if v > 0) if labelled is None else labelled,
                raw={"keypoints": orjson.dumps(kp).decode(), "keypoint_states": orjson.dumps(states).decode(),
                     "bbox": orjson.dumps(bbox).decode()}))
            continue
        annotations.append(AnnotationRecord(ann_id, frame_id, kp, states, bbox, area, label, source))
    labels = list(project.form_labels.values_list("name", flat=True))
    return DatasetRecord(skeleton, labels, images, annotations, _info(project, subset, version))


def image_attributes(project) -> dict[int, dict]:
    """{frame id: COCO image attributes}: {"gold": true} on gold frames, {"consensus": {people, status,
    mean_oks, form_agreement}} on frames whose consensus is finished."""
    out: dict[int, dict] = {f: {"gold": True} for f in GoldFrame.objects.filter(project=project, active=True)
                            .values_list("frame_id", flat=True)}
    finished = (ConsensusFrame.objects.filter(project=project).exclude(status=ConsensusFrame.Status.COLLECTING)
                .annotate(people=Count("votes", filter=Q(votes__status=ConsensusVote.Status.SUBMITTED)))
                .values_list("frame_id", "people", "status", "mean_oks", "form_agreement"))
    for frame_id, people, status, mean_oks, agreement in finished:
        out.setdefault(frame_id, {})["consensus"] = {"people": people, "status": status, "mean_oks": mean_oks,
                                                     "form_agreement": agreement}
    return out


def vote_texts(project, frames, verified_only: bool):
    """The individual annotations behind the consensus of `frames` (a frames queryset) as COCO annotation
    JSON texts: id = the vote's draft id (from the annotation sequence, so never an annotation's),
    attributes carry `consensus_vote: true` and the person."""
    votes = (ConsensusVote.objects.filter(project=project, status=ConsensusVote.Status.SUBMITTED,
                                          frame__in=frames.values("id"))
             .exclude(consensus__status=ConsensusFrame.Status.COLLECTING).select_related("user").order_by("id"))
    K = project.num_keypoints
    for v in votes:
        kp = list(v.keypoints) + [0, 0, 0] * (K - len(v.keypoints) // 3)
        states = list(v.keypoint_states) + ["unverified"] * (K - len(v.keypoint_states))
        if verified_only:
            kp = _confirmed_only(kp, states)
        yield orjson.dumps({"id": v.draft_id, "image_id": v.frame_id, "category_id": 1, "iscrowd": 0,
                            "keypoints": kp, "num_keypoints": sum(1 for x in kp[2::3] if x > 0),
                            "bbox": v.bbox or [0.0, 0.0, 0.0, 0.0], "area": float(v.area), "segmentation": [],
                            "attributes": {"form_label": v.form_label or None, "keypoint_states": states,
                                           "verified": [s == "verified" for s in states], "source": "consensus_vote",
                                           "consensus_vote": True, "user": v.user.get_username()}}).decode()


def _info(project, subset: str, version: SplitVersion | None) -> dict:
    return {
        "project": project.slug, "description": project.name, "subset": subset,
        "split_version": version.number if version else None,
        "date_created": timezone.now().isoformat(), "exported_by": "PoseReview",
    }


def stream_coco(project, subset: str, version: SplitVersion | None, fh, verified_only: bool = True,
                individual: bool = False) -> dict:
    """Write the subset's COCO JSON (what to_coco_dict(build_dataset(...)) holds) to the binary file `fh`,
    streamed from server-side cursors in bounded memory. Returns {"images": n, "annotations": n}."""
    frames = _frames_query(project, subset, version)
    annotations = _in_subset(Annotation.objects.filter(project=project), "frame__clip", project, subset, version)
    return coco_stream.write_coco(fh, skeleton=project.get_skeleton(),
                                  form_labels=list(project.form_labels.values_list("name", flat=True)),
                                  info=_info(project, subset, version), frames=frames, annotations=annotations,
                                  split_version=version.pk if version else None, verified_only=verified_only,
                                  attributes=image_attributes(project),
                                  extra=vote_texts(project, frames, verified_only) if individual else ())


def _confirmed_only(kp: list, states: list) -> list:
    """kp with every point whose state is not "verified" written as unlabelled (0, 0, 0)."""
    return [0 if states[i // 3] != "verified" else v for i, v in enumerate(kp)]


def _check_readable(project, datasets) -> None:
    """Images to copy into an export must be readable here: an export never leaves a frame out silently."""
    unreadable = [(im.id, im.file_name, im.path) for ds in datasets for im in ds.images
                  if im.path and not im.path.startswith(STORAGE_PREFIX) and not os.access(im.path, os.R_OK)]
    if unreadable:
        raise InputError(unreadable_frames_message(unreadable, project.slug))


def export(project, fmt: str, subsets: list[str], *, version_number=None, include_images=False,
           include_unconfirmed=False, out_path=None, job=None, verified_only=None) -> tuple[Path, dict]:
    """Write an export file; returns (path, summary). A temporary file is renamed into place.

    include_unconfirmed: write heuristic, predicted and unverified points as they are stored (v = 1 or 2)
    instead of unlabelled. verified_only (older callers) is the default and wins over it when true.
    """
    if verified_only:
        include_unconfirmed = False
    try:
        writer = get_format(fmt)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from exc
    if not subsets:
        raise InputError("choose at least one subset")
    version = resolve_version(project, version_number)
    if fmt == "coco" and not include_images:
        return _export_coco(project, subsets, version, not include_unconfirmed, out_path, job)
    datasets = {}
    for n, subset in enumerate(subsets):
        datasets[subset] = build_dataset(project, subset, version, verified_only=not include_unconfirmed,
                                         raw_json=writer.raw_json)
        if job:
            job.report(0.1 + 0.6 * (n + 1) / len(subsets), f"collected {subset}")
    if include_images:
        _check_readable(project, datasets.values())
    if out_path is None:
        fd, tmp = tempfile.mkstemp(prefix="export-", suffix=writer.extension)
        os.close(fd)
        out_path = tmp
    extension = ".zip" if (fmt == "coco" and (include_images or len(subsets) > 1)) else writer.extension
    out_path = Path(out_path)
    summary = writer.write(datasets, out_path, include_images)
    summary.update({"format": fmt, "subsets": subsets, "extension": extension,
                    "split_version": version.number if version else None,
                    "include_unconfirmed": bool(include_unconfirmed),
                    "counts": {s: {"images": len(d.images), "annotations": len(d.annotations)}
                               for s, d in datasets.items()}})
    return out_path, summary


def _export_coco(project, subsets: list[str], version, verified_only: bool, out_path, job) -> tuple[Path, dict]:
    """COCO JSON (one subset) or a zip of annotations/<subset>.json, streamed from the database."""
    for subset in subsets:
        _frames_query(project, subset, version)  # validates every subset before any work
    if out_path is None:
        fd, tmp = tempfile.mkstemp(prefix="export-", suffix=".json")
        os.close(fd)
        out_path = tmp
    out_path, counts = Path(out_path), {}
    if len(subsets) == 1:
        with atomic_path(out_path) as tmp, open(tmp, "wb", buffering=1 << 20) as fh:
            counts[subsets[0]] = stream_coco(project, subsets[0], version, fh, verified_only)
    else:
        with atomic_zip(out_path) as zf:
            for n, subset in enumerate(subsets):
                with zf.open(f"annotations/{subset}.json", "w", force_zip64=True) as fh:
                    counts[subset] = stream_coco(project, subset, version, fh, verified_only)
                if job:
                    job.report(0.1 + 0.6 * (n + 1) / len(subsets), f"collected {subset}")
    summary = {"files": len(subsets), "bytes": out_path.stat().st_size,
               "images": sum(c["images"] for c in counts.values()),
               "annotations": sum(c["annotations"] for c in counts.values()),
               "format": "coco", "subsets": subsets, "extension": ".json" if len(subsets) == 1 else ".zip",
               "split_version": version.number if version else None, "include_unconfirmed": not verified_only,
               "counts": counts}
    if len(subsets) > 1:
        summary["images_copied"] = 0
    return out_path, summary


def save_job_file(job, path: Path, name: str) -> None:
    """Move a produced file into media storage as the job's result file."""
    with open(path, "rb") as fh:
        job.result_file.save(f"{job.pk}/{name}", File(fh), save=False)
    path.unlink(missing_ok=True)


# -- direct COCO download for training scripts -------------------------------------------------

def coco_etag(project, subset: str, version: SplitVersion | None, verified_only: bool = False,
              individual: bool = False) -> str:
    """Changes whenever anything that the subset's COCO JSON shows could have changed."""
    stats = Annotation.objects.filter(project=project).aggregate(n=Count("id"), last=Max("updated_at"), top=Max("id"))
    frames = Frame.objects.filter(project=project).aggregate(n=Count("id"), top=Max("id"))
    labels = list(project.form_labels.values_list("id", "name"))
    attributes = sorted(image_attributes(project).items())
    key = json.dumps([project.pk, subset, version.pk if version else None, verified_only, project.skeleton,
                      stats["n"], str(stats["last"]), stats["top"], frames["n"], frames["top"], labels, attributes,
                      individual],
                     sort_keys=True, default=str)
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def cached_coco_file(project, subset: str, version_number=None, include_unconfirmed=False,
                     individual=False) -> tuple[Path, str]:
    """(path of the subset's COCO JSON, its ETag), building it once per ETag. Unconfirmed points are
    unlabelled unless include_unconfirmed."""
    verified_only = not include_unconfirmed
    version = resolve_version(project, version_number)
    _frames_query(project, subset, version)  # validates subset/version before any work
    etag = coco_etag(project, subset, version, verified_only, individual)
    folder = (Path(settings.MEDIA_ROOT) if is_local() else cache_root()) / "exports" / "cache" / project.slug
    variant = f"{subset}.{'verified' if verified_only else 'all-points'}{'.individual' if individual else ''}"
    path = folder / f"{variant}.{etag}.json"
    if not path.exists():
        for old in folder.glob(f"{variant}.*.json"):
            old.unlink(missing_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb", buffering=1 << 20) as fh:
            stream_coco(project, subset, version, fh, verified_only, individual)
    return path, etag
