"""Reads of the audit trail, for the organization in context.

Interface for the API and the audit UI:

- `audit_event_search(query) -> QuerySet[AuditEvent]`: the events matching an `audit.query.AuditQuery`, newest
  first (`-id`). Page it by keyset: `.filter(id__lt=last_id)[:n]`, or use `audit_event_page`.
- `audit_event_page(query, *, before=None, limit=50) -> AuditEventPage`: one page newest first, and the id to pass
  as `before` for the next one (None on the last page). Never counts, so it stays fast on any size of trail.
- `audit_event_list()`: every event, newest first.

Every filter is served by one of the `(organization, <column>, id)` indexes, so a page is an index range scan
read backwards, not a sort (see docs/audit.md, "Search at scale").
"""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from audit.models import AuditEvent
from audit.query import AuditQuery
from tenancy.models import Membership

PROJECT_TYPE = "projects.project"
TASK_TYPE = "projects.task"


def audit_event_list() -> QuerySet[AuditEvent]:
    """Every event of the organization in context, newest first."""
    return AuditEvent.objects.order_by("-id")


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


def _target_filter(target_type: str | None, target_id: str | None) -> Q:
    condition = Q()
    if target_type:
        condition &= Q(target_type=target_type)
    if target_id:
        condition &= Q(target_id=target_id)
        if target_type in (None, TASK_TYPE):
            # "Who saw task X": a task list names the tasks of its page in metadata.task_ids (GIN-indexed).
            condition |= Q(metadata__task_ids__contains=[target_id])
    return condition


def audit_event_search(query: AuditQuery) -> QuerySet[AuditEvent]:
    """The events matching `query`, newest first."""
    events = AuditEvent.objects.all()
    if query.actor:
        events = events.filter(_actor_filter(query.actor))
    if query.token:
        events = events.filter(actor_token_prefix=query.token)
    if query.action:
        events = events.filter(_action_filter(query.action))
    if query.category:
        events = events.filter(category=query.category)
    if query.target_type or query.target_id:
        events = events.filter(_target_filter(query.target_type, query.target_id))
    if query.project:
        events = events.filter(
            Q(target_type=PROJECT_TYPE, target_id=query.project) | Q(metadata__project=query.project)
        )
    if query.outcome:
        events = events.filter(outcome=query.outcome)
    if query.since:
        events = events.filter(occurred_at__gte=query.since)
    if query.until:
        events = events.filter(occurred_at__lt=query.until)
    for word in query.text:
        events = events.filter(
            Q(actor_label__icontains=word)
            | Q(action__icontains=word)
            | Q(target_type__icontains=word)
            | Q(target_id__icontains=word)
        )
    return events.order_by("-id")


@dataclass(frozen=True)
class AuditEventPage:
    events: list[AuditEvent]
    next_before: int | None  # pass as `before` for the next (older) page; None when this is the last page


def audit_event_page(query: AuditQuery, *, before: int | None = None, limit: int = 50) -> AuditEventPage:
    """One keyset page of `audit_event_search(query)`, older than the event id `before` when given."""
    events = audit_event_search(query)
    if before is not None:
        events = events.filter(id__lt=before)
    rows = list(events[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditEventPage(events=rows, next_before=rows[-1].pk if more and rows else None)
