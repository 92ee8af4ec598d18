"""REST error handling: every failure is a JSON body with a clear `detail`, never a bare 500."""

import logging

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotations.core.errors import InputError, StaleEdit
from annotations.core.parsers import body_limit, too_large_message

log = logging.getLogger(__name__)


def exception_handler(exc, context):
    if isinstance(exc, StaleEdit):
        return Response({"detail": str(exc), "current": exc.current}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, InputError):
        return Response({"detail": str(exc), "problems": exc.problems}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": too_large_message(body_limit() or 0)},
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, TooManyFieldsSent):
        return Response({"detail": str(exc) or "too many form fields"}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        return Response({"detail": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        log.exception("unhandled API error", exc_info=exc)
        return Response({"detail": f"internal error: {type(exc).__name__}"}, status=500)
    return response
