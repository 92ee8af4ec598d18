"""Paged REST lists: ?limit=&offset= with a bounded page size, and a 400 (naming the parameter) for
values that are not whole numbers, instead of a silent default or a database error."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination

from annotations.core.errors import InputError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500  # rows of one page; stated in the README's REST section
MAX_OFFSET = 2**31 - 1


def whole_number(request, name: str, default: int, maximum: int, *, cap: bool = False) -> int:
    """?name= as an int in 0..maximum (capped at maximum when `cap`); InputError naming it otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit():
        raise InputError(f"'{name}' must be a whole number")
    if len(raw) > 12 or int(raw) > maximum and not cap:
        raise InputError(f"'{name}' must be at most {maximum:,}")
    return min(int(raw), maximum)


class BoundedPagination(LimitOffsetPagination):
    """LimitOffsetPagination with at most MAX_PAGE_SIZE rows a page (a larger limit gets MAX_PAGE_SIZE)."""

    default_limit = DEFAULT_PAGE_SIZE
    max_limit = MAX_PAGE_SIZE
    # The schema's words for ?limit= and ?offset= (drf-spectacular reads them from here).
    limit_query_description = (f"Rows of the page: 1 to {MAX_PAGE_SIZE} (larger values get {MAX_PAGE_SIZE}); "
                               f"default {DEFAULT_PAGE_SIZE}.")
    offset_query_description = "Rows to skip (a whole number)."

    def get_limit(self, request):
        limit = whole_number(request, self.limit_query_param, self.default_limit, self.max_limit, cap=True)
        if limit == 0:
            raise InputError(f"'{self.limit_query_param}' must be at least 1")
        raw = request.query_params.get(self.limit_query_param, "")
        self.capped_from = int(raw) if raw.isdigit() and int(raw) > self.max_limit else None
        return limit

    def get_paginated_response(self, data):
        """The page, with the page size applied (`limit`) and, when the asked one was larger, a note
        saying so (`limit_capped`), so a client that asked for everything sees it got one page."""
        response = super().get_paginated_response(data)
        response.data["limit"] = self.limit
        if getattr(self, "capped_from", None) is not None:
            response.data["limit_capped"] = (
                f"'{self.limit_query_param}' {self.capped_from:,} is above the largest page ({self.max_limit}): "
                f"this page holds at most {self.max_limit} rows; follow 'next' for the rest")
        return response

    def get_paginated_response_schema(self, schema):
        """The page as get_paginated_response writes it, for drf-spectacular: `limit` always, `limit_capped`
        only when the asked limit was cut."""
        page = super().get_paginated_response_schema(schema)
        page["required"] = ["count", "next", "previous", "limit", "results"]
        page["properties"]["limit"] = {"type": "integer",
                                       "description": "Rows this page may hold (the `limit` applied)."}
        page["properties"]["limit_capped"] = {"type": "string", "description": (
            "Only when the asked `limit` was above the largest page: says so.")}
        return page

    def get_offset(self, request):
        return whole_number(request, self.offset_query_param, 0, MAX_OFFSET)


def text_param(request, name: str, choices=None) -> str | None:
    """?name= as text (None when absent or empty); NUL characters or a value outside `choices` are a 400."""
    value = request.query_params.get(name)
    if not value:
        return None
    if "\x00" in value or len(value) > 200:
        raise InputError(f"'{name}' is not a valid value")
    if choices is not None and value not in choices:
        raise InputError(f"'{name}' must be one of {sorted(choices)}")
    return value

