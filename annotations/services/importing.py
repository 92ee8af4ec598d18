"""Import COCO keypoint files (CVAT "COCO Keypoints 1.0", plain COCO, CVAT zips) into a project.

One import is one transaction: it either lands whole or leaves the database as it was.
Rows are written with PostgreSQL COPY, so 100k annotated frames import in seconds.
Re-importing a newer export of the same task updates in place by file name: unchanged
annotations stay untouched, changed ones get a Revision, annotations a person already
corrected here are never overwritten (a conflict is recorded and reported instead).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile

import numpy as np
import orjson
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from mlcore.spine import fill_spine

from ..formats.coco import parse_coco
from ..models import Annotation, Clip, Frame, FrameStatus, ImportSource, KeypointState, Project, Revision
from .copying import ANALYZE_AFTER_ROWS, NULL, analyze, copy_lines, copy_rows, escape
from .errors import InputError
from .images import IMAGE_EXTENSIONS, BadImage, check_image, list_image_files
from .zips import extract_safely

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 1024**3
LISTED_IN_RESULT = 200  # names listed in a job result; counts are always complete


def load_json_file(path: str | os.PathLike) -> dict:
    """Parse a JSON file, turning every failure into an InputError that names the file."""
    name = os.path.basename(str(path))
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror})") from exc
    if size > MAX_JSON_BYTES:
        raise InputError(f"{name}: {size:,} bytes exceeds the {MAX_JSON_BYTES:,}-byte limit for annotation files")
    with open(path, "rb") as fh:
        raw = fh.read()
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
    data = load_json_file(json_path)
    try:
        image_files = list_image_files(images_dir) if images_dir else {}
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from exc
    return import_coco_data(project, data, source_name=source_name or os.path.basename(str(json_path)),
                            image_files=image_files, copy_images=copy_images, form_label=form_label,
                            user=user, job=job)


def import_cvat_zip(project: Project, zip_path, *, form_label=None, user=None, job=None, source_name=None) -> dict:
    """Import a CVAT export zip (one annotation JSON plus images); images are copied into storage."""
    label = source_name or os.path.basename(str(zip_path))
    with tempfile.TemporaryDirectory(prefix="posereview-zip-") as tmp:
        files = extract_safely(zip_path, tmp, label)
        jsons = [p for p in files if p.suffix.lower() == ".json"]
        if len(jsons) != 1:
            raise InputError(f"{label}: expected exactly one annotation JSON in the zip, found {len(jsons)}")
        image_files, others = {}, []
        for path in files:
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                if path.name in image_files:
                    raise InputError(f"{label}: two images named {path.name!r} in the zip")
                image_files[path.name] = str(path)
            elif path != jsons[0]:
                others.append(str(path.relative_to(tmp)))
        result = import_coco_data(project, load_json_file(jsons[0]), source_name=label, image_files=image_files,
                                  copy_images=True, form_label=form_label, user=user, job=job)
    if others:
        result["problems"] = result["problems"] + [
            {"file": label, "id": name, "reason": "not an image or annotation file; skipped",
             "action": "skipped"} for name in others
        ]
    return result


def import_coco_data(project: Project, data, *, source_name: str, image_files: dict[str, str],
                     copy_images: bool = False, form_label: str | None = None, user=None, job=None) -> dict:
    """Import a parsed COCO dict. image_files: {file name: path} of the images at hand."""
    skeleton = project.get_skeleton()
    labels = {fl.name: fl for fl in project.form_labels.all()}
    if form_label and form_label not in labels:
        raise InputError(f"unknown form label {form_label!r}; this project has {sorted(labels)}")
    try:
        parsed = parse_coco(data, skeleton, source_name)
    except ValueError as exc:
        raise InputError(str(exc)) from exc
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
        writer = _ImportWriter(project, source_name, labels, form_label, user, job)
        stored = []
        try:
            result = writer.write(images, image_files, parsed, filled, heuristic, copy_images, stored, problems)
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


def _digests(keypoints: np.ndarray, present: np.ndarray, bboxes: np.ndarray, labels: list) -> list[str]:
    """md5 of each annotation's imported content (file points, box, label): equal digest = unchanged."""
    kp = np.where(present[..., None], np.round(keypoints, 2), -1.0)
    rows = np.concatenate([kp.reshape(len(kp), kp.shape[1] * 3), np.round(bboxes, 2).reshape(len(kp), 4)], axis=1)
    return [hashlib.md5(row.tobytes() + (label or "").encode()).hexdigest() for row, label in zip(rows, labels)]


