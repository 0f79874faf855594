"""One shape for every refused API call: 400 names the field and the reason.

The workflow raises Django's ValidationError (400, keyed by field), PermissionDenied (403)
and our Conflict / InvalidTransition (409); this handler turns them into DRF responses.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from accessgroups.core.errors import Conflict


def _validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            field: [str(m) for e in errors for m in e.messages]
            for field, errors in exc.error_dict.items()
        }
    return {"non_field_errors": [str(m) for m in exc.messages]}


def _refused(data: dict[str, Any], code: int) -> Response:
    # Make sure an atomic request (if someone turns ATOMIC_REQUESTS on) rolls back too.
    set_rollback()
    return Response(data, status=code)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        return _refused(_validation_detail(exc), status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Conflict):
        body = {exc.field: [exc.message]} if exc.field else {"detail": exc.message}
        return _refused(body, status.HTTP_409_CONFLICT)
    if isinstance(exc, IntegrityError):
        # A database constraint caught a race the checks before it could not see.
        return _refused(
            {"detail": "The change conflicts with the current state; reload and try again."},
            status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, DataError):
        # Serializers bound sizes and ranges; this is the net under them, so that nothing a
        # client sends becomes a 500.
        return _refused(
            {"detail": "A value cannot be stored: out of range, too long, or containing NUL."},
            status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    """404 for a URL under the API that no route matches (a path id that is not a number),
    in the same shape as DRF's own 404: a client of the API reads JSON, never a page."""
    return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
