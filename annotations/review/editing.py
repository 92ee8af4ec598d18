"""Saving a person's edit of an annotation: validated, optimistic-locked, revisioned."""

from __future__ import annotations

from django.db import transaction

from annotations.core.errors import InputError, StaleEdit
from annotations.core.limits import COORDINATE_FACTOR, check_bbox, coordinate_limit, is_number
from annotations.models import Annotation, FrameStatus, KeypointState, Revision
from annotations.review import claims

EDITABLE = ("keypoints", "keypoint_states", "bbox", "form_label")
# People on one frame (annotation instances 0 .. MAX_PEOPLE - 1) that the editor can create.
MAX_PEOPLE = 10


def validate_keypoints(keypoints, num_keypoints: int, limit: float | None = None) -> list:
    """Flat [x, y, v] * K with finite coordinates within +-`limit` px (default: coordinate_limit of an unknown
    size). Points outside the frame are allowed: imports keep them, so the editor must be able to save them back."""
    limit = coordinate_limit(None, None) if limit is None else limit
    if not isinstance(keypoints, list) or len(keypoints) != 3 * num_keypoints:
        got = len(keypoints) if isinstance(keypoints, list) else type(keypoints).__name__
        raise InputError(f"'keypoints' must be a flat list of {3 * num_keypoints} numbers, got {got}")
    out = []
    for i in range(0, len(keypoints), 3):
        x, y, v = keypoints[i:i + 3]
        if not all(is_number(c) for c in (x, y, v)):
            raise InputError(f"'keypoints': keypoint {i // 3}: coordinates must be finite numbers")
        if v not in (0, 1, 2):
            raise InputError(f"'keypoints': keypoint {i // 3}: visibility must be 0, 1 or 2")
        if abs(x) > limit or abs(y) > limit:
            raise InputError(f"'keypoints': keypoint {i // 3}: coordinates must lie within {limit:g} px "
                             f"({COORDINATE_FACTOR} x the image size)")
        out += [round(float(x), 2), round(float(y), 2), int(v)]
    return out


def validate_states(given, num_keypoints: int) -> list[str]:
    """K KeypointState values (strings)."""
    values = list(KeypointState.values)
    if (not isinstance(given, list) or len(given) != num_keypoints
            or not all(isinstance(s, str) and s in values for s in given)):
        raise InputError(f"'keypoint_states' must be a list of {num_keypoints} values of {values}")
    return list(given)


def merged_pose(data: dict, kpts: list, states: list, num_keypoints: int, limit: float) -> tuple[list, list]:
    """The saved pose (flat [x, y, v] * K, K states) with ``data``'s keypoints and states on top.

    Without ``keypoint_states`` in ``data``, every point the person moved becomes verified.
    """
    if "keypoints" in data:
        new = validate_keypoints(data["keypoints"], num_keypoints, limit)
        if "keypoint_states" not in data:
            states = [KeypointState.VERIFIED.value if new[3 * i:3 * i + 3] != kpts[3 * i:3 * i + 3] else s
                      for i, s in enumerate(states)]
        kpts = new
    if "keypoint_states" in data:
        states = validate_states(data["keypoint_states"], num_keypoints)
    return kpts, states


def save_edit(annotation_id: int, user, data: dict, expected_version, *, kind: str = "edit",
              note: str = "", queue: str | None = None) -> Annotation:
    """Apply `data` (any of keypoints, keypoint_states, bbox, form_label) if `expected_version` is current.

    Points whose position or visibility changed become verified unless states are given.
    Raises StaleEdit (with the stored version) when someone saved in between.
    kind/note: how the Revision describes the change ("edit", or "restore" from the history).
    queue: the frame was claimed through this queue; LeaseLost (409) when the claim lapsed and someone
    else holds the frame now.
    """
    if not isinstance(expected_version, int) or isinstance(expected_version, bool):
        raise InputError("'version' (the version this edit started from) is required")
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise InputError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        ann = Annotation.objects.select_for_update(of=("self",)).select_related("project", "frame", "form_label").get(
            pk=annotation_id)
        if queue:
            claims.check_holder(ann.frame, user)
        if ann.version != expected_version:
            raise StaleEdit(f"annotation {ann.pk} was saved by someone else (version {ann.version}, "
                            f"your edit started from {expected_version})", stored_state(ann))
        K = ann.project.num_keypoints
        limit = coordinate_limit(ann.frame.width, ann.frame.height)
        before = recorded(ann)
        kpts, states = merged_pose(data, *ann.padded_keypoints(K), K, limit)
        if "bbox" in data:
            bbox = check_bbox(data["bbox"], limit)
            ann.bbox, ann.area = bbox, bbox[2] * bbox[3]
        if "form_label" in data:
            name = data["form_label"]
            if name is None:
                ann.form_label = None
            elif not isinstance(name, str):
                raise InputError("'form_label' must be a form label name or null")
            elif ann.form_label is not None and ann.form_label.name == name:
                pass  # unchanged (the editor sends it with every save): no lookup
            else:
                label = ann.project.form_labels.filter(name=name).first()
                if label is None:
                    raise InputError(f"unknown form label {name!r}")
                ann.form_label = label
        ann.keypoints, ann.keypoint_states = kpts, [str(s) for s in states]
        if "bbox" not in data and ann.area <= 0:
            # A new annotation starts without a box: derive it from the points a person placed.
            ann.bbox, ann.area = box_around(kpts)
        ann.version += 1
        ann.human_edited, ann.source, ann.updated_by = True, "human", user
        ann.save()
        Revision.objects.create(project=ann.project, frame=ann.frame, annotation=ann, user=user, kind=kind,
                                before=before, after=recorded(ann), note=note)
        if ann.frame.status in (FrameStatus.UNLABELLED, FrameStatus.PREANNOTATED):
            ann.frame.status = FrameStatus.ANNOTATED
            ann.frame.save(update_fields=["status"])
    return ann


