"""Pieces of the OpenAPI description (drf-spectacular) that every feature's api.py shares: the error body,
free-form objects, paged lists, file responses and the list parameters."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from annotations.core.pagination import BoundedPagination


class ErrorSerializer(serializers.Serializer):
    """Every 4xx: `detail` says what was wrong and names the field."""

    detail = serializers.JSONField(required=False, help_text="What was wrong, naming the field or parameter.")


# A JSON object whose keys depend on the data (stats, chart series, job params, payloads of the pages).
OBJECT = OpenApiTypes.OBJECT
OBJECT_LIST = {"type": "array", "items": {"type": "object", "additionalProperties": {}}}

ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input; `detail` names the field."),
    401: OpenApiResponse(ErrorSerializer, description="No credentials, or an expired or unknown token."),
    403: OpenApiResponse(ErrorSerializer, description="The caller's role is too low for this."),
    404: OpenApiResponse(ErrorSerializer, description="No such object in this project (or not visible)."),
    409: OpenApiResponse(ErrorSerializer, description="Stale edit or conflicting state; `detail` says which."),
    413: OpenApiResponse(ErrorSerializer, description="The body or file is over the size limit."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests; Retry-After says when to retry."),
}


def responses(ok: dict, *, errors: tuple[int, ...] = (400, 401, 403, 404)) -> dict:
    """`ok` (status -> body) plus the error responses named in `errors`."""
    return {**ok, **{code: ERRORS[code] for code in errors}}


def page_of(item: type[serializers.Serializer] | serializers.Serializer, name: str):
    """The body of a paged list: {count, next, previous, limit, limit_capped?, results: [item]}."""
    return inline_serializer(name, fields={
        "count": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True),
        "previous": serializers.URLField(allow_null=True),
        "limit": serializers.IntegerField(help_text="Rows this page may hold (the `limit` applied)."),
        "limit_capped": serializers.CharField(required=False, help_text=(
            "Only when the asked `limit` was above the largest page: says so.")),
        "results": (item(many=True) if isinstance(item, type) else item),
    })


def file_response(media_type: str, description: str) -> dict:
    return {(200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=description)}


# ?limit= and ?offset= of the function views that page by hand (generic views get them from the pagination class).
PAGE_PARAMETERS = [
    OpenApiParameter("limit", int, description=BoundedPagination.limit_query_description),
    OpenApiParameter("offset", int, description=BoundedPagination.offset_query_description),
]


def text_parameter(name: str, description: str, choices=None) -> OpenApiParameter:
    return OpenApiParameter(name, str, enum=list(choices) if choices is not None else None, description=description)
