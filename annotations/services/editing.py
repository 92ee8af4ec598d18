"""Saving a person's edit of an annotation: validated, optimistic-locked, revisioned."""

from __future__ import annotations

import math

from django.db import transaction

from ..models import Annotation, FrameStatus, KeypointState, Revision
from .errors import InputError, StaleEdit

EDITABLE = ("keypoints", "keypoint_states", "bbox", "form_label")


def validate_keypoints(keypoints, num_keypoints: int) -> list:
    if not isinstance(keypoints, list) or len(keypoints) != 3 * num_keypoints:
        got = len(keypoints) if isinstance(keypoints, list) else type(keypoints).__name__
        raise InputError(f"keypoints must be a flat list of {3 * num_keypoints} numbers, got {got}")
    out = []
    for i in range(0, len(keypoints), 3):
        x, y, v = keypoints[i:i + 3]
        if not all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in (x, y, v)):
            raise InputError(f"keypoint {i // 3}: coordinates must be finite numbers")
        if v not in (0, 1, 2):
            raise InputError(f"keypoint {i // 3}: visibility must be 0, 1 or 2")
        if v > 0 and (x < 0 or y < 0):
            raise InputError(f"keypoint {i // 3}: negative coordinate")
        out += [round(float(x), 2), round(float(y), 2), int(v)]
    return out


def save_edit(annotation_id: int, user, data: dict, expected_version) -> Annotation:
    """Apply `data` (any of keypoints, keypoint_states, bbox, form_label) if `expected_version` is current.

    Points whose position or visibility changed become verified unless states are given.
    Raises StaleEdit (with the stored version) when someone saved in between.
    """
    if not isinstance(expected_version, int) or isinstance(expected_version, bool):
        raise InputError("'version' (the version this edit started from) is required")
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise InputError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        ann = Annotation.objects.select_for_update(of=("self",)).select_related("project", "frame", "form_label").get(
            pk=annotation_id)
        if ann.version != expected_version:
            raise StaleEdit(f"annotation {ann.pk} was saved by someone else (version {ann.version}, "
                            f"your edit started from {expected_version})", ann.snapshot())
        K = ann.project.num_keypoints
        before = ann.snapshot()
        kpts, states = ann.padded_keypoints(K)
        if "keypoints" in data:
            new = validate_keypoints(data["keypoints"], K)
            if "keypoint_states" not in data:
                states = [KeypointState.VERIFIED if new[3 * i:3 * i + 3] != kpts[3 * i:3 * i + 3] else s
                          for i, s in enumerate(states)]
            kpts = new
        if "keypoint_states" in data:
            given = data["keypoint_states"]
            if not isinstance(given, list) or len(given) != K or not set(given) <= set(KeypointState.values):
                raise InputError(f"keypoint_states must be {K} values of {KeypointState.values}")
            states = given
        if "bbox" in data:
            bbox = data["bbox"]
            if (not isinstance(bbox, list) or len(bbox) != 4
                    or not all(isinstance(b, (int, float)) and math.isfinite(b) for b in bbox)
                    or bbox[2] < 0 or bbox[3] < 0):
                raise InputError("bbox must be [x, y, w, h] with non-negative width and height")
            ann.bbox, ann.area = [float(b) for b in bbox], float(bbox[2] * bbox[3])
        if "form_label" in data:
            name = data["form_label"]
            if name is None:
                ann.form_label = None
            else:
                label = ann.project.form_labels.filter(name=name).first()
                if label is None:
                    raise InputError(f"unknown form label {name!r}")
                ann.form_label = label
        ann.keypoints, ann.keypoint_states = kpts, [str(s) for s in states]
        ann.version += 1
        ann.human_edited, ann.source, ann.updated_by = True, "human", user
        ann.save()
        Revision.objects.create(project=ann.project, frame=ann.frame, annotation=ann, user=user, kind="edit",
                                before=before, after=ann.snapshot())
        if ann.frame.status in (FrameStatus.UNLABELLED, FrameStatus.PREANNOTATED):
            ann.frame.status = FrameStatus.ANNOTATED
            ann.frame.save(update_fields=["status"])
    return ann
