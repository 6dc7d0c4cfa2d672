"""Reads of the audit trail, for the organization in context.

Interface for the API and the audit UI:

- `audit_event_search(query) -> QuerySet[AuditEvent]`: the events matching an `audit.selectors.query.AuditQuery`, newest
  first by (occurred_at, id), a total order. Page it by keyset with `audit_events_older` / `audit_events_newer`
  and an `EventPosition`, or use `audit_event_page`.
- `audit_event_page(query, *, before=None, limit=50) -> AuditEventPage`: one page newest first, and the position
  to pass as `before` for the next one (None on the last page). Never counts, so it stays fast on any size of trail.
- `EventPosition`: where an event stands in that order; `token()` / `EventPosition.parse()` carry it in a URL.
- `audit_event_list()`: every event, newest first.

Every filter is served by one of the `(organization, <column>, occurred_at, id)` indexes, and `target:<id>` by
the subject table's `(organization, subject_id, occurred_at, event)` index, so a page is an index range scan read
backwards, not a sort (see docs/audit.md, "Search at scale").
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import F, Q, QuerySet

from audit.models import AuditEvent
from audit.selectors.query import AuditQuery
from core.context import current_organization_id
from tenancy.models import Membership

PROJECT_TYPE = "projects.project"
TASK_TYPE = "projects.task"


# The list's sort key, under names of its own: an event's (occurred_at, id), or, when the events are reached
# through the subject table, that table's copy of them, so that its index gives the order (see `_subjects_of`).
KEY_TIME = "list_key_time"
KEY_ID = "list_key_id"
NEWEST_FIRST = (f"-{KEY_TIME}", f"-{KEY_ID}")
OLDEST_FIRST = (KEY_TIME, KEY_ID)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TOKEN = re.compile(r"^(\d{1,17})-(\d{1,18})$")


@dataclass(frozen=True, order=True)
class EventPosition:
    """Where an event stands in the list's order: (occurred_at, id), compared in that order."""

    occurred_at: datetime
    id: int

    @classmethod
    def of(cls, event: AuditEvent) -> "EventPosition":
        return cls(event.occurred_at, event.pk)

    def token(self) -> str:
        """`<microseconds since 1970 UTC>-<id>`: exact (the database keeps microseconds) and URL-safe."""
        return f"{(self.occurred_at - _EPOCH) // timedelta(microseconds=1)}-{self.id}"

    @classmethod
    def parse(cls, token: str) -> "EventPosition | None":
        """The position a `token()` names; None for anything else."""
        match = _TOKEN.match(token or "")
        if match is None:
            return None
        return cls(_EPOCH + timedelta(microseconds=int(match.group(1))), int(match.group(2)))

    def next_id(self) -> "EventPosition":
        """The position just after this one: nothing lies between them, so "older than it" includes this event."""
        return EventPosition(self.occurred_at, self.id + 1)

    def previous_id(self) -> "EventPosition":
        """The position just before this one: "newer than it" includes this event."""
        return EventPosition(self.occurred_at, self.id - 1)


