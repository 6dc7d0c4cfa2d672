"""The audit trail's writer, which core.audit.record calls: events numbered without gaps per organization and
category, with their subjects and MACs, in the caller's transaction."""

import json
import logging
from typing import Any

from audit import sql
from audit.macs import event_mac_for
from audit.models import AuditEvent
from audit.selectors.events import audit_event_page
from audit.selectors.query import AuditQuery
from core.audit.context import current_actor
from core.audit.record import HistoryEntry, Outcome, Record, redact
from core.db import prepared_cursor, sql_statement, values_rows

logger = logging.getLogger(__name__)


def _event(record: Record, organization_id: int) -> AuditEvent:
    """The event as it stands now (actor, time)."""
    category = record.category
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


# Put on the trail when a writer finds its number taken, or the sealer an event the platform did not write.
INTEGRITY_ALERT = "audit.integrity_alert"
# Rounds of renumbering before a write gives up: a second round is needed only if rows keep being forged ahead of
# the counter while this transaction holds its lock.
_RENUMBER_ROUNDS = 3


def _insert_numbered_all(events: list[AuditEvent], *, alert: bool = True) -> None:
    """Number and insert events of distinct categories, with their subjects and MACs, in one statement: each
    counter's row lock is taken and every table written in a single round trip, with no savepoint, inside the
    caller's transaction. Counters are locked in category order, the same in every transaction.

    A number the counter gives out can be taken already only by a row written outside the platform (numbers are
    handed out under the counter's lock, each with its event). Such a row must not turn every later write of its
    category into a unique-violation error: the event insert skips a taken number (ON CONFLICT DO NOTHING), and
    the events it could not place are numbered again past every row of their category, in the same transaction,
    with an integrity alert. The forged row stays where it is, for the sealer to stop at and the verifiers to
    name (audit.services.integrity). This costs nothing on the normal path: the conflict check is the unique index probe
    the insert makes anyway.
    """
    pending = events
    for _ in range(_RENUMBER_ROUNDS):
        taken = _write_numbered(pending)
        if not taken:
            return
        organization_id = pending[0].organization_id
        for category, sequence in sorted(taken.items()):
            logger.error(
                "audit.sequence_taken",
                extra={"organization_id": organization_id, "category": category, "sequence": sequence},
            )
        _counters_skip_taken(organization_id, sorted(taken))
        pending = [event for event in pending if event.category in taken]
        if alert:
            _write_sequence_taken_alerts(organization_id, taken)
    raise RuntimeError(f"audit numbers keep being taken by rows written outside the platform: {sorted(taken)}")


def _write_numbered(events: list[AuditEvent]) -> dict[str, int]:
    """One numbering statement; returns the numbers that were taken already, by category (nothing written)."""
    ordered = sorted(enumerate(events), key=lambda pair: pair[1].category)
    organization_id = events[0].organization_id
    given: list[dict[str, Any]] = []
    named: list[dict[str, Any]] = []
    for ordinal, event in ordered:
        event.mac = event_mac_for(event)
        given.append(
            {
                "ordinal": ordinal,
                "occurred_at": event.occurred_at,
                "action": event.action,
                "category": event.category,
                "outcome": event.outcome,
                "actor_user_id": event.actor_user_id,
                "actor_label": event.actor_label,
                "actor_token_prefix": event.actor_token_prefix,
                "ip": event.ip,
                "user_agent": event.user_agent,
                "request_id": event.request_id,
                "target_type": event.target_type,
                "target_id": event.target_id,
                "changes": json.dumps(event.changes),
                "metadata": json.dumps(event.metadata),
                "mac": event.mac,
            }
        )
        named.extend({"ordinal": ordinal, "subject": subject} for subject in subject_ids(event))
    counters = [{"organization": organization_id, "category": event.category} for _, event in ordered]
    counter_rows, counter_params = values_rows("counter", sql.COUNTER_ROW, counters)
    given_rows, given_params = values_rows("given", sql.GIVEN_ROW, given)
    subject_rows, subject_params = values_rows("subject", sql.SUBJECT_ROW, named, empty=sql.EMPTY_SUBJECT_ROWS)
    statement = sql_statement(
        sql.NUMBER_AND_RECORD, counter_rows=counter_rows, given_rows=given_rows, subject_rows=subject_rows
    )
    with prepared_cursor() as cursor:
        cursor.execute(
            statement,
            {"organization": organization_id, **counter_params, **given_params, **subject_params},
        )
        numbered = {category: (pk, sequence) for category, pk, sequence in cursor.fetchall()}
    taken = {category: sequence for category, (pk, sequence) in numbered.items() if pk is None}
    for event in events:
        pk, sequence = numbered[event.category]
        if pk is not None:
            event.pk, event.sequence = pk, sequence
            event._state.adding = False
    return taken


def _counters_skip_taken(organization_id: int, categories: list[str]) -> None:
    """Move the counters past every row of their category, so that the next number is free whatever was forged
    ahead of it (the counter rows are already locked by this transaction)."""
    with prepared_cursor() as cursor:
        cursor.execute(sql.COUNTERS_SKIP_TAKEN, {"organization": organization_id, "categories": categories})


def _write_sequence_taken_alerts(organization_id: int, taken: dict[str, int]) -> None:
    for category, sequence in sorted(taken.items()):
        problem = (
            f"Event {category} #{sequence} was in place before the platform numbered it: it was written outside the "
            "platform. The event being recorded took the next free number."
        )
        alert = _event(
            Record(
                INTEGRITY_ALERT,
                target_type="audit.event",
                target_id=f"{category}:{sequence}",
                outcome=Outcome.FAILURE,
                metadata={"category": category, "sequence": sequence, "kind": "sequence_taken", "problem": problem},
            ),
            organization_id=organization_id,
        )
        # Not alerting about the alert: if its own number is taken, renumbering it is enough (the log has it).
        _insert_numbered_all([alert], alert=False)


class AuditTrail:
    """The writer core.audit.record uses; installed by audit.apps when Django starts."""

    def event(self, record: Record, organization_id: int) -> AuditEvent:
        return _event(record, organization_id)

    def write(self, events: list[AuditEvent]) -> None:
        _insert_numbered_all(events)

    def history(self, subject_id: str, *, limit: int) -> list[HistoryEntry]:
        page = audit_event_page(AuditQuery(target_id=subject_id), limit=limit)
        return [HistoryEntry(e.occurred_at, e.actor_label, e.action, e.outcome, e.category) for e in page.events]
