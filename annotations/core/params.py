"""Reading request and job parameters the same way everywhere."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from annotations.core.errors import InputError

TRUE = ("1", "true", "yes", "on")
# Filters a queue claim accepts, from a JSON body, a form or a query string.
QUEUE_FILTERS = ("clip", "split", "form_label")


def truthy(value: Any) -> bool:
    """True for True and for the strings a form, a query string or a JSON body use for yes."""
    return value is True or str(value).strip().lower() in TRUE


def queue_filters(data: Mapping[str, Any]) -> dict[str, str | None]:
    """{clip, split, form_label}: a given value as a string, None where missing or empty.

    A value that is not text (an object, a list), holds a NUL character or is over 200 characters is an
    InputError naming the field (the database cannot compare such text, which was a 500)."""
    if not hasattr(data, "get"):
        raise InputError("send the queue filters as an object")
    filters: dict[str, str | None] = {}
    for k in QUEUE_FILTERS:
        value = data.get(k)
        if value is None or value == "" or value is False:
            filters[k] = None
            continue
        if isinstance(value, (dict, list, tuple)) or "\x00" in str(value) or len(str(value)) > 200:
            raise InputError(f"'{k}' must be a {k.replace('_', ' ')} name of at most 200 characters, without NUL")
        filters[k] = str(value)
    return filters


# -- typed parameters -----------------------------------------------------------------------------
# A schema is {name: check}; a check takes (value, field name) and raises InputError naming the field.
# Job params are checked this way before a Job row is created, so a wrong type is a 400, never a job
# that fails later (or, worse, does something odd with a value of the wrong type).

Check = Callable[[Any, str], None]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def integer(low: int | None = None, high: int | None = None, *, null: bool = False) -> Check:
    def check(value, field):
        if value is None and null:
            return
        if not _is_int(value):
            raise InputError(f"'{field}' must be a whole number")
        if (low is not None and value < low) or (high is not None and value > high):
            raise InputError(f"'{field}' must be between {low} and {high}, got {value}")
    return check


def number(low: float | None = None, high: float | None = None, *, null: bool = False) -> Check:
    def check(value, field):
        if value is None and null:
            return
        if not _is_number(value):
            raise InputError(f"'{field}' must be a finite number")
        if (low is not None and value < low) or (high is not None and value > high):
            raise InputError(f"'{field}' must be between {low:g} and {high:g}, got {value:g}")
    return check


def boolean(*, null: bool = False) -> Check:
    def check(value, field):
        if not isinstance(value, bool) and not (value is None and null):
            raise InputError(f"'{field}' must be true or false")
    return check


def text(choices=None, *, null: bool = False, max_length: int = 200) -> Check:
    def check(value, field):
        if value is None and null:
            return
        if not isinstance(value, str) or len(value) > max_length or "\x00" in value:
            raise InputError(f"'{field}' must be a string of at most {max_length} characters")
        if choices is not None and value not in choices:
            raise InputError(f"'{field}' must be one of {sorted(choices)}, got {value!r}")
    return check


def list_of(item: Check, *, min_length: int = 0, max_length: int = 10_000, null: bool = False) -> Check:
    def check(value, field):
        if value is None and null:
            return
        if not isinstance(value, (list, tuple)) or not min_length <= len(value) <= max_length:
            raise InputError(f"'{field}' must be a list of {min_length} to {max_length} items")
        for n, v in enumerate(value):
            item(v, f"{field}[{n}]")
    return check


def one_of(*checks: Check) -> Check:
    """Passes when any of `checks` passes; otherwise the first check's error."""
    def check(value, field):
        first = None
        for c in checks:
            try:
                c(value, field)
                return
            except InputError as exc:
                first = first or exc
        raise first
    return check


def anything(value, field) -> None:
    """A parameter another check covers (where it is used)."""


def obj(schema: Mapping[str, Check] | None = None, *, null: bool = False) -> Check:
    def check(value, field):
        if value is None and null:
            return
        if schema is None:
            if not isinstance(value, dict):
                raise InputError(f"'{field}' must be an object")
            return
        check_params(value, schema, field)
    return check


def check_params(params, schema: Mapping[str, Check], what: str = "params") -> dict:
    """`params` checked against `schema`: an object, no unknown keys, each value of its type and range.

    `what` names the object in messages ("params" -> 'params.seed'); empty for top-level fields."""
    if not isinstance(params, dict):
        raise InputError(f"'{what}' must be an object")
    unknown = sorted(set(params) - set(schema))
    if unknown:
        raise InputError(f"'{what or 'request'}': unknown {'field' if len(unknown) == 1 else 'fields'} {unknown}; "
                         f"allowed: {sorted(schema)}")
    for name, value in params.items():
        schema[name](value, f"{what}.{name}" if what else name)
    return params
