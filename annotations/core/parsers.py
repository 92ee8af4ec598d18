"""The REST API's JSON parser: bounded in size and nesting depth, so a hostile body is a 413 or a 400.

A body larger than DATA_UPLOAD_MAX_MEMORY_SIZE is refused before it is parsed (413); a document nested
deeper than MAX_JSON_DEPTH is refused (400) instead of exhausting the interpreter's recursion limit.
Uploads (multipart) keep their own limits (FILE_UPLOAD_MAX_MEMORY_SIZE streams files to disk).
"""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

# No request this API takes nests deeper than a few levels (job params with a nested config).
MAX_JSON_DEPTH = 32


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "request body too large"
    default_code = "payload_too_large"


def body_limit() -> int | None:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_message(limit: int) -> str:
    return f"request body too large: at most {limit:,} bytes (send large files as a multipart upload)"


def depth(value) -> int:
    """Nesting depth of parsed JSON (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


class BoundedJSONParser(JSONParser):
    """JSONParser that refuses bodies over the upload limit (413) and documents nested too deeply (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = body_limit()
        raw = b"" if stream is None else stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(too_large_message(limit))
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels") from None
        if depth(data) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
        return data
