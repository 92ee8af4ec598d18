"""Reading request and job parameters the same way everywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TRUE = ("1", "true", "yes", "on")
# Filters a queue claim accepts, from a JSON body, a form or a query string.
QUEUE_FILTERS = ("clip", "split", "form_label")


def truthy(value: Any) -> bool:
    """True for True and for the strings a form, a query string or a JSON body use for yes."""
    return value is True or str(value).strip().lower() in TRUE


def queue_filters(data: Mapping[str, Any]) -> dict[str, str | None]:
    """{clip, split, form_label}: a given value as a string, None where missing or empty."""
    return {k: (str(data.get(k)) if data.get(k) else None) for k in QUEUE_FILTERS}
