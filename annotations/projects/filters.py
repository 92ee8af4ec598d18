"""The documented filters of a project's REST lists (django-filter; core/filtering.py says how bad values
answer): frames by split, status and clip, revisions by frame and annotation."""

from __future__ import annotations

import django_filters

from annotations.core.filtering import choice_filter, id_filter, text_filter
from annotations.models import FrameStatus, Subset


class FrameFilter(django_filters.FilterSet):
    split = choice_filter("split", Subset.choices, "Only frames of this split.")
    # The status the caller sees: to annotators a gold frame is unlabelled (gold/blinding.py shown_status).
    status = choice_filter("shown_status", FrameStatus.choices, "Only frames with this status.")
    clip = text_filter("clip__key", "Only frames of the clip with this key.")


class RevisionFilter(django_filters.FilterSet):
    frame = id_filter("frame_id", "Only revisions of this frame (id).")
    annotation = id_filter("annotation_id", "Only revisions of this annotation (id).")
