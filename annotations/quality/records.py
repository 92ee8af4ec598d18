"""What the label checks read and write: the verified annotations of a project, and one flag record."""

from __future__ import annotations

import hashlib
import json

from annotations.models import Annotation, FrameStatus

# Frames a person labelled: pre-annotations and rejected frames are not (yet) anyone's word.
VERIFIED_STATUSES = (FrameStatus.ANNOTATED, FrameStatus.SUBMITTED, FrameStatus.ACCEPTED)


def verified_annotations(project):
    return (Annotation.objects.filter(project=project, frame__status__in=VERIFIED_STATUSES)
            .select_related("frame").only("id", "frame_id", "instance", "keypoints", "bbox", "version",
                                          "form_label_id", "frame__clip_id", "frame__file_name",
                                          "frame__frame_index"))


def content_digest(ann) -> str:
    """What the checks read of an annotation (points, box, form label): a dismissal holds while this stays."""
    text = json.dumps([ann.keypoints, ann.bbox, ann.form_label_id], separators=(",", ":"))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:16]


def make_flag(ann, kind: str, keypoints: list[str], reason: str, score: float) -> dict:
    """{frame, file_name, annotation, version, digest, kind, keypoints (names), reason, score} of one suspect label."""
    return {"frame": ann.frame_id, "file_name": ann.frame.file_name, "annotation": ann.pk, "version": ann.version,
            "digest": content_digest(ann), "kind": kind, "keypoints": keypoints, "reason": reason,
            "score": round(float(score), 4)}
