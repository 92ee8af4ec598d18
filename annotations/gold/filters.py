"""The documented filters of the gold REST lists (django-filter; core/filtering.py says how bad values
answer): scored attempts by person and frame."""

from __future__ import annotations

import django_filters

from annotations.core.filtering import id_filter, text_filter


class AttemptFilter(django_filters.FilterSet):
    user = text_filter("user__username", "Only this person's attempts (a username).")
    frame = id_filter("frame_id", "Only attempts on this frame (id).")
