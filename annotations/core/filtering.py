"""Query filters of the REST lists, by django-filter: each feature declares a FilterSet for its lists
(annotations/<feature>/filters.py) from the filter kinds here, and FilterBackend applies it. A bad value
is a 400 whose `detail` names the parameter, like every other bad input (core/api_errors.py), never a
database error: text is bounded and without NUL bytes, choices are checked, ids fit a database id."""

from __future__ import annotations

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from annotations.core.errors import InputError
from annotations.core.pagination import MAX_OFFSET

MAX_TEXT = 200  # characters of a text filter (a clip key, a username)


class FilterBackend(DjangoFilterBackend):
    """DjangoFilterBackend whose validation errors are an InputError: {"detail": "'<param>': <what>"}."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise InputError("; ".join(f"'{name}': {' '.join(str(m) for m in messages)}"
                                       for name, messages in filterset.errors.items()))
        return filterset.qs


def text_filter(field_name: str, help_text: str) -> django_filters.CharFilter:
    """Exact text: at most MAX_TEXT characters, no NUL byte (Django's CharField refuses those)."""
    schema = {"type": "string", "maxLength": MAX_TEXT, "description": help_text}
    return extend_schema_field(schema)(django_filters.CharFilter(field_name=field_name, max_length=MAX_TEXT))


def choice_filter(field_name: str, choices, help_text: str) -> django_filters.ChoiceFilter:
    """One of `choices` ((value, label) pairs); the schema lists them as the parameter's enum."""
    values = sorted(value for value, _ in choices)
    return django_filters.ChoiceFilter(field_name=field_name, choices=choices, help_text=help_text,
                                       error_messages={"invalid_choice": f"must be one of {values}"})


class IdFilter(django_filters.NumberFilter):
    """An object's id: a whole number from 0 to the largest database id."""

    field_class = forms.IntegerField


def id_filter(field_name: str, help_text: str) -> IdFilter:
    # An integer in the schema (django-filter's numbers are decimals, and a foreign key is no integer field).
    schema = {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "description": help_text}
    return extend_schema_field(schema)(IdFilter(field_name=field_name, min_value=0, max_value=MAX_OFFSET,
                                                error_messages={"invalid": "must be a whole number (an id)"}))
