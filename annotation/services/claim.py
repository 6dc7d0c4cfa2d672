"""Claiming: "give me my next task" as one short locking statement, with a lease and a fencing token.

Invariants kept here (and checked by the concurrency and property tests):
- a task's live + done assignments never exceed its overlap (the counter `taken` is raised only by a statement
  that re-checks `taken < overlap` on the row it locked);
- one annotator never gets the same task twice (UNIQUE(task, annotator));
- one annotator's concurrent claims on a project are serialised by a lock on their progress row, so a double
  click returns the same lease instead of a second task.
"""

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation import sql
from annotation.models import (
    AnnotatorProgress,
    Assignment,
    AssignmentSource,
    AssignmentState,
    QualificationState,
)
from annotation.selectors.eligibility import MemberProfile, Refusal, member_routing_facts, project_refusal
from annotation.services.leases import assignment_revoke, assignments_expire
from core.audit.record import Record, audit_record_all
from core.db import prepared_cursor, row_instance
from projects.models import Project, Task
from tenancy.models import Membership

logger = logging.getLogger(__name__)

Pool = Literal["live", "gold", "qualification"]


@dataclass(frozen=True)
class Claim:
    """The outcome of a claim: an assignment (new or the one already held), or why there is none."""

    assignment: Assignment | None
    created: bool = False
    refusal: Refusal | None = None


_NOTHING = Refusal("no_tasks", "No task is available for you on this project right now.")


def assignment_claim(*, actor: Membership, project: Project, now: datetime | None = None) -> Claim:
    """Lease the actor's next task on the project, or say why there is none."""
    now = now or timezone.now()
    with transaction.atomic():
        progress, live = _lock_progress(project=project, membership=actor, now=now)
        held = _held_lease(project=project, live=live, now=now)
        if held is not None:
            return Claim(assignment=held)
        profile, excluded = member_routing_facts(membership=actor, project=project, now=now)
        refusal = project_refusal(membership=actor, project=project, profile=profile, excluded=excluded)
        if refusal is None:
            refusal = _progress_refusal(project=project, progress=progress, now=now)
        if refusal is not None:
            return Claim(assignment=None, refusal=refusal)

        assignment = None
        for queued in (a for a in live if a.state == AssignmentState.QUEUED):
            if profile.satisfies(queued.task.required_skills or {}) and (
                not queued.task.language or queued.task.language.lower() in profile.languages
            ):
                assignment = _promote_queued(project=project, queued=queued, now=now)
                break
            # Queued while the member held the skill, which has since lapsed: back to someone who has it.
            assignment_revoke(actor=None, assignment=queued, reason="no longer eligible")
        if assignment is not None:
            _count_served(progress, assignment)
        else:
            assignment = _claim_from_pools(project=project, progress=progress, profile=profile, now=now)
        if assignment is None:
            if _needs_qualification(project, progress):
                return Claim(
                    assignment=None,
                    refusal=Refusal("qualification_unavailable", "No qualification task is left for you."),
                )
            return Claim(assignment=None, refusal=_NOTHING)
        _record_serve(assignment)
    return Claim(assignment=assignment, created=True)


def _count_served(progress: AnnotatorProgress, assignment: Assignment) -> None:
    # A claim from the pools counts itself in its own statement (see claim_task); a promoted queue entry here.
    AnnotatorProgress.objects.filter(pk=progress.pk).update(
        served=F("served") + 1,
        gold_served=F("gold_served") + int(assignment.is_gold and not assignment.task.qualification),
    )


def _record_serve(assignment: Assignment) -> None:
    # Two events on purpose: the claim is a change of state (kept with routing's retention); handing the task's
    # data to a person is a data access (kept with data_access's), and answers "who saw task X". One statement
    # writes both, as the last of the claim's transaction.
    audit_record_all(
        Record(
            action="assignment.claim",
            target=assignment,
            metadata={
                "task": str(assignment.task.uuid),
                "source": assignment.source,
                "lease_expires_at": (assignment.lease_expires_at.isoformat() if assignment.lease_expires_at else None),
            },
        ),
        Record(
            action="data_access.task_serve",
            target=assignment.task,
            metadata={"assignment": str(assignment.uuid), "project": str(assignment.project.uuid)},
        ),
    )


def _needs_qualification(project: Project, progress: AnnotatorProgress) -> bool:
    return project.qualification_size > 0 and progress.qualification_state != QualificationState.PASSED


def _progress_refusal(*, project: Project, progress: AnnotatorProgress, now: datetime) -> Refusal | None:
    if progress.paused_at is not None:
        return Refusal("paused", progress.paused_reason or "Your work on this project is paused.")
    if (
        _needs_qualification(project, progress)
        and progress.qualification_state == QualificationState.FAILED
        and progress.locked_until is not None
        and progress.locked_until > now
    ):
        return Refusal(
            "qualification_locked",
            "You did not pass the qualification; you may try again later.",
            retry_after=progress.locked_until,
        )
    return None


