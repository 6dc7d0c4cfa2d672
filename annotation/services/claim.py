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
from functools import cache
from typing import Any, Literal

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotation.models import (
    LIVE_STATES,
    AnnotatorProgress,
    Assignment,
    AssignmentSource,
    AssignmentState,
    QualificationState,
)
from annotation.selectors.eligibility import MemberProfile, Refusal, member_routing_facts, project_refusal
from annotation.services.leases import assignment_revoke, assignments_expire
from core.audit.record import Record, audit_record_all
from core.db import prepared_cursor, row_columns, row_instance
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
            f"INSERT INTO {AnnotatorProgress._meta.db_table} AS p (organization_id, uuid, created_at, updated_at,"  # noqa: S608
            " project_id, annotator_id, served, gold_served, submitted, qualification_state,"
            " qualification_answered, qualification_score, qualification_attempts, gold_scored, gold_score_sum,"
            " paused_reason, last_seen_at)"
            " VALUES (%(organization)s, %(uuid)s, %(now)s, %(now)s, %(project)s, %(member)s, 0, 0, 0, %(state)s,"
            " 0, 0, 0, 0, 0, '', %(now)s)"
            " ON CONFLICT (project_id, annotator_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at"
            f" RETURNING {', '.join(row_columns(AnnotatorProgress, 'p'))}",
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
            f"SELECT {', '.join(row_columns(Assignment, 'a'))}, {', '.join(row_columns(Task, 't'))}"  # noqa: S608
            f" FROM {Assignment._meta.db_table} a JOIN {Task._meta.db_table} t ON t.id = a.task_id"
            " WHERE a.organization_id = %(organization)s AND a.annotator_id = %(member)s"
            " AND a.project_id = %(project)s"
            # Spelled out rather than a parameter, so that the planner can use the index of live work only.
            f" AND a.state IN ({', '.join(repr(state.value) for state in LIVE_STATES)}) ORDER BY a.id",
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


_POOL_FILTER: dict[Pool, str] = {
    "live": "t.taken < t.overlap AND NOT t.is_gold",
    "gold": "t.is_gold AND NOT t.qualification",
    "qualification": "t.is_gold AND t.qualification",
}
_POOL_ORDER: dict[Pool, str] = {
    # Priority first, then breadth-first: tasks others already started finish before new ones open.
    "live": "t.priority DESC, t.taken DESC, t.id",
    "gold": "t.id",
    "qualification": "t.id",
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
            cursor.execute(_claim_sql(pool), params)
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


@cache
def _claim_sql(pool: Pool) -> str:
    tasks = Task._meta.db_table
    assignments = Assignment._meta.db_table
    progress = AnnotatorProgress._meta.db_table
    assignment_columns = ", ".join(row_columns(Assignment, "ins"))
    task_columns = ", ".join(row_columns(Task, "bump"))
    return (
        f"WITH pick AS (SELECT t.id FROM {tasks} t"  # noqa: S608 - table names are ours, values are parameters
        f" WHERE t.project_id = %(project)s AND {_POOL_FILTER[pool]}"
        # OFFSET 0 keeps this a probe of the (task, annotator) unique index per candidate: as a join, the planner
        # may read the member's whole history first, a cost that grows with every task they do.
        f" AND NOT EXISTS (SELECT 1 FROM {assignments} a WHERE a.task_id = t.id AND a.annotator_id = %(member)s"
        " OFFSET 0)"
        " AND (t.required_skills = '{}'::jsonb OR NOT EXISTS ("
        "  SELECT 1 FROM jsonb_each_text(t.required_skills) r"
        "  WHERE COALESCE((%(skills)s::jsonb ->> r.key)::int, 0) < r.value::int))"
        " AND (t.language = '' OR lower(t.language) = ANY(%(languages)s))"
        f" ORDER BY {_POOL_ORDER[pool]} LIMIT 1 FOR UPDATE OF t SKIP LOCKED),"
        # The insert comes before the count: if the dispatcher queued this very task for the member a moment
        # ago, ON CONFLICT leaves both rows as they are and the counter is not raised for nothing.
        f" ins AS (INSERT INTO {assignments} (organization_id, uuid, created_at, project_id, task_id, annotator_id,"
        "  state, source, is_gold, lease_token, lease_expires_at, claimed_at, reason)"
        " SELECT t.organization_id, gen_random_uuid(), %(now)s, t.project_id, t.id, %(member)s, 'active',"
        f"  %(source)s, t.is_gold, %(token)s, %(expires)s, %(now)s, '' FROM {tasks} t JOIN pick ON pick.id = t.id"
        f"  ON CONFLICT (task_id, annotator_id) DO NOTHING RETURNING {assignments}.*),"
        f" bump AS (UPDATE {tasks} t SET taken = t.taken + 1 FROM ins WHERE t.id = ins.task_id RETURNING t.*),"
        f" served AS (UPDATE {progress} p SET served = p.served + 1,"
        "  gold_served = p.gold_served + (bump.is_gold AND NOT bump.qualification)::int"
        "  FROM bump WHERE p.id = %(progress)s)"
        # A row with no assignment: a task was picked but the insert met the unique pair (see CLAIM_ATTEMPTS).
        f" SELECT pick.id, {assignment_columns}, {task_columns} FROM pick LEFT JOIN ins ON true LEFT JOIN bump ON true"
    )
