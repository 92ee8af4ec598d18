"""The annotation half of an import: new annotations by binary COPY, changed ones updated with a Revision,
and a person's corrections kept (an import_conflict revision instead)."""

from __future__ import annotations

import hashlib

import numpy as np
import orjson

from annotations.core.binary_copy import RowBlock, copy_blocks
from annotations.datasets.import_context import ImportContext
from annotations.models import Annotation, Frame, Revision
from annotations.models.point_fields import STATE_CODES, STATE_NAMES


def digests_of(keypoints: np.ndarray, present: np.ndarray, bboxes: np.ndarray, labels: list,
               chunk: int = 10_000) -> list[str]:
    """md5 of each annotation's imported content (file points, box, label): equal digest = unchanged.
    keypoints (N, K, 3), present (N, K), bboxes (N, 4); a chunk at a time to bound memory."""
    out: list[str] = []
    for s in range(0, len(keypoints), chunk):
        kp = np.where(present[s:s + chunk, :, None], np.round(keypoints[s:s + chunk], 2), -1.0)
        rows = np.concatenate([kp.reshape(len(kp), kp.shape[1] * 3), np.round(bboxes[s:s + chunk], 2)], axis=1)
        out += [hashlib.md5(row.tobytes() + (label or "").encode()).hexdigest()
                for row, label in zip(rows, labels[s:s + chunk])]
    return out


def json_rows(values: np.ndarray) -> list[str]:
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


def state_codes(present: np.ndarray, heuristic: np.ndarray) -> np.ndarray:
    """(N, K) stored state codes: verified where the file had the point, heuristic where the spine
    heuristic placed it, unverified otherwise."""
    return np.where(present, STATE_CODES["verified"],
                    np.where(heuristic, STATE_CODES["heuristic"], STATE_CODES["unverified"])).astype(np.int16)


class AnnotationImport:
    """Writes the parsed annotations onto the frames they belong to."""

    def __init__(self, ctx: ImportContext):
        self.ctx = ctx

    def _label_names(self, parsed, problems) -> list[str | None]:
        names = []
        for ann in parsed.annotations:
            name = ann["form_label"]
            if name and name not in self.ctx.labels:
                problems.append({"file": self.ctx.source.name, "id": ann["id"],
                                 "reason": f"unknown form label {name!r}; imported without a label", "action": "kept"})
                name = None
            names.append(name or (self.ctx.default_label.name if self.ctx.default_label else None))
        return names

    def write(self, parsed, filled, heuristic, id_to_frame, problems) -> dict:
        label_names = self._label_names(parsed, problems)
        labels = [self.ctx.labels.get(name) if name else None for name in label_names]
        digests = digests_of(parsed.keypoints, parsed.present, parsed.bboxes, label_names)
        codes = state_codes(parsed.present, heuristic)

        existing = {
            (frame_id, instance): (pk, digest)
            for pk, frame_id, instance, digest in Annotation.objects.filter(project=self.ctx.project)
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

        copy_blocks(Annotation._meta.db_table, self._new_annotation_blocks(new, parsed, filled, labels, digests, codes))
        changed, revisions, conflicts = self._apply_changes(differing, parsed, filled, labels, digests, codes)
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

    def _new_annotation_blocks(self, new, parsed, filled, labels, digests, codes, chunk=10_000):
        """Binary COPY blocks of new annotations, a chunk at a time so PostgreSQL ingests one chunk while
        the next is encoded. Everything but the label and the box is packed per chunk by numpy."""
        for start in range(0, len(new), chunk):
            part = new[start:start + chunk]
            idx = np.fromiter((i for i, _ in part), dtype=np.int64, count=len(part))
            points = np.round(filled[idx], 2).reshape(len(idx), -1) + 0.0  # + 0.0: no -0.0
            label_ids = [labels[i].pk if labels[i] else None for i in idx.tolist()]
            yield (RowBlock(len(part))
                   .number("project_id", ">i8", self.ctx.project.pk)
                   .number("frame_id", ">i8", np.fromiter((f for _, f in part), np.int64, len(part)))
                   .number("instance", ">i2", parsed.instances[idx])
                   .array("keypoints", ">f8", points)
                   .array("keypoint_states", ">i2", codes[idx])
                   .number("num_keypoints", ">i2", (filled[idx, :, 2] > 0).sum(axis=1))
                   .number("area", ">f8", parsed.areas[idx])
                   .fixed_text("source", b"import", 6)
                   .number("human_edited", "?", False)
                   .fixed_text("import_digest", [digests[i].encode() for i in idx.tolist()], 32)
                   .number("source_annotation_id", ">i8", parsed.ids[idx])
                   .number("version", ">i4", 1)
                   .timestamp("created_at", self.ctx.now)
                   .timestamp("updated_at", self.ctx.now)
                   .nullable_int("form_label_id", label_ids)
                   .jsonb("bbox", json_rows(parsed.bboxes[idx])))

    def _apply_changes(self, differing, parsed, filled, labels, digests, codes):
        """Update annotations whose imported content changed (one Revision each), except those a
        person corrected here: those keep the correction and get an import_conflict revision."""
        changed, revisions, conflicts = [], [], []
        for current in Annotation.objects.filter(pk__in=list(differing)).select_related("form_label"):
            i, frame_id = differing[current.pk]
            ann, label = parsed.annotations[i], labels[i]
            incoming = {"keypoints": orjson.loads(json_rows(filled[i].reshape(1, -1))[0]),
                        "keypoint_states": [STATE_NAMES[c] for c in codes[i].tolist()],
                        "bbox": orjson.loads(json_rows(parsed.bboxes[i:i + 1])[0]),
                        "area": float(parsed.areas[i]), "form_label": label.name if label else None}
            if current.human_edited:
                conflicts.append({"frame_id": frame_id, "annotation_id": current.pk, "source_annotation_id": ann["id"]})
                revisions.append(Revision(project=self.ctx.project, frame_id=frame_id, annotation=current,
                                          user=self.ctx.user, job=self.ctx.job, kind="import_conflict",
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
            current.updated_at, current.updated_by = self.ctx.now, self.ctx.user
            changed.append(current)
            revisions.append(Revision(project=self.ctx.project, frame_id=frame_id, annotation=current,
                                      user=self.ctx.user, job=self.ctx.job, kind="import", before=before,
                                      after=current.snapshot()))
        return changed, revisions, conflicts
