"""The one way onto the audit trail: every state-changing service calls audit_record inside its own transaction.

The kernel holds the entry point; the audit app holds the trail itself (its tables, numbering and MACs) and
installs its writer when Django starts (audit.apps). So every app records without importing the audit app, and
the audit app can read tenancy without a cycle. With no writer installed, recording raises: an event is never
dropped silently.
"""

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.db import models

from core.audit.actions import action_check
from core.context import current_organization_id, organization_context

logger = logging.getLogger(__name__)


class Outcome(models.TextChoices):
    SUCCESS = "success"
    DENIED = "denied"
    FAILURE = "failure"


_SECRET_KEY = re.compile(r"(secret|password|token|key_hash|api_key|credential)", re.IGNORECASE)
# A public id or prefix of a credential names it without revealing it (`token_id` of a probed token).
_PUBLIC_KEY = re.compile(r"_(id|prefix)$", re.IGNORECASE)
REDACTED = "[redacted]"


def _is_secret_free(value: Any) -> bool:
    # Counts, flags and nulls cannot carry a secret; keeping them keeps `{"tokens_revoked": 2}` readable, and a
    # change of one (`{"token_limit": [null, 200000]}`) is a pair of them.
    if isinstance(value, list | tuple):
        return all(_is_secret_free(v) for v in value)
    return value is None or isinstance(value, bool | int | float)


def redact(value: Any) -> Any:
    """Copy a changes/metadata structure with every secret-looking key's value replaced."""
    if isinstance(value, dict):
        return {
            k: (
                REDACTED
                if _SECRET_KEY.search(str(k)) and not _PUBLIC_KEY.search(str(k)) and not _is_secret_free(v)
                else redact(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


@dataclass(frozen=True)
class Record:
    """One event to append, as audit_record() takes it; for audit_record_all()."""

    action: str
    target: models.Model | None = None
    target_type: str = ""
    target_id: str = ""
    outcome: str = Outcome.SUCCESS
    changes: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None

    @property
    def category(self) -> str:
        return self.action.partition(".")[0]


@dataclass(frozen=True)
class HistoryEntry:
    """One event of an object's history, as a page beside the object shows it."""

    occurred_at: datetime
    actor_label: str
    action: str
    outcome: str
    category: str


class Trail(Protocol):
    """What the audit app provides: build an event as it stands now (actor, time), write built events, and read
    one object's history back (so that a page can show who saw or changed it without importing the audit app)."""

    def event(self, record: Record, organization_id: int) -> Any: ...

    def write(self, events: list[Any]) -> None: ...

    def history(self, subject_id: str, *, limit: int) -> list[HistoryEntry]: ...


_trail: Trail | None = None


def trail_install(trail: Trail) -> None:
    """Called once by the audit app when Django starts."""
    global _trail
    _trail = trail


def audit_history(*, subject_id: str, limit: int = 50) -> list[HistoryEntry]:
    """The newest `limit` events naming `subject_id` (a task's uuid: its own events and every page that listed
    it), newest first, for the organization in context."""
    return _installed().history(subject_id, limit=limit)


def _installed() -> Trail:
    if _trail is None:
        raise RuntimeError("No audit trail is installed: the audit app must be in INSTALLED_APPS.")
    return _trail


# Benchmarks only: measures what recording costs. Deliberately not a setting, so no deployment can turn it off.
_recording_disabled: ContextVar[bool] = ContextVar("audit_recording_disabled", default=False)


@contextmanager
def audit_recording_disabled_for_benchmark() -> Iterator[None]:
    token = _recording_disabled.set(True)
    try:
        yield
    finally:
        _recording_disabled.reset(token)


def _build(record: Record, organization_id: int | None = None) -> Any:
    action_check(record.action, record.outcome)
    if organization_id is None:
        organization_id = current_organization_id()
    return _installed().event(record, organization_id)


def audit_record(
    *,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str = "",
    outcome: str = Outcome.SUCCESS,
    changes: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """Append one event for the organization in context, in the caller's transaction, and return it.

    `action` is `category.verb` (for example `project.update`), declared in core.audit.actions; the category is
    what numbering, sealing, retention and filters use.
    """
    if _recording_disabled.get():
        action_check(action, outcome)
        return None
    event = _build(Record(action, target, target_type, target_id, outcome, changes, metadata))
    _installed().write([event])
    return event


def audit_record_all(*records: Record) -> list[Any]:
    """Append several events of different categories at once, in the caller's transaction: one statement numbers
    and writes them all, so the counters' rows are locked for one round trip less."""
    categories = [r.category for r in records]
    if len(set(categories)) != len(categories):
        raise ValueError(f"audit_record_all takes one event per category, got {categories}")
    if _recording_disabled.get():
        for r in records:
            action_check(r.action, r.outcome)
        return []
    events = [_build(r) for r in records]
    _installed().write(events)
    return events


# Refusals of the request being served, held until its transaction is over; None outside a request.
_denied_pending: ContextVar[list[tuple[int, Any]] | None] = ContextVar("audit_denied_pending", default=None)


@contextmanager
def audit_denied_after_request() -> Iterator[None]:
    """Hold the refusals recorded inside the block and write them when it ends: around a request, once the
    request's transaction is over, committed or rolled back (core.middleware.RequestContextMiddleware).

    A refusal is the one thing a failed request must leave behind, yet everything it writes in the request's
    transaction goes when that transaction is rolled back, and every error answer rolls it back
    (core.api.base.RequestTransactionMixin). Django has no "on rollback" hook, so the refusal is kept in memory,
    built when it happens (who, when, from where), and written after the block in a transaction of its own. The
    alternative, a second database connection with its own transaction, would cost every web process a second
    connection, would have to set the tenant on it too, and could wait forever on a counter row the request's own
    transaction had locked (an `access.*` event earlier in the same request).
    """
    pending: list[tuple[int, Any]] = []
    token = _denied_pending.set(pending)
    try:
        yield
    finally:
        _denied_pending.reset(token)
        for organization_id, event in pending:
            _denied_write(organization_id, event)


def audit_record_denied(
    *,
    organization_id: int,
    action: str,
    target_type: str = "",
    target_id: str = "",
    metadata: dict[str, Any] | None = None,
) -> None:
    """Record a refused attempt in a transaction of its own, so that the refused request's rollback does not erase
    it: within a request, after the request's transaction (audit_denied_after_request); elsewhere, at once."""
    if _recording_disabled.get():
        return
    try:
        event = _build(
            Record(action, target_type=target_type, target_id=target_id, outcome=Outcome.DENIED, metadata=metadata),
            organization_id=organization_id,
        )
    except Exception:
        logger.exception("audit.denied_not_recorded", extra={"action": action, "organization_id": organization_id})
        return
    pending = _denied_pending.get()
    if pending is None:
        _denied_write(organization_id, event)
    else:
        pending.append((organization_id, event))


def _denied_write(organization_id: int, event: Any) -> None:
    try:
        with organization_context(organization_id):
            _installed().write([event])
    except Exception:
        # A failure to record a denial must not turn a 403/404 into a 500; the log still carries it.
        action = getattr(event, "action", "")
        logger.exception("audit.denied_not_recorded", extra={"action": action, "organization_id": organization_id})