def _json_rows(values: np.ndarray) -> list[str]:
    """(N, D) -> N JSON list texts, rounded to 0.01, whole numbers without ".0" (so v flags are integers).

    One orjson call over the whole array runs in C; a json.dumps per row costs seconds at 100k rows.
    The ".0" strip is lossless (2.0 and 2 are the same JSON number) and makes v integers.
    """
    if len(values) == 0:
        return []
    flat = np.ascontiguousarray(np.round(values, 2).reshape(len(values), -1) + 0.0)  # + 0.0 turns -0.0 into 0.0
    # Shortest float repr never ends in a zero other than ".0", so plain replaces are exact (and
    # much faster than a regex over 60 MB).
    text = orjson.dumps(flat, option=orjson.OPT_SERIALIZE_NUMPY).replace(b".0,", b",").replace(b".0]", b"]").decode()
    return ["[" + row + "]" for row in text[2:-2].split("],[")]


class _ImportWriter:
    """Writes one parsed file into the database (inside the caller's transaction)."""

    def __init__(self, project, source_name, labels, form_label, user, job):
        self.project, self.labels, self.user, self.job = project, labels, user, job
        self.default_label = labels.get(form_label) if form_label else None
        self.source, _ = ImportSource.objects.get_or_create(project=project, name=source_name)
        if self.default_label and self.source.form_label_id != self.default_label.pk:
            self.source.form_label = self.default_label
            self.source.save(update_fields=["form_label", "updated_at"])
        self.now = timezone.now()

    def report(self, progress, message):
        if self.job:
            self.job.report(progress, message)

    def write(self, images, image_files, parsed, filled, heuristic, copy_images, stored, problems) -> dict:
        project = self.project
        annotated_ids = {a["image_id"] for a in parsed.annotations}
        self.clip_of = {im["id"]: self._clip_of(im) for im in images}
        clip_ids = self._ensure_clips(images)
        existing = dict(Frame.objects.filter(project=project).values_list("file_name", "id"))
        new_images = [im for im in images if im["file_name"] not in existing]
        self.report(0.2, f"writing {len(new_images)} new frames")
        self._copy_frames(new_images, image_files, copy_images, clip_ids, annotated_ids, stored, problems)
        frame_ids = dict(Frame.objects.filter(project=project).values_list("file_name", "id"))
        id_to_frame = {im["id"]: frame_ids[im["file_name"]] for im in images}
        self._fill_images_of_existing(images, existing, image_files, copy_images, stored, problems)
        self.report(0.5, "writing annotations")
        counts = self._write_annotations(parsed, filled, heuristic, id_to_frame, problems)
        if len(new_images) + counts["new_annotations"] >= ANALYZE_AFTER_ROWS:
            analyze(Clip, Frame, Annotation)
        # Frames that gained their first annotation leave the unlabelled pool.
        Frame.objects.filter(project=project, status=FrameStatus.UNLABELLED,
                             annotations__isnull=False).update(status=FrameStatus.ANNOTATED)
        return {
            "frames": len(images),
            "annotated": len(annotated_ids & set(id_to_frame)),
            "clips": len({self.clip_of[im["id"]][0] for im in images}),
            "new_frames": len(new_images),
            **counts,
        }

    def _clip_of(self, im) -> tuple[str, int | None]:
        clip, frame_index = self.project.parse_file_name(im["file_name"])
        return (im["clip_id"] or clip), frame_index

    def _ensure_clips(self, images) -> dict[str, int]:
        """Clip key -> id for every clip the file's images name, creating the missing ones.

        New clips go in with COPY and their ids are read back in one query: a 100k-frame file
        brings ~17k clips, where bulk_create's INSERT ... RETURNING took about a second.
        """
        keys = {clip for clip, _ in self.clip_of.values()}
        clips = dict(Clip.objects.filter(project=self.project).values_list("key", "id"))
        new = sorted(keys - clips.keys())
        if new:
            now = timezone.now()
            copy_rows(Clip._meta.db_table, ["project_id", "key", "created_at"],
                      ((self.project.pk, key, now) for key in new))
            clips = dict(Clip.objects.filter(project=self.project).values_list("key", "id"))
        return clips

    def _store_image(self, path: str, file_name: str, stored: list) -> str:
        """Validate and copy one image into media storage; returns the storage name."""
        check_image(path)
        with open(path, "rb") as fh:
            name = default_storage.save(f"frames/{self.project.slug}/{file_name}", File(fh))
        stored.append(name)
        return name

    def _copy_frames(self, new_images, image_files, copy_images, clip_ids, annotated_ids, stored, problems):
        # Every NOT NULL column must be listed: Django's field defaults live in Python, not in the table.
        cols = ["project_id", "clip_id", "file_name", "image", "thumbnail", "source_path", "width", "height",
                "frame_index", "split", "status", "priority", "source_id", "source_image_id", "created_at"]

        def rows():
            for n, im in enumerate(new_images):
                path, image, source_path = image_files.get(im["file_name"]), "", ""
                if path and copy_images:
                    try:
                        image = self._store_image(path, im["file_name"], stored)
                    except BadImage as exc:
                        problems.append({"file": self.source.name, "id": im["id"],
                                         "reason": f"{im['file_name']}: {exc}; frame kept without its image",
                                         "action": "kept"})
                    if n % 50 == 0:
                        self.report(0.2 + 0.3 * n / max(len(new_images), 1), f"copied {n} images")
                elif path:
                    source_path = path
                clip, frame_index = self.clip_of[im["id"]]
                status = FrameStatus.ANNOTATED if im["id"] in annotated_ids else FrameStatus.UNLABELLED
                index_text = NULL if frame_index is None else frame_index
                yield (f"{self.project.pk}\t{clip_ids[clip]}\t{escape(im['file_name'])}\t{escape(image)}\t\t"
                       f"{escape(source_path)}\t{im['width']}\t{im['height']}\t{index_text}\t\t{status}\t0\t"
                       f"{self.source.pk}\t{im['id']}\t{now}\n")

        now = self.now.isoformat()
        copy_lines(Frame._meta.db_table, cols, rows())

    def _fill_images_of_existing(self, images, existing, image_files, copy_images, stored, problems):
        """Frames imported earlier without their image get it when a later import brings it."""
        names = [im["file_name"] for im in images if im["file_name"] in existing and im["file_name"] in image_files]
        for frame in Frame.objects.filter(project=self.project, file_name__in=names, image="", source_path=""):
            path = image_files[frame.file_name]
            try:
                if copy_images:
                    frame.image = self._store_image(path, frame.file_name, stored)
                else:
                    frame.source_path = path
            except BadImage as exc:
                problems.append({"file": self.source.name, "id": frame.file_name, "reason": str(exc),
                                 "action": "kept"})
                continue
            frame.save(update_fields=["image", "source_path"])

    def _label_names(self, parsed, problems) -> list[str | None]:
        names = []
        for ann in parsed.annotations:
            name = ann["form_label"]
            if name and name not in self.labels:
                problems.append({"file": self.source.name, "id": ann["id"],
                                 "reason": f"unknown form label {name!r}; imported without a label", "action": "kept"})
                name = None
            names.append(name or (self.default_label.name if self.default_label else None))
        return names

    def _write_annotations(self, parsed, filled, heuristic, id_to_frame, problems) -> dict:
        label_names = self._label_names(parsed, problems)
        labels = [self.labels.get(name) if name else None for name in label_names]
        digests = _digests(parsed.keypoints, parsed.present, parsed.bboxes, label_names)
        state_cache: dict[bytes, str] = {}

        def states_json(i: int) -> str:
            key = parsed.present[i].tobytes() + heuristic[i].tobytes()
            if key not in state_cache:
                state_cache[key] = json.dumps([
                    KeypointState.VERIFIED.value if p else KeypointState.HEURISTIC.value if h
                    else KeypointState.UNVERIFIED.value for p, h in zip(parsed.present[i], heuristic[i])
                ])
            return state_cache[key]

        existing = {
            (frame_id, instance): (pk, digest)
            for pk, frame_id, instance, digest in Annotation.objects.filter(project=self.project)
            .values_list("id", "frame_id", "instance", "import_digest")
        }
        new, differing, unchanged = [], {}, 0  # differing: annotation id -> (index into parsed, frame id)
        for i, ann in enumerate(parsed.annotations):
            frame_id = id_to_frame.get(ann["image_id"])
            if frame_id is None:
                continue  # its image entry was rejected; already reported
            stored_row = existing.get((frame_id, ann["instance"]))
            if stored_row is None:
                new.append((i, frame_id))
            elif stored_row[1] == digests[i]:
                unchanged += 1
            else:
                differing[stored_row[0]] = (i, frame_id)

        cols = ["project_id", "frame_id", "instance", "keypoints", "keypoint_states", "num_keypoints", "bbox", "area",
                "form_label_id", "source", "human_edited", "import_digest", "source_annotation_id", "version",
                "created_at", "updated_at"]
        copy_lines(Annotation._meta.db_table, cols,
                   self._new_annotation_lines(new, parsed, filled, labels, digests, states_json))
        changed, revisions, conflicts = self._apply_changes(differing, parsed, filled, labels, digests, states_json)
        Annotation.objects.bulk_update(
            changed, ["keypoints", "keypoint_states", "num_keypoints", "bbox", "area", "form_label", "import_digest",
                      "source_annotation_id", "version", "updated_at", "updated_by"], batch_size=2000)
        Revision.objects.bulk_create(revisions, batch_size=2000)
        names = dict(Frame.objects.filter(pk__in=[c["frame_id"] for c in conflicts]).values_list("id", "file_name"))
        for c in conflicts:
            c["file_name"] = names.get(c["frame_id"])
        return {
            "annotations": len(new) + len(changed) + unchanged + len(conflicts),
            "new_annotations": len(new),
            "revisions": len(changed),
            "unchanged": unchanged,
            "conflicts": conflicts,
            "heuristic_points": int(heuristic.sum()),
        }

    def _new_annotation_lines(self, new, parsed, filled, labels, digests, states_json, chunk=10_000):
        """COPY lines for new annotations, serialised a chunk at a time so PostgreSQL ingests one
        chunk while the next is prepared. JSON texts of numbers and state names need no escaping."""
        now = self.now.isoformat()
        for start in range(0, len(new), chunk):
            part = new[start:start + chunk]
            idx = np.fromiter((i for i, _ in part), dtype=np.int64, count=len(part))
            kp_texts = _json_rows(filled[idx].reshape(len(idx), -1))
            bbox_texts = _json_rows(parsed.bboxes[idx])
            counts = (filled[idx, :, 2] > 0).sum(axis=1).tolist()
            for n, (i, frame_id) in enumerate(part):
                label, ann = labels[i], parsed.annotations[i]
                yield (f"{self.project.pk}\t{frame_id}\t{ann['instance']}\t{kp_texts[n]}\t{states_json(i)}\t"
                       f"{counts[n]}\t{bbox_texts[n]}\t{float(parsed.areas[i])!r}\t{label.pk if label else NULL}\t"
                       f"import\tf\t{digests[i]}\t{ann['id']}\t1\t{now}\t{now}\n")

    def _apply_changes(self, differing, parsed, filled, labels, digests, states_json):
        """Update annotations whose imported content changed (one Revision each), except those a
        person corrected here: those keep the correction and get an import_conflict revision."""
        changed, revisions, conflicts = [], [], []
        for current in Annotation.objects.filter(pk__in=list(differing)).select_related("form_label"):
            i, frame_id = differing[current.pk]
            ann, label = parsed.annotations[i], labels[i]
            incoming = {"keypoints": json.loads(_json_rows(filled[i].reshape(1, -1))[0]),
                        "keypoint_states": json.loads(states_json(i)),
                        "bbox": json.loads(_json_rows(parsed.bboxes[i:i + 1])[0]),
                        "area": float(parsed.areas[i]), "form_label": label.name if label else None}
            if current.human_edited:
                conflicts.append({"frame_id": frame_id, "annotation_id": current.pk, "source_annotation_id": ann["id"]})
                revisions.append(Revision(project=self.project, frame_id=frame_id, annotation=current,
                                          user=self.user, job=self.job, kind="import_conflict",
                                          before=current.snapshot(), after=incoming,
                                          note="a newer export differs from an annotation corrected in PoseReview; "
                                               "the correction was kept"))
                continue
            before = current.snapshot()
            current.keypoints, current.keypoint_states = incoming["keypoints"], incoming["keypoint_states"]
            current.num_keypoints = int((filled[i, :, 2] > 0).sum())
            current.bbox, current.area, current.form_label = incoming["bbox"], incoming["area"], label
            current.import_digest, current.source_annotation_id = digests[i], ann["id"]
            current.version += 1
            current.updated_at, current.updated_by = self.now, self.user
            changed.append(current)
            revisions.append(Revision(project=self.project, frame_id=frame_id, annotation=current, user=self.user,
                                      job=self.job, kind="import", before=before, after=current.snapshot()))
        return changed, revisions, conflicts
