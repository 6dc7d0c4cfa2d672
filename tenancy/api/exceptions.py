"""One error body for every API failure: `{detail, code, errors: [{field, message, code}]}`."""

from collections.abc import Iterator
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tenancy.errors import DomainError

NOT_FOUND = {"detail": "Not found.", "code": "not_found", "errors": []}


def flatten_errors(detail: Any, path: str = "") -> Iterator[dict[str, str]]:
    """Turn DRF's nested error structure into a flat list, each entry naming its field path."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors":
                yield from flatten_errors(value, path)
            else:
                yield from flatten_errors(value, f"{path}.{key}" if path else str(key))
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                yield from flatten_errors(item, f"{path}[{index}]")
            else:
                yield from flatten_errors(item, path)
    else:
        yield {"field": path or "body", "message": str(detail), "code": getattr(detail, "code", "invalid")}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404 | exceptions.NotFound):
        # The same body whether the object is missing or belongs to another organization.
        return Response(NOT_FOUND, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DomainError):
        return Response(
            {"detail": exc.message, "code": exc.code, "errors": [e.as_dict() for e in exc.errors]},
            status=exc.status,
        )
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": "Invalid input.", "code": "invalid", "errors": list(flatten_errors(exc.detail))}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        response.data = {"detail": str(detail), "code": getattr(detail, "code", exc.default_code), "errors": []}
    return response
