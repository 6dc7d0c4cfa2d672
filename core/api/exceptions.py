"""One error body for every API failure: `{detail, code, errors: [{field, message, code}]}`.

Whoever answers: a view (DRF's exception handler below), the request's transaction failing at commit (the base
view), or Django itself for a path no view took, a host not served, or an exception nobody expected (the handlers
at the end, which config/urls.py installs; the web pages keep their HTML error pages).
"""

import logging
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError

logger = logging.getLogger(__name__)

API_PATH_PREFIX = "/api/"

NOT_FOUND = {"detail": "Not found.", "code": "not_found", "errors": []}
BAD_REQUEST = {"detail": "Bad request.", "code": "bad_request", "errors": []}
FORBIDDEN = {"detail": "You do not have permission to perform this action.", "code": "permission_denied", "errors": []}
SERVER_ERROR = {"detail": "A server error occurred.", "code": "server_error", "errors": []}
TRY_AGAIN = {
    "detail": "The request met a concurrent one and was undone; send it again.",
    "code": "try_again",
    "errors": [],
}
# Time enough for the transaction it collided with to have finished: the one that won a deadlock or a serialization
# check is short (a request's), and waiting longer gains nothing.
RETRY_AFTER_SECONDS = 1

# The two ways PostgreSQL gives up on a transaction because of another one running at the same time, undoing it
# entirely, so that sending the request again can succeed: serialization_failure and deadlock_detected. Narrower
# than core.faults' "transient" on purpose: a connection lost during COMMIT is transient too, but whether that
# commit happened is unknown, and "send it again" could then apply a change twice.
_LOST_A_RACE = frozenset({"40001", "40P01"})


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


def lost_a_race(exc: BaseException) -> bool:
    """True when the database undid the transaction because of a concurrent one (Django keeps the driver's error,
    with its SQLSTATE, as the cause)."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) in _LOST_A_RACE:
            return True
        seen = seen.__cause__
    return False


def try_again_headers() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DatabaseError) and lost_a_race(exc):
        request = context.get("request")
        logger.warning("api.transaction_lost_race", extra={"path": getattr(request, "path", ""), "at": "view"})
        return Response(TRY_AGAIN, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=try_again_headers())
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


# --- answers made outside any view ---


def json_error(body: dict[str, Any], status_code: int, headers: dict[str, str] | None = None) -> HttpResponse:
    """An error body rendered exactly as the views render theirs (same bytes), for answers no DRF view makes."""
    return HttpResponse(
        JSONRenderer().render(body), status=status_code, content_type="application/json", headers=headers
    )


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PATH_PREFIX)


# Django's error handlers (config/urls.py): under /api/ a client gets the API's JSON body, never an HTML page.


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return json_error(BAD_REQUEST, status.HTTP_400_BAD_REQUEST)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return json_error(FORBIDDEN, status.HTTP_403_FORBIDDEN)
    return defaults.permission_denied(request, exception)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_request(request):
        return json_error(NOT_FOUND, status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django has logged the exception and told its listeners before calling this; the body names nothing of it.
    if is_api_request(request):
        return json_error(SERVER_ERROR, status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)