def _lock_progress(
    *, project: Project, membership: Membership, now: datetime
) -> tuple[AnnotatorProgress, list[Assignment]]:
    """The member's progress row on the project, created if new, locked until the transaction ends; and their live
    (queued and active) assignments on it, oldest first, each with its task."""
    with prepared_cursor() as cursor:
        # One statement creates or locks the row (ON CONFLICT DO UPDATE takes the row lock).
        cursor.execute(
            sql.PROGRESS_LOCK,
            {
                "organization": project.organization_id,
                "uuid": uuid.uuid4(),
                "now": now,
                "project": project.pk,
                "member": membership.pk,
                "state": QualificationState.NOT_STARTED.value,
            },
        )
        row = cursor.fetchone()
        assert row is not None
        progress = row_instance(AnnotatorProgress, row)
        # A statement of its own, after the lock: its snapshot includes the work of a concurrent claim of the
        # same member that held the lock a moment ago (one statement would still see the world before it).
        cursor.execute(
            sql.LIVE_ASSIGNMENTS,
            {"organization": project.organization_id, "member": membership.pk, "project": project.pk},
        )
        rows = cursor.fetchall()
    width = len(Assignment._meta.concrete_fields)
    live = []
    for row in rows:
        assignment = row_instance(Assignment, row[:width])
        assignment.task = row_instance(Task, row[width:])
        assignment.project = project
        live.append(assignment)
    return progress, live


def _held_lease(*, project: Project, live: list[Assignment], now: datetime) -> Assignment | None:
    """The lease to hand back instead of a new one: the member already holds as many as the project allows."""
    lapsed = [a.pk for a in live if a.state == AssignmentState.ACTIVE and a.lease_expires_at <= now]  # type: ignore[operator]
    if lapsed:
        assignments_expire(ids=lapsed, now=now)
    active = [a for a in live if a.state == AssignmentState.ACTIVE and a.pk not in lapsed]
    if len(active) >= max(1, project.max_active_per_annotator):
        return active[-1]
    return None


def _new_lease(project: Project, now: datetime) -> tuple[uuid.UUID, datetime]:
    return uuid.uuid4(), now + timedelta(seconds=project.lease_seconds)


def _promote_queued(*, project: Project, queued: Assignment, now: datetime) -> Assignment | None:
    """Turn the oldest task the dispatcher or a manager queued for this member into a lease."""
    token, expires = _new_lease(project, now)
    updated = Assignment.objects.filter(pk=queued.pk, state=AssignmentState.QUEUED).update(
        state=AssignmentState.ACTIVE, lease_token=token, lease_expires_at=expires, claimed_at=now
    )
    if not updated:
        return None  # revoked a moment ago; the caller claims from the pool instead
    queued.state, queued.lease_token, queued.lease_expires_at, queued.claimed_at = (
        AssignmentState.ACTIVE,
        token,
        expires,
        now,
    )
    return queued


def _claim_from_pools(
    *, project: Project, progress: AnnotatorProgress, profile: MemberProfile, now: datetime
) -> Assignment | None:
    if _needs_qualification(project, progress):
        if progress.qualification_state != QualificationState.IN_PROGRESS:
            # A first attempt, or a retake after the cool-down: the count starts again.
            AnnotatorProgress.objects.filter(pk=progress.pk).update(
                qualification_state=QualificationState.IN_PROGRESS,
                qualification_answered=0,
                qualification_score=0.0,
                qualification_attempts=F("qualification_attempts") + 1,
                locked_until=None,
            )
        return claim_task(project=project, progress=progress, profile=profile, pool="qualification", now=now)
    if project.gold_rate > 0 and progress.gold_served < project.gold_rate * (progress.served + 1):
        gold = claim_task(project=project, progress=progress, profile=profile, pool="gold", now=now)
        if gold is not None:
            return gold
    return claim_task(project=project, progress=progress, profile=profile, pool="live", now=now)


_CLAIM_SQL: dict[Pool, str] = {
    "live": sql.CLAIM_LIVE,
    "gold": sql.CLAIM_GOLD,
    "qualification": sql.CLAIM_QUALIFICATION,
}


# How often a claim tries again when the task it locked was queued for the same member by the dispatcher between
# the claim's snapshot and its row lock (the insert then meets the unique pair and writes nothing). Each attempt
# runs on a fresh snapshot that sees that entry, so a second collision needs another dispatch racing it.
CLAIM_ATTEMPTS = 3


def claim_task(
    *,
    project: Project,
    progress: AnnotatorProgress,
    profile: MemberProfile,
    pool: Pool,
    now: datetime,
) -> Assignment | None:
    """Lease one task of the pool to the member: pick, count, assign and count as served in a single statement."""
    token, expires = _new_lease(project, now)
    params: dict[str, Any] = {
        "project": project.pk,
        "progress": progress.pk,
        "member": profile.membership_id,
        "skills": json.dumps(profile.skills),
        "languages": sorted(profile.languages),
        "now": now,
        "token": token,
        "expires": expires,
        "source": AssignmentSource.CLAIM.value,
    }
    width = len(Assignment._meta.concrete_fields)
    for _ in range(CLAIM_ATTEMPTS):
        with prepared_cursor() as cursor:
            cursor.execute(_CLAIM_SQL[pool], params)
            row = cursor.fetchone()
        if row is None:
            return None  # nothing eligible is open
        if row[1] is not None:
            assignment = row_instance(Assignment, row[1 : 1 + width])
            assignment.task = row_instance(Task, row[1 + width :])
            assignment.project = project
            return assignment
    logger.warning("assignment.claim_conflicts", extra={"project": project.pk, "attempts": CLAIM_ATTEMPTS})
    return None