def _keyed(events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    return events.alias(**{KEY_TIME: F("occurred_at"), KEY_ID: F("id")})


def audit_event_list() -> QuerySet[AuditEvent]:
    """Every event of the organization in context, newest first."""
    return _keyed(AuditEvent.objects.all()).order_by(*NEWEST_FIRST)


def audit_events_older(events: QuerySet[AuditEvent], position: EventPosition) -> QuerySet[AuditEvent]:
    """The events of a search strictly older than `position`, newest first."""
    # `time <= t` bounds the index range; the OR, which an index cannot bound, only sorts out the ties at t.
    return events.filter(
        Q(**{f"{KEY_TIME}__lt": position.occurred_at})
        | Q(**{KEY_TIME: position.occurred_at, f"{KEY_ID}__lt": position.id}),
        **{f"{KEY_TIME}__lte": position.occurred_at},
    ).order_by(*NEWEST_FIRST)


def audit_events_newer(events: QuerySet[AuditEvent], position: EventPosition) -> QuerySet[AuditEvent]:
    """The events of a search strictly newer than `position`, oldest first (the nearest first)."""
    return events.filter(
        Q(**{f"{KEY_TIME}__gt": position.occurred_at})
        | Q(**{KEY_TIME: position.occurred_at, f"{KEY_ID}__gt": position.id}),
        **{f"{KEY_TIME}__gte": position.occurred_at},
    ).order_by(*OLDEST_FIRST)


def _actor_filter(actor: str) -> Q:
    if "@" in actor:
        return Q(actor_label=actor)
    # A bare name is an e-mail's local part: resolve it to the members' addresses, so that the filter stays an
    # equality the (organization, actor_label, id) index serves rather than a LIKE over the whole trail.
    labels = sorted(
        Membership.objects.filter(user__email__istartswith=f"{actor}@").values_list("user__email", flat=True)
    )
    labels = [label for label in labels if label.split("@", 1)[0].lower() == actor.lower()]
    if not labels:
        return Q(actor_label=actor)
    return Q(actor_label=labels[0]) if len(labels) == 1 else Q(actor_label__in=labels)


def _action_filter(action: str) -> Q:
    if not action.endswith("*"):
        return Q(action=action)
    stem = action[:-1]
    category, dot, verb = stem.partition(".")
    if dot and not verb:
        # `export.*` is exactly the category `export` (the category is the action's part before the dot),
        # which the (organization, category, id) index serves.
        return Q(category=category)
    return Q(action__startswith=stem)


def _subjects_of(events: QuerySet[AuditEvent], subject_id: str) -> QuerySet[AuditEvent]:
    """The events that name `subject_id` (their target, or a task their task list served), keyed by the subject
    rows' copy of (occurred_at, id): one range of the subject index, newest first, joined to its events."""
    # One filter() call, so the organization and the id constrain the same join (and reach the index together).
    named = events.filter(subjects__organization_id=current_organization_id(), subjects__subject_id=subject_id)
    return named.alias(**{KEY_TIME: F("subjects__occurred_at"), KEY_ID: F("subjects__event_id")})


def _target(events: QuerySet[AuditEvent], target_type: str | None, target_id: str | None) -> QuerySet[AuditEvent]:
    if target_id and target_type in (None, TASK_TYPE):
        # "Who saw task X": the task's own events and every task list whose page showed it.
        events = _subjects_of(events, target_id)
        if target_type == TASK_TYPE:
            # A task list names the task without being its target (its target is the project): keep those.
            events = events.filter(Q(target_type=TASK_TYPE) | ~Q(target_id=target_id))
        return events
    events = _keyed(events)
    if target_type:
        events = events.filter(target_type=target_type)
    if target_id:
        events = events.filter(target_id=target_id)
    return events


def audit_event_search(query: AuditQuery) -> QuerySet[AuditEvent]:
    """The events matching `query`, newest first."""
    events = AuditEvent.objects.all()
    if query.target_type or query.target_id:
        events = _target(events, query.target_type, query.target_id)
    else:
        events = _keyed(events)
    if query.actor:
        events = events.filter(_actor_filter(query.actor))
    if query.token:
        events = events.filter(actor_token_prefix=query.token)
    if query.action:
        events = events.filter(_action_filter(query.action))
    if query.category:
        events = events.filter(category=query.category)
    if query.project:
        events = events.filter(
            Q(target_type=PROJECT_TYPE, target_id=query.project) | Q(metadata__project=query.project)
        )
    if query.outcome:
        events = events.filter(outcome=query.outcome)
    if query.since:
        events = events.filter(**{f"{KEY_TIME}__gte": query.since})
    if query.until:
        events = events.filter(**{f"{KEY_TIME}__lt": query.until})
    for word in query.text:
        events = events.filter(
            Q(actor_label__icontains=word)
            | Q(action__icontains=word)
            | Q(target_type__icontains=word)
            | Q(target_id__icontains=word)
        )
    return events.order_by(*NEWEST_FIRST)


@dataclass(frozen=True)
class AuditEventPage:
    events: list[AuditEvent]
    next_before: EventPosition | None  # pass as `before` for the next (older) page; None on the last page


def audit_event_page(query: AuditQuery, *, before: EventPosition | None = None, limit: int = 50) -> AuditEventPage:
    """One keyset page of `audit_event_search(query)`, older than the position `before` when given."""
    events = audit_event_search(query)
    if before is not None:
        events = audit_events_older(events, before)
    rows = list(events[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditEventPage(events=rows, next_before=EventPosition.of(rows[-1]) if more and rows else None)
