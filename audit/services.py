"""Recording audit events. Every state-changing service calls audit_record inside its own transaction."""

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Model

from audit.context import current_actor
from audit.models import AuditEvent, AuditSequence, AuditSubject, Outcome
from tenancy.context import current_organization_id, organization_context
from tenancy.db import prepared_cursor

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


@dataclass(frozen=True)
class Record:
    """One event to append, as audit_record() takes it; for audit_record_all()."""

    action: str
    target: Model | None = None
    target_type: str = ""
    target_id: str = ""
    outcome: str = Outcome.SUCCESS
    changes: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


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
    event = _event(Record(action, target, target_type, target_id, outcome, changes, metadata))
    if _recording_disabled.get():
        return event
    if connection.vendor == "postgresql":
        _insert_numbered(event)
    else:
        with transaction.atomic():
            event.sequence = _next_sequence(event.organization_id, event.category)
            event.save(force_insert=True)
            AuditSubject.objects.bulk_create(
                AuditSubject(
                    organization_id=event.organization_id,
                    subject_id=subject,
                    occurred_at=event.occurred_at,
                    event=event,
                )
                for subject in subject_ids(event)
            )
    return event


def audit_record_all(*records: Record) -> list[AuditEvent]:
    """Append several events of different categories at once, in the caller's transaction: on PostgreSQL one
    statement numbers and writes them all, so the counters' rows are locked for one round trip less."""
    categories = [r.action.partition(".")[0] for r in records]
    if len(set(categories)) != len(categories):
        raise ValueError(f"audit_record_all takes one event per category, got {categories}")
    if connection.vendor != "postgresql" or _recording_disabled.get():
        return [audit_record(**vars(r)) for r in records]
    events = [_event(r) for r in records]
    _insert_numbered_all(events)
    return events


def _event(record: Record) -> AuditEvent:
    category, _, verb = record.action.partition(".")
    if not category or not verb:
        raise ValueError(f"audit action must be 'category.verb', got {record.action!r}")
    organization_id = current_organization_id()
    if _recording_disabled.get():
        return AuditEvent(organization_id=organization_id, action=record.action, category=category)
    target_type, target_id, target = record.target_type, record.target_id, record.target
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(getattr(target, "uuid", None) or target.pk)
    actor = current_actor()
    return AuditEvent(
        organization_id=organization_id,
        action=record.action,
        category=category,
        outcome=record.outcome,
        actor_user_id=actor.user_id,
        actor_label=actor.user_label,
        actor_token_prefix=actor.token_prefix,
        ip=actor.ip,
        user_agent=actor.user_agent,
        request_id=actor.request_id,
        target_type=target_type,
        target_id=target_id,
        changes=redact(record.changes or {}),
        metadata=redact(record.metadata or {}),
    )


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
    """Number and insert one event and its subjects in one statement (PostgreSQL)."""
    _insert_numbered_all([event])


# One row of the events to write, every value cast so that a NULL in any row still has its column's type.
_GIVEN_ROW = (
    "(%s::int, %s::varchar, %s::timestamptz, %s::varchar, %s::varchar, %s::bigint, %s::varchar, %s::varchar,"
    " %s::inet, %s::varchar, %s::varchar, %s::varchar, %s::varchar, %s::jsonb, %s::jsonb)"
)


def _insert_numbered_all(events: list[AuditEvent]) -> None:
    """Number and insert events of distinct categories, with their subjects, in one statement (PostgreSQL): each
    counter's row lock is taken and every table written in a single round trip, with no savepoint, inside the
    caller's transaction. Counters are locked in category order, the same in every transaction."""
    counters = AuditSequence._meta.db_table
    events_table = AuditEvent._meta.db_table
    subjects = AuditSubject._meta.db_table
    ordered = sorted(enumerate(events), key=lambda pair: pair[1].category)
    organization_id = events[0].organization_id
    given: list[Any] = []
    named: list[Any] = []
    for ordinal, event in ordered:
        given += [
            ordinal,
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
        ]
        for subject in subject_ids(event):
            named += [ordinal, subject]
    subject_rows = ", ".join(["(%s::int, %s::varchar)"] * (len(named) // 2)) or "(NULL::int, NULL::varchar)"
    with prepared_cursor() as cursor:
        cursor.execute(
            f"WITH numbered AS ("  # noqa: S608 - table names are ours, every value is a parameter
            f" INSERT INTO {counters} (organization_id, category, last_value)"
            f" VALUES {', '.join(['(%s, %s, 1)'] * len(ordered))}"
            f" ON CONFLICT (organization_id, category) DO UPDATE SET last_value = {counters}.last_value + 1"
            " RETURNING category, last_value),"
            " given (ordinal, category, occurred_at, action, outcome, actor_user_id, actor_label,"
            " actor_token_prefix, ip, user_agent, request_id, target_type, target_id, changes, metadata) AS ("
            f" VALUES {', '.join([_GIVEN_ROW] * len(ordered))}),"
            f" recorded AS (INSERT INTO {events_table} (organization_id, category, sequence, occurred_at, action,"
            " outcome, actor_user_id, actor_label, actor_token_prefix, ip, user_agent, request_id, target_type,"
            " target_id, changes, metadata)"
            " SELECT %s, g.category, n.last_value, g.occurred_at, g.action, g.outcome, g.actor_user_id,"
            " g.actor_label, g.actor_token_prefix, g.ip, g.user_agent, g.request_id, g.target_type, g.target_id,"
            " g.changes, g.metadata FROM given g JOIN numbered n ON n.category = g.category"
            " RETURNING id, category, sequence, organization_id, occurred_at),"
            f" named AS (INSERT INTO {subjects} (organization_id, subject_id, occurred_at, event_id)"
            " SELECT r.organization_id, s.subject, r.occurred_at, r.id FROM recorded r"
            " JOIN given g ON g.category = r.category"
            f" JOIN (VALUES {subject_rows}) AS s (ordinal, subject) ON s.ordinal = g.ordinal)"
            " SELECT category, id, sequence FROM recorded",
            [
                *(value for _, event in ordered for value in (organization_id, event.category)),
                *given,
                organization_id,
                *named,
            ],
        )
        written = {category: (pk, sequence) for category, pk, sequence in cursor.fetchall()}
    for event in events:
        event.pk, event.sequence = written[event.category]
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
