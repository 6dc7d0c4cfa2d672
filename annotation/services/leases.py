"""A lease's life after the claim: heartbeat, skip, release, expiry (the reaper), and its fencing check.

Every transition that ends a live assignment without a result gives its slot back (`taken - 1`) in the same
transaction, so the task can go to someone else; a submit keeps the slot (the work is done) and counts it.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from annotation import permissions, sql
from annotation.models import LIVE_STATES, Assignment, AssignmentState
from annotation.selectors.assignments import uuid_or_none
from core.audit.record import audit_record
from core.context import current_organization_id
from core.db import prepared_cursor, row_instance
from core.errors import Conflict
from projects.models import Project, Task
from tenancy.models import Membership
from tenancy.permissions import check

logger = logging.getLogger(__name__)


class LeaseLost(Conflict):
    """The lease presented is not the live one: it expired, was revoked, or a newer lease replaced it."""

    code = "lease_lost"


def lease_check(*, assignment: Assignment, lease_token: Any) -> None:
    """Refuse a stale or foreign lease token; the assignment must be locked by the caller."""
    presented = uuid_or_none(lease_token)
    if assignment.state != AssignmentState.ACTIVE or assignment.lease_token != presented:
        raise LeaseLost(
            "This lease is no longer yours: it expired, was revoked or replaced. Your work was not saved; "
            "ask for the next task."
        )


def own_assignment_for_update(*, actor: Membership, assignment_uuid: Any) -> Assignment | None:
    """The actor's own assignment, locked; None when it does not exist or is someone else's."""
    public_id = uuid_or_none(assignment_uuid)
    if public_id is None:
        return None
    # By hand, planned once per connection: every heartbeat and submit starts with it.
    with prepared_cursor() as cursor:
        cursor.execute(
            sql.OWN_ASSIGNMENT_FOR_UPDATE,
            {"uuid": public_id, "member": actor.pk, "organization": current_organization_id()},
        )
        row = cursor.fetchone()
    if row is None:
        return None
    first, second = len(Assignment._meta.concrete_fields), len(Task._meta.concrete_fields)
    assignment = row_instance(Assignment, row[:first])
    assignment.task = row_instance(Task, row[first : first + second])
    assignment.project = row_instance(Project, row[first + second :])
    return assignment


def assignment_heartbeat(*, assignment: Assignment, lease_token: Any, now: datetime | None = None) -> Assignment:
    """Extend a live lease by the project's lease length. Not audited: it changes no outcome, only a deadline."""
    now = now or timezone.now()
    with transaction.atomic():
        lease_check(assignment=assignment, lease_token=lease_token)
        if assignment.lease_expires_at is not None and assignment.lease_expires_at <= now:
            # Lapsed: a claim of the same member may already count it as gone and have issued a new lease, so
            # reviving it could leave two. The work can still be submitted until the reaper expires it.
            raise LeaseLost("This lease expired; submit your work now or ask for the next task.")
        assignment.lease_expires_at = now + timedelta(seconds=assignment.project.lease_seconds)
        Assignment.objects.filter(pk=assignment.pk).update(lease_expires_at=assignment.lease_expires_at)
    return assignment


def _give_back(assignment: Assignment, state: AssignmentState, now: datetime, reason: str = "") -> None:
    """End a live assignment without a result and return its slot to the task."""
    updated = Assignment.objects.filter(pk=assignment.pk, state__in=LIVE_STATES).update(
        state=state, finished_at=now, reason=reason[:300], lease_token=None, lease_expires_at=None
    )
    if updated:
        Task.objects.filter(pk=assignment.task_id).update(taken=F("taken") - 1)
    assignment.state = state
    assignment.finished_at = now
    assignment.reason = reason[:300]


def assignment_skip(
    *, assignment: Assignment, lease_token: Any, reason: str = "", now: datetime | None = None
) -> Assignment:
    """The annotator passes on the task; it goes back to the pool and never returns to them."""
    now = now or timezone.now()
    with transaction.atomic():
        lease_check(assignment=assignment, lease_token=lease_token)
        _give_back(assignment, AssignmentState.SKIPPED, now, reason)
        audit_record(action="assignment.skip", target=assignment, metadata={"reason": reason[:300]})
    return assignment


def assignment_release(*, assignment: Assignment, lease_token: Any, now: datetime | None = None) -> Assignment:
    """The annotator hands the task back unfinished (end of shift); its slot returns to the pool."""
    now = now or timezone.now()
    with transaction.atomic():
        lease_check(assignment=assignment, lease_token=lease_token)
        _give_back(assignment, AssignmentState.RELEASED, now)
        audit_record(action="assignment.release", target=assignment)
    return assignment


def assignment_revoke(*, actor: Membership | None, assignment: Assignment, reason: str = "") -> Assignment:
    """A manager takes a queued or leased task back from its annotator; the slot returns to the pool. Without an
    actor, the platform does (a reservation nobody came for, a member no longer eligible)."""
    if actor is not None:
        check(permissions.assignment_revoke(actor))
    if assignment.state not in LIVE_STATES:
        raise Conflict(f"Only a queued or active assignment can be revoked; this one is {assignment.state}.")
    with transaction.atomic():
        _give_back(assignment, AssignmentState.REVOKED, timezone.now(), reason)
        audit_record(action="assignment.revoke", target=assignment, metadata={"reason": reason[:300]})
    return assignment


def assignments_expire(*, ids: list[int] | None = None, now: datetime | None = None, limit: int = 1000) -> int:
    """Expire lapsed leases (all of the organization's, or only `ids`), giving their slots back. Returns how many.

    One statement per batch; SKIP LOCKED so a lease being submitted right now is left alone (the submit wins), and
    two reapers never expire the same lease twice.
    """
    now = now or timezone.now()
    statement = sql.LEASES_EXPIRE if ids is None else sql.LEASES_EXPIRE_AMONG
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, {"now": now, "ids": ids or [], "limit": limit})
        expired = cursor.fetchall()
        if expired:
            _record_expiry([str(row[0]) for row in expired])
    return len(expired)


def _record_expiry(uuids: list[str]) -> None:
    # One event per batch: the reaper can expire thousands at once after an outage; each id stays findable.
    audit_record(
        action="assignment.expire",
        target_type="annotation.assignment",
        target_id=uuids[0] if len(uuids) == 1 else "",
        metadata={"count": len(uuids), "assignments": uuids[:1000]},
    )
    logger.info("assignment.expired", extra={"count": len(uuids)})


def assignments_give_back(*, annotator: Membership, reason: str) -> int:
    """Revoke every queued or active assignment of a member (removed, or newly excluded); returns how many."""
    live = Assignment.objects.select_for_update().filter(annotator=annotator, state__in=LIVE_STATES)
    count = 0
    now = timezone.now()
    for assignment in live:
        _give_back(assignment, AssignmentState.REVOKED, now, reason)
        count += 1
    return count
