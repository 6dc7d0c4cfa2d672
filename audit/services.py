"""Recording audit events. Every state-changing service calls audit_record inside its own transaction."""

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection, transaction
from django.db.models import Model

from audit.context import current_actor
from audit.models import AuditEvent, AuditSequence, AuditSubject, Outcome
from tenancy.context import current_organization_id, organization_context

logger = logging.getLogger(__name__)

_SECRET_KEY = re.compile(r"(secret|password|token|key_hash|api_key|credential)", re.IGNORECASE)
# A public id or prefix of a credential names it without revealing it (`token_id` of a probed token).
_PUBLIC_KEY = re.compile(r"_(id|prefix)$", re.IGNORECASE)
REDACTED = "[redacted]"


def _is_secret_free(value: Any) -> bool:
    # Counts, flags and nulls cannot carry a secret; keeping them keeps `{"tokens_revoked": 2}` readable.
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


# Benchmarks only: measures what recording costs. Deliberately not a setting, so no deployment can turn it off.
_recording_disabled: ContextVar[bool] = ContextVar("audit_recording_disabled", default=False)


@contextmanager
def audit_recording_disabled_for_benchmark() -> Iterator[None]:
    token = _recording_disabled.set(True)
    try:
        yield
    finally:
        _recording_disabled.reset(token)


def _next_sequence(organization_id: int, category: str) -> int:
    table = AuditSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organization_id, category, last_value) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT (organization_id, category) DO UPDATE SET last_value = {table}.last_value + 1 "
            "RETURNING last_value",
            [organization_id, category],
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def audit_record(
    *,
    action: str,
    target: Model | None = None,
    target_type: str = "",
    target_id: str = "",
    outcome: str = Outcome.SUCCESS,
    changes: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event for the organization in context, in the caller's transaction.

    `action` is `category.verb` (for example `project.update`); the category is what retention and filters use.
    """
    category, _, verb = action.partition(".")
    if not category or not verb:
        raise ValueError(f"audit action must be 'category.verb', got {action!r}")
    organization_id = current_organization_id()
    if _recording_disabled.get():
        return AuditEvent(organization_id=organization_id, action=action, category=category)
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(getattr(target, "uuid", None) or target.pk)
    actor = current_actor()
    event = AuditEvent(
        organization_id=organization_id,
        action=action,
        category=category,
        outcome=outcome,
        actor_user_id=actor.user_id,
        actor_label=actor.user_label,
        actor_token_prefix=actor.token_prefix,
        ip=actor.ip,
        user_agent=actor.user_agent,
        request_id=actor.request_id,
        target_type=target_type,
        target_id=target_id,
        changes=redact(changes or {}),
        metadata=redact(metadata or {}),
    )
    if connection.vendor == "postgresql":
        _insert_numbered(event)
    else:
        with transaction.atomic():
            event.sequence = _next_sequence(organization_id, category)
            event.save(force_insert=True)
            AuditSubject.objects.bulk_create(
                AuditSubject(
                    organization_id=organization_id, subject_id=subject, occurred_at=event.occurred_at, event=event
                )
                for subject in subject_ids(event)
            )
    return event


SUBJECT_ID_MAX = 64


def subject_ids(event: AuditEvent) -> list[str]:
    """The objects an event names, for `target:` searches: its own target, then each task a task list served."""
    named: list[str] = [event.target_id] if event.target_id else []
    listed = event.metadata.get("task_ids") if isinstance(event.metadata, dict) else None
    if isinstance(listed, list):
        named.extend(task_id for task_id in listed if isinstance(task_id, str))
    # An id longer than any public id cannot be searched for (`target:` accepts 64 characters) and is left out.
    return [subject for subject in dict.fromkeys(named) if 0 < len(subject) <= SUBJECT_ID_MAX]


def _insert_numbered(event: AuditEvent) -> None:
    """Number and insert the event and its subjects in one statement (PostgreSQL): the counter's row lock is taken
    and both tables written in a single round trip, with no savepoint, inside the caller's transaction."""
    counters = AuditSequence._meta.db_table
    events = AuditEvent._meta.db_table
    subjects = AuditSubject._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH numbered AS ("  # noqa: S608 - table names are ours, every value is a parameter
            f" INSERT INTO {counters} (organization_id, category, last_value) VALUES (%s, %s, 1)"
            f" ON CONFLICT (organization_id, category) DO UPDATE SET last_value = {counters}.last_value + 1"
            " RETURNING last_value),"
            f" recorded AS (INSERT INTO {events} (organization_id, category, sequence, occurred_at, action, outcome,"
            " actor_user_id, actor_label, actor_token_prefix, ip, user_agent, request_id, target_type, target_id,"
            " changes, metadata)"
            " SELECT %s, %s, numbered.last_value, %s, %s, %s, %s, %s, %s, %s::inet, %s, %s, %s, %s, %s::jsonb,"
            " %s::jsonb FROM numbered RETURNING id, sequence, organization_id, occurred_at),"
            f" named AS (INSERT INTO {subjects} (organization_id, subject_id, occurred_at, event_id)"
            " SELECT recorded.organization_id, subject.id, recorded.occurred_at, recorded.id"
            " FROM recorded, unnest(%s::varchar[]) AS subject(id))"
            " SELECT id, sequence FROM recorded",
            [
                event.organization_id,
                event.category,
                event.organization_id,
                event.category,
                event.occurred_at,
                event.action,
                event.outcome,
                event.actor_user_id,
                event.actor_label,
                event.actor_token_prefix,
                event.ip,
                event.user_agent,
                event.request_id,
                event.target_type,
                event.target_id,
                json.dumps(event.changes),
                json.dumps(event.metadata),
                subject_ids(event),
            ],
        )
        row = cursor.fetchone()
    assert row is not None
    event.pk, event.sequence = row
    event._state.adding = False


def audit_record_denied(
    *,
    organization_id: int,
    action: str,
    target_type: str = "",
    target_id: str = "",
    metadata: dict[str, Any] | None = None,
) -> None:
    """Record a refused attempt in its own transaction, so that the refusal's rollback does not erase it."""
    try:
        with organization_context(organization_id):
            audit_record(
                action=action, target_type=target_type, target_id=target_id, outcome=Outcome.DENIED, metadata=metadata
            )
    except Exception:
        # A failure to record a denial must not turn a 403/404 into a 500; the log still carries it.
        logger.exception("audit.denied_not_recorded", extra={"action": action, "organization_id": organization_id})
