"""The dispatcher: queue tasks for active annotators in batch, scarce expertise first; and manual assignment.

Dispatch is an optimisation: claiming works without it. What it adds is foresight a single claim cannot have:
it sees every active annotator at once, so a task only one expert can do is queued for that expert before the
expert's queue fills with work anyone could do, and generalists take the general work.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from annotation import config, permissions, sql
from annotation.models import LIVE_STATES, AnnotatorProgress, Assignment, AssignmentSource, AssignmentState
from annotation.selectors.eligibility import MemberProfile, member_profile, project_refusal
from annotation.services.leases import assignment_revoke
from core.audit.record import audit_record
from core.enqueue import enqueue_coalesced
from core.errors import Conflict, InvalidInput
from projects.models import Project, Task
from tenancy.models import Membership
from tenancy.permissions import check

logger = logging.getLogger(__name__)


def assignment_queue(
    *, task: Task, membership: Membership, source: str, assigned_by: Any = None, now: datetime | None = None
) -> Assignment | None:
    """Reserve one of the task's slots for the member (state queued). None when the task is full or the member
    already had it. Lock, insert, count in one statement, so it can race claims and other dispatchers safely."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            sql.ASSIGNMENT_QUEUE,
            {
                "task": task.pk,
                "member": membership.pk,
                "now": now,
                "source": source,
                "by": getattr(assigned_by, "pk", None),
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Assignment.objects.select_related("task", "project").get(pk=row[0])


def assignment_assign(*, actor: Membership, task: Task, annotator: Membership) -> Assignment:
    """A manager puts a task in a named annotator's queue; eligibility and overlap still hold."""
    check(permissions.assignment_assign(actor))
    project = task.project
    profile = member_profile(membership=annotator)
    refusal = project_refusal(membership=annotator, project=project, profile=profile)
    if refusal is not None:
        raise InvalidInput(refusal.message, errors=[])
    if not profile.satisfies(task.required_skills or {}):
        raise InvalidInput("The annotator lacks a skill this task requires.", errors=[])
    with transaction.atomic():
        assignment = assignment_queue(
            task=task, membership=annotator, source=AssignmentSource.MANUAL, assigned_by=actor.user
        )
        if assignment is None:
            if Assignment.objects.filter(task=task, annotator=annotator).exists():
                raise Conflict("This annotator already has, or had, this task.")
            raise Conflict(f"The task already has its {task.overlap} annotator(s).")
        audit_record(
            action="assignment.assign",
            target=assignment,
            metadata={"task": str(task.uuid), "annotator": str(annotator.uuid)},
        )
    return assignment


@dataclass(frozen=True)
class DispatchResult:
    annotators: int
    queued: int
    returned: int


def _active_annotators(project: Project, now: datetime) -> list[tuple[Membership, MemberProfile, int]]:
    """Annotators seen on the project recently, still allowed to work, with room left in their queue."""
    since = now - timedelta(seconds=config.dispatch_active_window_seconds())
    progress = (
        AnnotatorProgress.objects.filter(project=project, last_seen_at__gte=since, paused_at__isnull=True)
        .select_related("annotator")
        .order_by("id")
    )
    live = dict(
        Assignment.objects.filter(project=project, state__in=LIVE_STATES)
        .values("annotator_id")
        .annotate(n=Count("id"))
        .values_list("annotator_id", "n")
    )
    out = []
    for row in progress:
        member = row.annotator
        if project.qualification_size and row.qualification_state != "passed":
            continue  # qualification tasks are served by claims, one at a time
        profile = member_profile(membership=member, now=now)
        if project_refusal(membership=member, project=project, profile=profile) is not None:
            continue
        room = config.dispatch_queue_size() - live.get(member.pk, 0)
        if room > 0:
            out.append((member, profile, room))
    return out


def project_dispatch(*, project: Project, now: datetime | None = None) -> DispatchResult:
    """Fill the queues of the project's active annotators; return stale dispatcher reservations to the pool."""
    now = now or timezone.now()
    returned = _return_stale_queued(project=project, now=now)
    annotators = _active_annotators(project, now)
    if not annotators or not project.is_active:
        return DispatchResult(annotators=len(annotators), queued=0, returned=returned)
    room = {m.pk: r for m, _, r in annotators}
    window = min(5000, sum(room.values()) * max(project.overlap, 1) * 4)
    open_rows = Task.objects.filter(project=project, is_gold=False, taken__lt=F("overlap"))
    open_tasks = list(open_rows.order_by("-priority", "-taken", "id")[:window])
    had = set(
        Assignment.objects.filter(task__in=open_tasks, annotator_id__in=list(room)).values_list(
            "task_id", "annotator_id"
        )
    )
    eligible: dict[int, list[int]] = {}
    reach: dict[int, int] = dict.fromkeys(room, 0)  # how many open tasks each annotator could do
    for task in open_tasks:
        who = [
            m.pk
            for m, profile, _ in annotators
            if (task.pk, m.pk) not in had
            and profile.satisfies(task.required_skills or {})
            and (not task.language or task.language.lower() in profile.languages)
        ]
        eligible[task.pk] = who
        for pk in who:
            reach[pk] += 1
    members = {m.pk: m for m, _, _ in annotators}
    # Within a priority, the tasks fewest people can do go first; each goes to the least loaded of its
    # candidates, preferring the one who can do the fewest other things (the generalist keeps the expert free).
    order = sorted(open_tasks, key=lambda t: (-t.priority, len(eligible[t.pk]), -t.taken, t.pk))
    queued = 0
    for task in order:
        slots = task.overlap - task.taken
        candidates = sorted((pk for pk in eligible[task.pk] if room[pk] > 0), key=lambda pk: (-room[pk], reach[pk]))
        for pk in candidates[:slots]:
            if assignment_queue(task=task, membership=members[pk], source=AssignmentSource.DISPATCH, now=now):
                room[pk] -= 1
                queued += 1
        if not any(room.values()):
            break
    if queued or returned:
        audit_record(
            action="assignment.dispatch",
            target=project,
            metadata={"queued": queued, "returned": returned, "annotators": len(annotators)},
        )
    logger.info("routing.dispatched", extra={"project": str(project.uuid), "queued": queued, "returned": returned})
    return DispatchResult(annotators=len(annotators), queued=queued, returned=returned)


def _stale_queued_ids(*, project: Project, now: datetime) -> list[int]:
    """Dispatcher reservations older than the time-to-live (manual ones stay: a manager chose them)."""
    cutoff = now - timedelta(seconds=config.queued_ttl_seconds())
    stale = Assignment.objects.filter(
        project=project, state=AssignmentState.QUEUED, source=AssignmentSource.DISPATCH, created_at__lt=cutoff
    )
    return list(stale.order_by("id").values_list("pk", flat=True)[:1000])


def _return_stale_queued(*, project: Project, now: datetime) -> int:
    """Dispatcher reservations nobody came for go back to the pool."""
    count = 0
    for candidate in _stale_queued_ids(project=project, now=now):
        with transaction.atomic():
            # Re-read under a lock: the member may have claimed this very reservation since it was listed, and a
            # lease they were just given must not be revoked as "queued too long". Skipped while a claim holds it.
            assignment = (
                Assignment.objects.select_for_update(skip_locked=True)
                .select_related("project", "task")
                .filter(pk=candidate, state=AssignmentState.QUEUED)
                .first()
            )
            if assignment is None:
                continue
            assignment_revoke(actor=None, assignment=assignment, reason="queued too long")
            count += 1
    return count


def projects_needing_dispatch() -> list[int]:
    """Projects of the organization in context with open work and someone recently active on them."""
    since = timezone.now() - timedelta(seconds=config.dispatch_active_window_seconds())
    return list(
        Project.objects.filter(is_active=True)
        .filter(Q(progress__last_seen_at__gte=since))
        .distinct()
        .values_list("pk", flat=True)
    )


# A burst of submits, reviews or pauses in one project asks for one dispatch every few seconds, not one each.
DISPATCH_COALESCE_SECONDS = 5


def dispatch_soon(*, organization_id: int, project_id: int) -> None:
    """Ask for a dispatch of the project after commit, coalescing bursts (core.enqueue.enqueue_coalesced)."""
    enqueue_coalesced("routing.dispatch", organization_id, project_id, within_seconds=DISPATCH_COALESCE_SECONDS)
