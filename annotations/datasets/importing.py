"""Import COCO keypoint files (CVAT "COCO Keypoints 1.0", plain COCO, CVAT zips) into a project.

One import is one transaction: it either lands whole or leaves the database as it was.
Rows are written with PostgreSQL COPY, so 100k annotated frames import in seconds.
Re-importing a newer export of the same task updates in place by file name: unchanged
annotations stay untouched, changed ones get a Revision, annotations a person already
corrected here are never overwritten (a conflict is recorded and reported instead).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile

import orjson
from django.core.files.storage import default_storage
from django.db import transaction

from annotations.core.copying import ANALYZE_AFTER_ROWS, analyze
from annotations.core.errors import InputError
from annotations.core.images import IMAGE_EXTENSIONS, BadImage, check_image, list_image_files
from annotations.core.storage import in_place_refusal
from annotations.datasets.formats.coco import parse_coco
from annotations.datasets.import_annotations import AnnotationImport
from annotations.datasets.import_context import ImportContext
from annotations.datasets.import_frames import FrameImport
from annotations.datasets.zips import extract_safely
from annotations.models import Annotation, Clip, Frame, FrameStatus, Project
from mlcore.spine import fill_spine

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 1024**3
LISTED_IN_RESULT = 200  # names listed in a job result; counts are always complete


def load_json_file(path: str | os.PathLike) -> dict:
    """Parse a JSON file, turning every failure into an InputError that names the file."""
    if not isinstance(path, (str, os.PathLike)):  # an int would open (and close) a file descriptor
        raise InputError(f"an annotation file must be named by a path, not {type(path).__name__} {path!r}")
    name = os.path.basename(str(path))
    if os.path.isdir(path):
        raise InputError(f"{name}: is a folder, not an annotation file")
    try:
        size = os.path.getsize(path)
        if size > MAX_JSON_BYTES:
            raise InputError(f"{name}: {size:,} bytes exceeds the {MAX_JSON_BYTES:,}-byte limit for annotation files")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_JSON_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from exc
    if len(raw) > MAX_JSON_BYTES:
        raise InputError(f"{name}: exceeds the {MAX_JSON_BYTES:,}-byte limit for annotation files")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass  # orjson refuses NaN/Infinity literals, which Python's json reads: the parser reports those
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{name}: malformed JSON ({exc})") from exc
    except RecursionError as exc:
        raise InputError(f"{name}: malformed JSON (nested too deeply)") from exc


def import_coco_file(project: Project, json_path, *, images_dir=None, copy_images=False, form_label=None,
                     user=None, job=None, source_name=None) -> dict:
    """Import one annotation file, with images from a server folder (in place or copied)."""
    loaded = {"data": load_json_file(json_path)}
    try:
        image_files = list_image_files(images_dir) if images_dir else {}
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from exc
    # Handed over, not kept here: import_coco_data frees the parsed JSON (~5x the file) once it is read.
    return import_coco_data(project, loaded.pop("data"), source_name=source_name or os.path.basename(str(json_path)),
                            image_files=image_files, copy_images=copy_images, form_label=form_label,
                            user=user, job=job)


def _subset_of(json_name: str) -> str:
    """CVAT's subset of an annotation JSON: `person_keypoints_Train.json` -> `Train`."""
    stem = json_name.rsplit(".", 1)[0]
    return stem[len("person_keypoints_"):] if stem.startswith("person_keypoints_") else stem


def _images_in(files, tmp, label: str, folder: str | None) -> dict[str, str]:
    """{file name: path} of the zip's images, only those under images/<folder>/ when folder is given."""
    image_files: dict[str, str] = {}
    for path in files:
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        if folder is not None and path.parent.name.lower() != folder.lower():
            continue
        if path.name in image_files:
            raise InputError(f"{label}: two images named {path.name!r} in the zip")
        image_files[path.name] = str(path)
    return image_files


def _combined(label: str, results: list[dict]) -> dict:
    """One job result for several imported subsets: counts summed, lists joined, each subset's own result kept."""
    out: dict = {}
    for result in results:
        for key, value in result.items():
            if isinstance(value, bool) or not isinstance(value, (int, float, list)):
                out.setdefault(key, value)
            elif key in out:
                out[key] = out[key] + value
            else:
                out[key] = value
    out["source"] = label
    out["sources"] = results
    return out


def import_cvat_zip(project: Project, zip_path, *, form_label=None, user=None, job=None, source_name=None) -> dict:
    """Import a CVAT export zip (annotation JSONs plus images); images are copied into storage.

    A zip with several subsets (CVAT's `annotations/person_keypoints_<Subset>.json` with images in
    `images/<Subset>/`) imports each subset as its own source, `<zip name>/<Subset>`, all in one transaction.
    """
    label = source_name or os.path.basename(str(zip_path))
    with tempfile.TemporaryDirectory(prefix="posereview-zip-") as tmp:
        files = extract_safely(zip_path, tmp, label)
        jsons = sorted((p for p in files if p.suffix.lower() == ".json"), key=lambda p: p.name)
        if not jsons:
            raise InputError(f"{label}: no annotation JSON in the zip")
        subsets = [_subset_of(p.name) for p in jsons]
        if len(set(subsets)) != len(subsets):
            raise InputError(f"{label}: two annotation JSONs for the same subset: {[p.name for p in jsons]}")
        others = [str(p.relative_to(tmp)) for p in files
                  if p.suffix.lower() not in IMAGE_EXTENSIONS and p not in jsons]
        if len(jsons) == 1:
            result = import_coco_data(project, load_json_file(jsons[0]), source_name=label,
                                      image_files=_images_in(files, tmp, label, None), copy_images=True,
                                      form_label=form_label, user=user, job=job)
        else:
            folders = {p.parent.name.lower() for p in files if p.suffix.lower() in IMAGE_EXTENSIONS}
            results = []
            with transaction.atomic():
                for path, subset in zip(jsons, subsets):
                    images = _images_in(files, tmp, label, subset if subset.lower() in folders else None)
                    name = f"{label[:200]}/{subset[:50]}"
                    results.append(import_coco_data(project, load_json_file(path), source_name=name,
                                                    image_files=images, copy_images=True, form_label=form_label,
                                                    user=user, job=job))
            result = _combined(label, results)
    if others:
        result["problems"] = result["problems"] + [
            {"file": label, "id": name, "reason": "not an image or annotation file; skipped",
             "action": "skipped"} for name in others
        ]
    return result


