"""The frame gallery: a project's frames filtered by status, split, form label, clip and verified state,
in pages of PAGE_SIZE walked by frame id (keyset paging: no OFFSET and no COUNT over a million rows).

Filters: status (a FrameStatus value), split (train/val/test, or "none" for frames in no subset), label
(a form label name, or "none" for frames whose annotations carry none), clip (a clip key), verified
("verified": annotated and every labelled point confirmed by a person; "unverified": some labelled
point still predicted, heuristic or unverified; "none": no annotation). Each lands on an index:
(project, status), (project, split), (clip, frame_index), and the annotation joins go through the
unique (frame, instance) index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import BooleanField, Exists, OuterRef
from django.db.models.expressions import RawSQL

from annotations.core.errors import InputError
from annotations.gold import blinding
from annotations.models import Annotation, Frame, FrameStatus, Project, Subset
from annotations.models.point_fields import VERIFIED_CODE

PAGE_SIZE = 60
VERIFIED_CHOICES = ("verified", "unverified", "none")
# A labelled point (v > 0) of one of the frame's annotations whose state is not "verified".
# States are smallint codes and keypoints a double precision[] (1-based: v of point i is at 3i).
PENDING_SQL = """EXISTS (SELECT 1 FROM "{ann}" a, unnest(a.keypoint_states) WITH ORDINALITY s(state, i)
    WHERE a.frame_id = "{frame}"."id" AND s.state <> {verified}
    AND COALESCE(a.keypoints[s.i * 3], 0) > 0)"""
FILTERS = ("status", "split", "label", "clip", "verified")


@dataclass
class GalleryPage:
    frames: list[Frame]
    filters: dict[str, str]
    after: int | None = None
    next_after: int | None = None
    labels: list = field(default_factory=list)


def parse_filters(project: Project, params) -> dict[str, str]:
    """The gallery's filters from a query dict; InputError naming the field for a value it cannot use."""
    out: dict[str, str] = {}
    for name in FILTERS:
        value = (params.get(name) or "").strip()
        if value:
            out[name] = value
    if "status" in out and out["status"] not in FrameStatus.values:
        raise InputError(f"'status' must be one of {', '.join(FrameStatus.values)}")
    if "split" in out and out["split"] not in (*Subset.values, "none"):
        raise InputError(f"'split' must be one of {', '.join(Subset.values)} or none")
    if "verified" in out and out["verified"] not in VERIFIED_CHOICES:
        raise InputError(f"'verified' must be one of {', '.join(VERIFIED_CHOICES)}")
    if "label" in out and out["label"] != "none" and not project.form_labels.filter(name=out["label"]).exists():
        raise InputError(f"'label': {out['label']!r} is not a form label of this project")
    if "clip" in out and (len(out["clip"]) > 200 or not project.clips.filter(key=out["clip"]).exists()):
        raise InputError(f"'clip': there is no clip {out['clip'][:200]!r} in this project")
    return out


def filtered(project: Project, filters: dict[str, str]):
    qs = Frame.objects.filter(project=project)
    if "status" in filters:
        qs = qs.filter(status=filters["status"])
    if "split" in filters:
        qs = qs.filter(split="" if filters["split"] == "none" else filters["split"])
    if "clip" in filters:
        qs = qs.filter(clip__project=project, clip__key=filters["clip"])
    annotations = Annotation.objects.filter(frame=OuterRef("pk"))
    if "label" in filters:
        if filters["label"] == "none":
            qs = qs.filter(~Exists(annotations.filter(form_label__isnull=False)))
        else:
            qs = qs.filter(Exists(annotations.filter(form_label__name=filters["label"])))
    verified = filters.get("verified")
    if verified == "none":
        qs = qs.filter(~Exists(annotations))
    elif verified:
        qs = qs.filter(Exists(annotations.filter(num_keypoints__gt=0)))
        pending = RawSQL(PENDING_SQL.format(frame=Frame._meta.db_table, ann=Annotation._meta.db_table,
                                             verified=VERIFIED_CODE), [],
                         output_field=BooleanField())
        qs = qs.filter(pending) if verified == "unverified" else qs.exclude(pending)
    return qs


def gallery_page(project: Project, params, *, blind: bool = False) -> GalleryPage:
    """One page of frames after ?after=<frame id>, oldest id first. blind (annotators): gold frames read
    as unlabelled pool frames (annotations/gold/blinding.py)."""
    filters = parse_filters(project, params)
    raw_after = (params.get("after") or "").strip()
    if raw_after and (not raw_after.isascii() or not raw_after.isdigit() or len(raw_after) > 12):
        raise InputError("'after' must be a frame id (a whole number)")
    after = int(raw_after) if raw_after else None
    qs = filtered(project, filters)
    if blind:
        unfiltered = filtered(project, {k: v for k, v in filters.items() if k in ("split", "clip")})
        qs = blinding.blind_queryset(qs, unfiltered, filters)
    if after is not None:
        qs = qs.filter(pk__gt=after)
    rows = list(qs.select_related("clip", "gold").prefetch_related("annotations__form_label")
                .order_by("pk")[:PAGE_SIZE + 1])
    next_after = rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else None
    shown = blinding.disguise_frames(rows[:PAGE_SIZE]) if blind else rows[:PAGE_SIZE]
    return GalleryPage(shown, filters, after, next_after, list(project.form_labels.all()))
