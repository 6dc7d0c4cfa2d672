"""What every API view stands on, whoever it serves: one transaction per request, kept only on success, and
lookups by public id that answer 404 alike for a malformed, missing or foreign id."""

import logging
import uuid
from typing import Any, TypeVar

from django.db import DatabaseError, models, transaction
from django.http import HttpRequest, HttpResponseBase
from rest_framework import exceptions, status

from core.api.exceptions import TRY_AGAIN, json_error, lost_a_race, try_again_headers

M = TypeVar("M", bound=models.Model)

logger = logging.getLogger(__name__)


class RequestTransactionMixin:
    """Every API view: the request runs in one transaction, kept only when the answer is a success.

    An error answer (4xx or 5xx) leaves the database as it was before the request, whatever the handler had
    written by then: a second service refusing after a first one wrote, a check after a write, an exception. DRF's
    own rollback (`set_rollback` in its exception handler) acts only under ATOMIC_REQUESTS, which would also wrap
    the web pages and answer a failed commit in Django's HTML; this block is the request's own, so the answer is
    judged here, after the handler and DRF's exception handling, by its status alone. Refusals recorded meanwhile
    survive the rollback: they are written after this block (core.audit.record.audit_denied_after_request).

    A commit the database refuses because a concurrent transaction won (a deadlock or a serialization failure, both
    found at COMMIT for deferred checks) is answered 503 with Retry-After: the transaction was undone entirely, so
    sending the request again is safe. It is not retried here: the body has been read, an upload may have gone to
    the object store, and only the client knows whether it still wants the change.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            with transaction.atomic():
                response: HttpResponseBase = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
                if response.status_code >= status.HTTP_400_BAD_REQUEST:
                    transaction.set_rollback(True)
        except DatabaseError as exc:
            # Inside the block DRF answered every error it could; what is left here is the commit, or a database
            # error it re-raised. Only a lost race is worth sending again; the rest is Django's JSON 500.
            if not lost_a_race(exc):
                raise
            logger.warning("api.transaction_lost_race", extra={"path": request.path[:512], "at": "commit"})
            return json_error(TRY_AGAIN, status.HTTP_503_SERVICE_UNAVAILABLE, try_again_headers())
        return response


def object_by_uuid(queryset: "models.QuerySet[M]", value: Any) -> M:
    """The object with this public id in `queryset`, or NotFound for a malformed, missing or out-of-scope id."""
    try:
        public_id = uuid.UUID(str(value))
    except ValueError as exc:
        raise exceptions.NotFound() from exc
    obj = queryset.filter(uuid=public_id).first()
    if obj is None:
        raise exceptions.NotFound()
    return obj