def recorded(ann: Annotation) -> dict:
    """A Revision's before/after: the snapshot, naming the person when it is not the frame's first (so the
    history still tells whose change it was after that person is removed)."""
    snap = ann.snapshot()
    return {**snap, "instance": ann.instance} if ann.instance else snap


def stored_state(ann: Annotation) -> dict:
    """What a 409 answer carries: the stored content, its version, id, and who saved it when."""
    return {**ann.snapshot(), "id": ann.pk,
            "updated_by": by.username if (by := ann.updated_by) is not None else None,
            "updated_at": ann.updated_at.isoformat() if ann.updated_at else None}


def box_around(kpts: list, pad: float = 0.1) -> tuple[list[float], float]:
    """[x, y, w, h] around the labelled points, padded by `pad` of its size; area. Zero box if none."""
    xs = [kpts[i] for i in range(0, len(kpts), 3) if kpts[i + 2] > 0]
    ys = [kpts[i + 1] for i in range(0, len(kpts), 3) if kpts[i + 2] > 0]
    if not xs:
        return [0.0, 0.0, 0.0, 0.0], 0.0
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    x0, y0 = max(min(xs) - pad * w, 0.0), max(min(ys) - pad * h, 0.0)
    w, h = round(w * (1 + 2 * pad), 2), round(h * (1 + 2 * pad), 2)
    return [round(x0, 2), round(y0, 2), w, h], w * h


def check_instance(value) -> int | None:
    """The person a new annotation is for: None (the frame's first annotation) or 0 .. MAX_PEOPLE - 1."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_PEOPLE:
        raise InputError(f"'instance' must be a whole number from 0 to {MAX_PEOPLE - 1}: the person's index on "
                         "the frame (0 is the first person)")
    return value


def create_annotation(frame, user, data: dict, instance: int | None = None) -> Annotation:
    """A new annotation of a frame, from `data` (as for save_edit).

    instance None: the frame's first annotation (person 0); instance n: person n, once person 0 exists
    for n > 0. Raises StaleEdit with the stored annotation when the frame has one already (without an
    instance) or has that person already (someone else created it first): the editor then shows both
    versions, as for any stale save.
    """
    instance = check_instance(instance)
    with transaction.atomic():
        frame = type(frame).objects.select_for_update().select_related("project").get(pk=frame.pk)
        ours = Annotation.objects.filter(frame=frame)
        existing = (ours if instance is None else ours.filter(instance=instance)).order_by("instance").first()
        if existing is not None:
            what = "an annotation" if instance is None else f"person {instance + 1} (instance {instance})"
            raise StaleEdit(f"frame {frame.pk} already has {what} (version {existing.version})",
                            stored_state(existing))
        if instance and not ours.filter(instance=0).exists():
            raise InputError("'instance': annotate the frame's first person (instance 0) before adding another")
        K = frame.project.num_keypoints
        if not data.get("form_label") and frame.source_id and frame.source.form_label_id:
            # Frames of an import task share its form label (a CVAT task per label); a person who
            # has not chosen one yet starts from it.
            data = {**data, "form_label": frame.source.form_label.name}
        ann = Annotation.objects.create(
            project=frame.project, frame=frame, instance=instance or 0, keypoints=[0, 0, 0] * K,
            keypoint_states=[KeypointState.UNVERIFIED.value] * K, bbox=[0.0, 0.0, 0.0, 0.0], area=0.0,
            source="human", human_edited=True, updated_by=user, version=0)
        # Saved as an edit of the empty annotation, so the first Revision shows what the person placed.
        return save_edit(ann.pk, user, data, 0)


def remove_person(annotation_id: int, user, expected_version, *, queue: str | None = None) -> None:
    """Delete a person added to a frame (instance > 0) if `expected_version` is current.

    The frame's first person stays (queues, form labels and checks read it): its points can be removed
    instead. A Revision keeps what was removed (after: null). Raises StaleEdit when someone saved the
    person in between, LeaseLost as save_edit does.
    """
    if not isinstance(expected_version, int) or isinstance(expected_version, bool):
        raise InputError("'version' (the version you are removing) is required")
    with transaction.atomic():
        ann = Annotation.objects.select_for_update(of=("self",)).select_related("project", "frame", "form_label").get(
            pk=annotation_id)
        if queue:
            claims.check_holder(ann.frame, user)
        if ann.instance == 0:
            raise InputError("the frame's first person cannot be removed: remove its points instead")
        if ann.version != expected_version:
            raise StaleEdit(f"annotation {ann.pk} was saved by someone else (version {ann.version}, "
                            f"you are removing version {expected_version})", stored_state(ann))
        Revision.objects.create(project=ann.project, frame=ann.frame, annotation=ann, user=user, kind="edit",
                                before=recorded(ann), after=None, note=f"removed person {ann.instance + 1}")
        ann.delete()
