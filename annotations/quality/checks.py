"""Label checks over a project's verified annotations, the label-error queue they feed, and dismissals.

The array maths is mlcore.label_checks (swaps, bone lengths, collapsed points, points outside
the box, points off their clip's track), with the swap and off-track checks refined by
annotations.quality.pose_checks; temporal jumps between adjacent video frames are
annotations.video.temporal.check_clip; suspect form labels come from annotations.quality.form_labels.

Verified annotations: those of frames a person labelled (annotated, submitted or accepted).

A flag is {frame, file_name, annotation, version, kind, keypoints (names), reason, score}. Flagged
frames go to the label-error queue with the flags in the item's signals under "label_checks".
A reviewer's dismissal is kept in the same item's signals under "dismissed_checks" as
{annotation, version, digest, kind, keypoints}: the same flag on the same version of the annotation is
not raised again; once the annotation changes (its version moves on, or its points, box or form
label differ: the digest) it is.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from annotations.core.errors import InputError
from annotations.models import Frame, Queue, QueueItem
from annotations.quality.pose_checks import check_poses
from annotations.quality.records import make_flag, verified_annotations
from annotations.review import queues
from annotations.video import temporal

log = logging.getLogger(__name__)

POSE_KINDS = ("swap", "bone_length", "collapsed", "outside_box", "off_track")
KINDS = (*POSE_KINDS, "jump", "form_label")
CHECK_SIGNALS = frozenset({"label_checks", "label_check_kinds", "dismissed_checks"})


def flag_key(flag: dict) -> tuple:
    return (int(flag["annotation"]), str(flag["kind"]), tuple(flag["keypoints"]))


def pose_flags(project) -> list[dict]:
    """Swaps, bone lengths, collapsed points, points outside the box and off-track points, per clip and person."""
    skeleton = project.skeleton
    names = skeleton["keypoints"]
    K = len(names)
    links = [tuple(link) for link in skeleton.get("links", [])]
    pairs = [tuple(p) for p in skeleton.get("flip_pairs", [])]
    groups: dict[tuple, list] = defaultdict(list)
    for ann in verified_annotations(project).iterator(chunk_size=2000):
        groups[(ann.frame.clip_id, ann.instance)].append(ann)
    out = []
    for anns in groups.values():
        anns.sort(key=lambda a: (a.frame.frame_index if a.frame.frame_index is not None else -1, a.frame.file_name))
        kps = [ann.padded_keypoints(K)[0][:3 * K] for ann in anns]
        boxes = [ann.bbox if len(ann.bbox or []) == 4 else [0, 0, 0, 0] for ann in anns]
        for f in check_poses([[kp[i:i + 3] for i in range(0, 3 * K, 3)] for kp in kps], boxes,
                             links=links, flip_pairs=pairs, names=names):
            out.append(make_flag(anns[f.row], f.kind, [names[k] for k in f.keypoints], f.reason, f.score))
    return out


def jump_flags(project, threshold: float = temporal.DEFAULT_THRESHOLD) -> list[dict]:
    """Temporal jumps between adjacent video frames (annotations.video.temporal), on verified annotations."""
    anns = {a.frame_id: a for a in verified_annotations(project).filter(instance=0)}
    clip_ids = {a.frame.clip_id for a in anns.values()}
    out = []
    for clip in project.clips.filter(pk__in=clip_ids):
        report = temporal.check_clip(clip, threshold)
        for fid in report["flagged"]:
            if fid in anns:
                entry = report["frames"][fid]
                out.append(make_flag(anns[fid], "jump", entry["keypoints"],
                                 f"{', '.join(entry['keypoints'])} jump by {entry['score']:.0%} of the body size "
                                 f"from the neighbouring video frames", entry["score"]))
    return out


def dismissed(project) -> set[tuple]:
    """(annotation, version, digest, kind, keypoints) of every dismissal recorded in the label-error queue."""
    out = set()
    for sig in QueueItem.objects.filter(project=project, queue=Queue.LABEL_ERROR,
                                        signals__has_key="dismissed_checks").values_list("signals", flat=True):
        for d in sig.get("dismissed_checks", []):
            out.add((int(d["annotation"]), int(d["version"]), d.get("digest", ""), d["kind"], tuple(d["keypoints"])))
    return out


def check_labels(project, *, kinds=None, form_labels: bool = True) -> dict:
    """Every check over the project's verified annotations. Returns {"flags": [...], "summary": {...}}.

    Flags a reviewer dismissed on the annotation's current version are left out (counted in the summary).
    """
    kinds = tuple(kinds or KINDS)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise InputError(f"unknown check {unknown[0]!r}; choose from {list(KINDS)}")
    flags = pose_flags(project) if set(kinds) & set(POSE_KINDS) else []
    flags = [f for f in flags if f["kind"] in kinds]
    if "jump" in kinds:
        flags += jump_flags(project)
    form_summary: dict = {"checked": False}
    if "form_label" in kinds and form_labels:
        from annotations.quality import form_labels as forms  # cleanlab and scikit-learn load only when asked

        form_flags, form_summary = forms.form_label_flags(project)
        flags += form_flags
    gone = dismissed(project)
    kept = [f for f in flags
            if (f["annotation"], f["version"], f["digest"], f["kind"], tuple(f["keypoints"])) not in gone]
    kept.sort(key=lambda f: (f["file_name"], f["kind"], f["keypoints"]))
    by_kind = dict.fromkeys(kinds, 0)
    for f in kept:
        by_kind[f["kind"]] += 1
    summary = {"flags": len(kept), "frames": len({f["frame"] for f in kept}), "by_kind": by_kind,
               "dismissed": len(flags) - len(kept), "annotations_checked": verified_annotations(project).count(),
               "form_labels": form_summary}
    return {"flags": kept, "summary": summary}


def feed_queue(project, flags: list[dict]) -> dict:
    """Flagged frames into the label-error queue (their flags in the signals); frames no check flags any
    more leave it where only these checks put them there. Returns {"queued", "cleared"}."""
    by_frame: dict[int, list[dict]] = defaultdict(list)
    for f in flags:
        by_frame[f["frame"]].append({k: f[k] for k in ("annotation", "version", "digest", "kind", "keypoints",
                                                       "reason", "score")})
    with transaction.atomic():
        items = {i.frame_id: i for i in QueueItem.objects.select_for_update()
                 .filter(project=project, queue=Queue.LABEL_ERROR)}
        scores, signals = {}, {}
        for fid, fl in by_frame.items():
            item = items.get(fid)
            old = dict(item.signals) if item else {}
            old.pop("label_checks", None)
            old.pop("label_check_kinds", None)
            signals[fid] = {**old, "label_checks": fl, "label_check_kinds": sorted({f["kind"] for f in fl})}
            base = item.priority if item is not None and item.is_open else 0.0
            scores[fid] = max(base, float(len(fl)))
        if scores:
            queues.set_priorities(project, Queue.LABEL_ERROR, scores, signals, reopen=True)
        cleared = 0
        for fid, item in items.items():
            if fid in by_frame or "label_checks" not in item.signals:
                continue
            rest = {k: v for k, v in item.signals.items() if k not in ("label_checks", "label_check_kinds")}
            item.signals = rest
            fields = ["signals", "updated_at"]
            if item.is_open and set(rest) <= CHECK_SIGNALS:
                item.done_at = timezone.now()
                fields.append("done_at")
                cleared += 1
            item.save(update_fields=fields)
    return {"queued": len(scores), "cleared": cleared}


def check_and_feed(project, *, kinds=None) -> dict:
    report = check_labels(project, kinds=kinds)
    try:
        report["summary"]["queue"] = feed_queue(project, report["flags"])
    except Exception as exc:  # the queue is another area's: a failure there must not lose the checks
        log.exception("label-error queue refused the label checks of %s", project.slug)
        report["summary"]["queue"] = {"failed": f"{type(exc).__name__}: {exc}"}
    return report


def dismiss(project, frame_id, *, kind: str, keypoints, user) -> dict:
    """A reviewer's decision that a flag on the frame's current annotation is not an error.

    Recorded in the frame's label-error item; the flag leaves the item, and the item leaves the
    queue when nothing else keeps it there. Returns the item's remaining flags.
    """
    if kind not in KINDS:
        raise InputError(f"'kind' must be one of {list(KINDS)}")
    if not isinstance(keypoints, list) or not all(isinstance(k, str) for k in keypoints):
        raise InputError("'keypoints' must be a list of keypoint names")
    try:
        frame = Frame.objects.get(project=project, pk=int(frame_id))
    except (TypeError, ValueError, Frame.DoesNotExist):
        raise InputError(f"'frame': no frame {frame_id!r} in {project.slug}") from None
    with transaction.atomic():
        item = (QueueItem.objects.select_for_update().filter(frame=frame, queue=Queue.LABEL_ERROR).first())
        flags = list((item.signals if item else {}).get("label_checks", []))
        match = [f for f in flags if f["kind"] == kind and list(f["keypoints"]) == list(keypoints)]
        if item is None or not match:
            raise InputError(f"'kind': frame {frame.pk} has no {kind} flag on {keypoints}")
        # The dismissal holds for what the reviewer saw: the annotation as the check found it.
        record = {"annotation": match[0]["annotation"], "version": match[0]["version"],
                  "digest": match[0].get("digest", ""), "kind": kind,
                  "keypoints": list(keypoints), "by": user.username if user else "",
                  "at": timezone.now().isoformat()}
        rest = [f for f in flags if f not in match]
        item.signals = {**item.signals, "label_checks": rest, "label_check_kinds": sorted({f["kind"] for f in rest}),
                        "dismissed_checks": [*item.signals.get("dismissed_checks", []), record]}
        if not rest:
            item.signals.pop("label_checks")
            item.signals.pop("label_check_kinds")
            if item.is_open and set(item.signals) <= CHECK_SIGNALS:
                item.done_at, item.done_by = timezone.now(), user
        item.save(update_fields=["signals", "done_at", "done_by", "updated_at"])
    return {"frame": frame.pk, "dismissed": record, "remaining": rest, "open": item.is_open}


def parse_kinds(value) -> tuple[str, ...] | None:
    """'swap,bone_length' or a list -> the checks to run (None: all); InputError naming 'kinds' otherwise."""
    if value in (None, "", []):
        return None
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(k, str) for k in items):
        raise InputError("'kinds' must be a list of check names")
    kinds = tuple(k.strip() for k in items if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise InputError(f"'kinds': unknown check {unknown[0]!r}; choose from {list(KINDS)}")
    return kinds or None