def import_coco_data(project: Project, data, *, source_name: str, image_files: dict[str, str],
                     copy_images: bool = False, form_label: str | None = None, user=None, job=None) -> dict:
    """Import a parsed COCO dict. image_files: {file name: path} of the images at hand."""
    if image_files and not copy_images and (refusal := in_place_refusal()):
        raise InputError(f"{source_name}: {refusal}")
    skeleton = project.get_skeleton()
    labels = {fl.name: fl for fl in project.form_labels.all()}
    if form_label and form_label not in labels:
        raise InputError(f"unknown form label {form_label!r}; this project has {sorted(labels)}")
    try:
        parsed = parse_coco(data, skeleton, source_name)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    del data  # everything needed is in `parsed`: the JSON tree goes before the rows are built
    report = job.report if job else (lambda *a, **k: None)
    report(0.1, f"parsed {len(parsed.images)} images, {len(parsed.annotations)} annotations")
    problems = [p.as_dict() for p in parsed.problems]

    listed = [im["file_name"] for im in parsed.images]
    listed_set = set(listed)
    missing = sorted(n for n in listed if n not in image_files)
    unlisted = sorted(n for n in image_files if n not in listed_set)

    # Sizes the file does not give come from the image header; without either the frame is skipped.
    images = []
    for im in parsed.images:
        if not im["width"] or not im["height"]:
            path = image_files.get(im["file_name"])
            try:
                im["width"], im["height"] = check_image(path) if path else (None, None)
            except BadImage as exc:
                problems.append({"file": source_name, "id": im["id"], "reason": f"{im['file_name']}: {exc}",
                                 "action": "skipped"})
                continue
            if not im["width"]:
                problems.append({"file": source_name, "id": im["id"],
                                 "reason": f"{im['file_name']}: no size in the file and no image to read it from",
                                 "action": "skipped"})
                continue
        images.append(im)

    # Points the file lacks: spine points by the heuristic (marked heuristic), the rest unlabelled.
    filled, heuristic = fill_spine(parsed.keypoints, skeleton)
    filled[parsed.present] = parsed.keypoints[parsed.present]
    heuristic &= ~parsed.present

    with transaction.atomic():
        ctx = ImportContext(project, source_name, labels, form_label, user, job)
        stored: list[str] = []
        try:
            result = _write(ctx, images, image_files, parsed, filled, heuristic, copy_images, stored, problems)
        except BaseException:
            for name in stored:  # the rows roll back; the copied files must go too
                default_storage.delete(name)
            raise
    result.update({
        "source": source_name,
        "missing_images": missing[:LISTED_IN_RESULT], "missing_images_count": len(missing),
        "unlisted_images": unlisted[:LISTED_IN_RESULT], "unlisted_images_count": len(unlisted),
        "problems": problems, "unmapped_keypoints": parsed.unmapped_keypoints,
    })
    report(1.0, _summary_line(result))
    return result


def _summary_line(r: dict) -> str:
    return (f"{r['frames']} frames ({r['annotated']} annotated) in {r['clips']} clips; {r['new_frames']} new frames, "
            f"{r['new_annotations']} new annotations, {r['revisions']} updated, {len(r['conflicts'])} conflicts, "
            f"{r['missing_images_count']} missing and {r['unlisted_images_count']} unlisted images, "
            f"{sum(p.get('action') == 'skipped' for p in r['problems'])} records skipped, "
            f"{sum(p.get('action') == 'kept' for p in r['problems'])} kept with a warning")


def _write(ctx: ImportContext, images, image_files, parsed, filled, heuristic, copy_images, stored, problems) -> dict:
    """Frames, then annotations, then the pool status of frames that gained their first annotation."""
    annotated_ids = {a["image_id"] for a in parsed.annotations}
    frames = FrameImport(ctx, stored, problems)
    id_to_frame, new_frames = frames.write(images, image_files, annotated_ids, copy_images)
    ctx.report(0.5, "writing annotations")
    counts = AnnotationImport(ctx).write(parsed, filled, heuristic, id_to_frame, problems)
    if new_frames + counts["new_annotations"] >= ANALYZE_AFTER_ROWS:
        analyze(Clip, Frame, Annotation)
    Frame.objects.filter(project=ctx.project, status=FrameStatus.UNLABELLED,
                         annotations__isnull=False).update(status=FrameStatus.ANNOTATED)
    return {
        "frames": len(images),
        "annotated": len(annotated_ids & set(id_to_frame)),
        "clips": len({frames.clip_of[im["id"]][0] for im in images}),
        "new_frames": new_frames,
        **counts,
    }
