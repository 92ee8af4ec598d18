"""The documented filter of the model list (django-filter; core/filtering.py says how bad values answer)."""

from __future__ import annotations

import django_filters

from annotations.core.filtering import choice_filter
from annotations.models import ModelKind


class ModelVersionFilter(django_filters.FilterSet):
    kind = choice_filter("kind", ModelKind.choices, "Only models of this kind.")
