"""Shared pieces of the routing concurrency, property and fault suites: thread pools that each hold their own
database connection, annotators in bulk, claim and submit as one annotator, and the routing invariants in SQL."""

import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import factory
from django.db import connection
from django.utils import timezone

from annotation.models import Annotation, AnnotatorProgress, Assignment
from annotation.services.claim import Claim, assignment_claim
from annotation.services.leases import own_assignment_for_update
from annotation.services.submit import Submitted, annotation_submit
from core import enqueue
from core.context import current_organization_id, organization_context
from projects.models import Project, Task
from tenancy.models import Membership, Organization, Role
from tests.factories import ApiTokenFactory, MembershipFactory

# Comfortably under PostgreSQL's 100 connections, which the test database and other suites share.
POOL_THREADS = 24


class AnnotatorProgressFactory(factory.django.DjangoModelFactory):
    """An annotator seen on a project just now: what makes the dispatcher queue work for them."""

    class Meta:
        model = AnnotatorProgress

    organization = factory.LazyFunction(lambda: Organization.objects.get(pk=current_organization_id()))
    project = factory.SubFactory("tests.factories.ProjectFactory")
    annotator = factory.SubFactory(MembershipFactory)
    last_seen_at = factory.LazyFunction(timezone.now)


def annotators_create(count: int, *, with_tokens: bool = False, **fields: Any) -> list[Membership]:
    """`count` new annotators of the organization in context; each carries `.raw_token` when asked for."""
    members = []
    for _ in range(count):
        member = MembershipFactory(role=Role.ANNOTATOR, **fields)
        if with_tokens:
            member.raw_token = ApiTokenFactory(membership=member, role=Role.ANNOTATOR).raw
        members.append(member)
    return members


def run_threads(count: int, target: Callable[[], None], timeout: float = 240.0) -> list[BaseException]:
    """Run `target` in `count` threads at once; each thread closes its own connection when it ends. Returns the
    exceptions raised (an empty list when every thread finished cleanly)."""
    errors: list[BaseException] = []
    lock = threading.Lock()

    def body() -> None:
        try:
            target()
        except BaseException as exc:  # every failure, assertion errors included, goes back to the test
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        errors.append(TimeoutError(f"{stuck} thread(s) still running after {timeout} s"))
    return errors


def drain(items: Iterable[Any], work: Callable[[Any], bool | None], threads: int = POOL_THREADS) -> list[BaseException]:
    """A bounded pool: `threads` threads take the items in turn, one step at a time; an item whose step returns
    True goes back to the end of the line, so every item advances a little before any advances a lot."""
    pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for item in items:
        pending.put(item)

    def take() -> None:
        while True:
            try:
                item = pending.get_nowait()
            except queue.Empty:
                return
            if work(item):
                pending.put(item)

    return run_threads(threads, take)


def drain_rounds(
    items: list[Any], step: Callable[[Any], bool], threads: int = POOL_THREADS, max_rounds: int = 10
) -> list[BaseException]:
    """`drain` again and again until a whole round makes no progress (no step returned True).

    An annotator's 204 ends only their round: the last open tasks may have been locked by claims in flight
    (SKIP LOCKED), or the dispatcher may queue work for them afterwards; the next round asks them again.
    """
    progress = threading.Event()

    def tracked(item: Any) -> bool:
        if step(item):
            progress.set()
            return True
        return False

    errors: list[BaseException] = []
    for _ in range(max_rounds):
        progress.clear()
        errors += drain(items, tracked, threads)
        if errors or not progress.is_set():
            return errors
    errors.append(RuntimeError(f"still making progress after {max_rounds} rounds"))
    return errors


