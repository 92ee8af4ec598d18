"""The documented filters of a project's job list (django-filter; core/filtering.py says how bad values
answer): by kind and by state."""

from __future__ import annotations

import django_filters

from annotations.core.filtering import choice_filter
from annotations.models import Job


class JobFilter(django_filters.FilterSet):
    kind = choice_filter("kind", Job.Kind.choices, "Only jobs of this kind.")
    status = choice_filter("status", Job.Status.choices, "Only jobs in this state.")