def messages_recorded(monkeypatch: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """Celery messages sent after commit are recorded instead of run eagerly in the sending thread.

    The suite runs tasks eagerly, which would make every submitting thread also run the dispatcher and the
    agreement recompute; in production a worker does that, on its own. Tests that race the dispatcher run it in
    a thread of its own instead.
    """
    sent: list[tuple[str, tuple[Any, ...]]] = []
    lock = threading.Lock()

    def record(task_name: str, args: tuple[Any, ...]) -> None:
        with lock:
            sent.append((task_name, args))

    monkeypatch.setattr(enqueue, "_send", record)
    return sent


def claim_as(member: Membership, project: Project) -> Claim:
    with organization_context(member.organization_id):
        return assignment_claim(actor=member, project=project)


def submit_as(member: Membership, assignment_uuid: Any, lease_token: Any, result: Any = None) -> Submitted:
    """Submit as the annotator does through the API: the assignment locked first, then the fenced write."""
    with organization_context(member.organization_id):
        assignment = own_assignment_for_update(actor=member, assignment_uuid=assignment_uuid)
        assert assignment is not None
        return annotation_submit(
            actor=member,
            assignment=assignment,
            lease_token=lease_token,
            result={"sentiment": "positive"} if result is None else result,
            time_spent_ms=1000,
        )


@dataclass
class Tally:
    """Outcomes counted across threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def __getitem__(self, key: str) -> int:
        return self.counts.get(key, 0)


NO_VIOLATIONS = {
    "taken_mismatch": 0,
    "done_mismatch": 0,
    "over_overlap": 0,
    "duplicate_pairs": 0,
    "over_max_active": 0,
    "over_max_unlapsed": 0,
    "active_without_lease": 0,
    "submitted_without_annotation": 0,
    "annotation_without_submit": 0,
}


def routing_violations(project_ids: list[int]) -> dict[str, int]:
    """How many rows break each routing invariant on these projects; every value is 0 when all hold. Read in
    the tenant of the caller's context (row-level security shows nothing else), in one statement, so a reader
    racing the writers sees one committed snapshot.

    `over_max_active` counts every active row; `over_max_unlapsed` only leases whose deadline is still ahead
    (the clock's time, not the transaction's), which is what an annotator can still use.
    """
    tasks = Task._meta.db_table
    assignments = Assignment._meta.db_table
    annotations = Annotation._meta.db_table
    projects = Project._meta.db_table
    taken = "('queued', 'active', 'submitted')"
    sql = f"""
        WITH counted AS (
            SELECT t.id, t.taken, t.done, t.overlap, t.is_gold,
                   count(a.id) FILTER (WHERE a.state IN {taken}) AS live_and_done,
                   count(a.id) FILTER (WHERE a.state = 'submitted') AS submitted
            FROM {tasks} t LEFT JOIN {assignments} a ON a.task_id = t.id
            WHERE t.project_id = ANY(%(projects)s) GROUP BY t.id)
        SELECT
            (SELECT count(*) FROM counted WHERE taken <> live_and_done),
            (SELECT count(*) FROM counted WHERE done <> submitted),
            (SELECT count(*) FROM counted WHERE NOT is_gold AND taken > overlap),
            (SELECT count(*) FROM (SELECT 1 FROM {assignments} WHERE project_id = ANY(%(projects)s)
                GROUP BY task_id, annotator_id HAVING count(*) > 1) d),
            (SELECT count(*) FROM (SELECT 1 FROM {assignments} a JOIN {projects} p ON p.id = a.project_id
                WHERE a.project_id = ANY(%(projects)s) AND a.state = 'active'
                GROUP BY a.project_id, a.annotator_id, p.max_active_per_annotator
                HAVING count(*) > GREATEST(p.max_active_per_annotator, 1)) m),
            (SELECT count(*) FROM (SELECT 1 FROM {assignments} a JOIN {projects} p ON p.id = a.project_id
                WHERE a.project_id = ANY(%(projects)s) AND a.state = 'active'
                AND a.lease_expires_at > clock_timestamp()
                GROUP BY a.project_id, a.annotator_id, p.max_active_per_annotator
                HAVING count(*) > GREATEST(p.max_active_per_annotator, 1)) u),
            (SELECT count(*) FROM {assignments} WHERE project_id = ANY(%(projects)s) AND state = 'active'
                AND (lease_token IS NULL OR lease_expires_at IS NULL)),
            (SELECT count(*) FROM {assignments} a WHERE a.project_id = ANY(%(projects)s) AND a.state = 'submitted'
                AND NOT EXISTS (SELECT 1 FROM {annotations} n WHERE n.assignment_id = a.id AND n.version = 1)),
            (SELECT count(*) FROM {annotations} n JOIN {assignments} a ON a.id = n.assignment_id
                WHERE n.project_id = ANY(%(projects)s) AND a.state <> 'submitted')
    """  # noqa: S608 - table names are the models' own; the only value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, {"projects": project_ids})
        row = cursor.fetchone()
    assert row is not None
    return dict(zip(NO_VIOLATIONS, (int(v) for v in row), strict=True))


def state_counts(project_ids: list[int]) -> dict[str, int]:
    """Assignments per state on these projects."""
    assignments = Assignment._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT state, count(*) FROM {assignments} WHERE project_id = ANY(%s) GROUP BY state",  # noqa: S608
            [project_ids],
        )
        return {state: int(n) for state, n in cursor.fetchall()}
