"""A model of routing checked step by step against the real services on PostgreSQL (hypothesis, stateful).

A few annotators on a few tasks (overlap 1 to 3, one to two leases at a time, sometimes a gold task mixed in) claim,
heartbeat, submit, skip and release; leases lapse (their rows are backdated, no one sleeps) and the reaper expires
them; a manager assigns and revokes. The model predicts each outcome exactly (which task a claim serves, which
lease a double click returns, which write is refused), and after every step the database must match the model
and keep the invariants: taken = queued + active + submitted, done = submitted, taken ≤ overlap off gold, no
(task, annotator) twice, at most max_active leases per annotator, and no stale lease token accepted.
"""

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from annotation.models import Annotation, Assignment, AssignmentState
from annotation.selectors.assignments import assignments_for_update
from annotation.services.claim import assignment_claim
from annotation.services.dispatch import assignment_assign
from annotation.services.leases import (
    LeaseLost,
    assignment_heartbeat,
    assignment_release,
    assignment_revoke,
    assignment_skip,
    assignments_expire,
    own_assignment_for_update,
)
from annotation.services.submit import annotation_submit
from core.context import organization_context
from core.errors import Conflict
from projects.models import Task
from tenancy.models import Role
from tests.annotation.conftest import CHOICE_SCHEMA
from tests.annotation.routing_support import NO_VIOLATIONS, routing_violations
from tests.factories import MembershipFactory, OrganizationFactory, ProjectFactory, TaskFactory

S = AssignmentState
LIVE = (S.QUEUED, S.ACTIVE)
TAKEN = (S.QUEUED, S.ACTIVE, S.SUBMITTED)
RESULT = {"sentiment": "negative"}


@dataclass
class Lease:
    """The model's view of one assignment."""

    pk: int
    uuid: uuid.UUID
    task: int
    member: int
    state: str
    token: uuid.UUID | None = None
    lapsed: bool = False  # backdated past its deadline, not yet reaped


class RoutingModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.leases: dict[int, Lease] = {}
        self.spent_tokens: list[tuple[int, uuid.UUID]] = []  # tokens of leases that ended without a submit
        self.served: dict[int, int] = {}
        self.gold_served: dict[int, int] = {}

    # --- set-up ---

    @initialize(
        overlap=st.integers(1, 3),
        max_active=st.integers(1, 2),
        tasks=st.integers(2, 4),
        people=st.integers(2, 4),
        gold=st.booleans(),
    )
    def build(self, overlap: int, max_active: int, tasks: int, people: int, gold: bool) -> None:
        organization = OrganizationFactory()
        self.org = organization.pk
        with organization_context(self.org):
            self.project = ProjectFactory(
                label_schema=CHOICE_SCHEMA,
                overlap=overlap,
                max_active_per_annotator=max_active,
                gold_rate=0.5 if gold else 0.0,
            )
            self.tasks = {t.pk: t for t in TaskFactory.create_batch(tasks, project=self.project)}
            if gold:
                gold_task = TaskFactory(project=self.project, is_gold=True)  # no gold answer: nothing is scored
                self.tasks[gold_task.pk] = gold_task
            self.members = [MembershipFactory(role=Role.ANNOTATOR) for _ in range(people)]
            self.manager = MembershipFactory(role=Role.MANAGER)
        self.by_pk = {m.pk: m for m in self.members}

    # --- the model's arithmetic ---

    def taken(self, task: int) -> int:
        return sum(1 for a in self.leases.values() if a.task == task and a.state in TAKEN)

    def done(self, task: int) -> int:
        return sum(1 for a in self.leases.values() if a.task == task and a.state == S.SUBMITTED)

    def had(self, member: int, task: int) -> bool:
        return any(a.task == task and a.member == member for a in self.leases.values())

    def of(self, member: int, state: str) -> list[Lease]:
        return sorted((a for a in self.leases.values() if a.member == member and a.state == state), key=lambda a: a.pk)

    def pick(self, items: list[Lease], index: int) -> Lease:
        return items[index % len(items)]

    def active(self, *, lapsed: bool | None = None) -> list[Lease]:
        rows = [a for a in self.leases.values() if a.state == S.ACTIVE]
        return sorted((a for a in rows if lapsed is None or a.lapsed == lapsed), key=lambda a: a.pk)

    def end(self, lease: Lease, state: str) -> None:
        if lease.token is not None and state != S.SUBMITTED:
            self.spent_tokens.append((lease.pk, lease.token))
        lease.state, lease.lapsed = state, False

    def expected_claim(self, member: int) -> tuple[str, int | None]:
        """("held", pk) | ("promoted", pk) | ("gold"|"live", task pk) | ("none", None); lapsed leases of the
        member are expired first, exactly as the claim does."""
        for lease in self.of(member, S.ACTIVE):
            if lease.lapsed:
                self.end(lease, S.EXPIRED)
        mine = self.of(member, S.ACTIVE)
        if len(mine) >= max(1, self.project.max_active_per_annotator):
            return "held", mine[-1].pk
        queued = self.of(member, S.QUEUED)
        if queued:
            return "promoted", queued[0].pk
        served, gold_served = self.served.get(member, 0), self.gold_served.get(member, 0)
        if self.project.gold_rate > 0 and gold_served < self.project.gold_rate * (served + 1):
            gold = sorted(t for t, task in self.tasks.items() if task.is_gold and not self.had(member, t))
            if gold:
                return "gold", gold[0]
        live = [
            t
            for t, task in self.tasks.items()
            if not task.is_gold and self.taken(t) < task.overlap and not self.had(member, t)
        ]
        if not live:
            return "none", None
        return "live", min(live, key=lambda t: (-self.taken(t), t))

    def count_serve(self, member: int, task: int) -> None:
        self.served[member] = self.served.get(member, 0) + 1
        if self.tasks[task].is_gold:
            self.gold_served[member] = self.gold_served.get(member, 0) + 1

    # --- rules ---

    @rule(who=st.integers(0, 3))
    def claim(self, who: int) -> None:
        member = self.members[who % len(self.members)]
        kind, target = self.expected_claim(member.pk)
        with organization_context(self.org):
            outcome = assignment_claim(actor=member, project=self.project)
        if kind == "none":
            assert outcome.assignment is None
            assert outcome.refusal is not None
            assert outcome.refusal.code == "no_tasks"
            return
        got = outcome.assignment
        assert got is not None
        assert (got.state, got.lease_token is not None) == (S.ACTIVE, True)
        if kind == "held":
            assert (outcome.created, got.pk, got.lease_token) == (False, target, self.leases[target].token)
            return
        assert outcome.created is True
        if kind == "promoted":
            assert got.pk == target
            lease = self.leases[target]
            lease.state, lease.token = S.ACTIVE, got.lease_token
        else:
            assert got.task_id == target
            self.leases[got.pk] = Lease(got.pk, got.uuid, got.task_id, member.pk, S.ACTIVE, got.lease_token)
        self.count_serve(member.pk, got.task_id)

    @precondition(lambda self: self.active(lapsed=False))
    @rule(which=st.integers(0, 20), twice=st.booleans())
    def submit(self, which: int, twice: bool) -> None:
        lease = self.pick(self.active(lapsed=False), which)
        member = self.by_pk[lease.member]
        with organization_context(self.org):
            assignment = own_assignment_for_update(actor=member, assignment_uuid=lease.uuid)
            first = annotation_submit(
                actor=member, assignment=assignment, lease_token=lease.token, result=RESULT, time_spent_ms=5
            )
        assert first.created is True
        lease.state = S.SUBMITTED
        if twice:  # the retry of a response that never arrived: the first result stands
            with organization_context(self.org):
                assignment = own_assignment_for_update(actor=member, assignment_uuid=lease.uuid)
                again = annotation_submit(
                    actor=member, assignment=assignment, lease_token=lease.token, result={"sentiment": "positive"}
                )
            assert (again.created, again.annotation.pk) == (False, first.annotation.pk)
            assert again.annotation.result == RESULT

    @precondition(lambda self: self.active(lapsed=False))
    @rule(which=st.integers(0, 20))
    def heartbeat(self, which: int) -> None:
        lease = self.pick(self.active(lapsed=False), which)
        before = timezone.now()
        with organization_context(self.org):
            assignment = own_assignment_for_update(actor=self.by_pk[lease.member], assignment_uuid=lease.uuid)
            assignment_heartbeat(assignment=assignment, lease_token=lease.token)
            deadline = Assignment.objects.get(pk=lease.pk).lease_expires_at
        assert before + timedelta(seconds=self.project.lease_seconds) <= deadline
        assert deadline <= timezone.now() + timedelta(seconds=self.project.lease_seconds)

    @precondition(lambda self: self.active(lapsed=False))
    @rule(which=st.integers(0, 20), skip=st.booleans())
    def give_back(self, which: int, skip: bool) -> None:
        lease = self.pick(self.active(lapsed=False), which)
        with organization_context(self.org):
            assignment = own_assignment_for_update(actor=self.by_pk[lease.member], assignment_uuid=lease.uuid)
            if skip:
                assignment_skip(assignment=assignment, lease_token=lease.token, reason="unclear")
            else:
                assignment_release(assignment=assignment, lease_token=lease.token)
        self.end(lease, S.SKIPPED if skip else S.RELEASED)

    @precondition(lambda self: self.active(lapsed=False))
    @rule(which=st.integers(0, 20))
    def lapse(self, which: int) -> None:
        """The deadline passes with no reaper run yet: the lease's own holder's next claim will expire it."""
        lease = self.pick(self.active(lapsed=False), which)
        with organization_context(self.org):
            Assignment.objects.filter(pk=lease.pk).update(lease_expires_at=timezone.now() - timedelta(minutes=1))
        lease.lapsed = True

    @precondition(lambda self: self.active())
    @rule(which=st.integers(0, 20))
    def reap(self, which: int) -> None:
        """Backdate one more live lease (if any), then run the reaper: every lapsed lease expires, no other."""
        if self.active(lapsed=False):
            self.lapse(which)
        lapsed = self.active(lapsed=True)
        with organization_context(self.org):
            expired = assignments_expire(now=timezone.now())
        assert expired == len(lapsed)
        for lease in lapsed:
            self.end(lease, S.EXPIRED)

    @rule(task=st.integers(0, 4), who=st.integers(0, 3))
    def assign(self, task: int, who: int) -> None:
        chosen = self.tasks[sorted(self.tasks)[task % len(self.tasks)]]
        member = self.members[who % len(self.members)]
        refused = self.had(member.pk, chosen.pk) or self.taken(chosen.pk) >= chosen.overlap
        with organization_context(self.org):
            try:
                made = assignment_assign(actor=self.manager, task=chosen, annotator=member)
            except Conflict:
                assert refused
                return
        assert not refused
        assert (made.state, made.task_id, made.annotator_id, made.lease_token) == (S.QUEUED, chosen.pk, member.pk, None)
        self.leases[made.pk] = Lease(made.pk, made.uuid, chosen.pk, member.pk, S.QUEUED)

    @precondition(lambda self: self.leases)
    @rule(which=st.integers(0, 30))
    def revoke(self, which: int) -> None:
        lease = self.leases[sorted(self.leases)[which % len(self.leases)]]
        with organization_context(self.org):
            assignment = assignments_for_update().get(pk=lease.pk)
            try:
                assignment_revoke(actor=self.manager, assignment=assignment, reason="reassigned")
            except Conflict:
                assert lease.state not in LIVE
                return
        assert lease.state in LIVE
        self.end(lease, S.REVOKED)

    @precondition(lambda self: self.leases)
    @rule(
        which=st.integers(0, 30),
        forged=st.booleans(),
        action=st.sampled_from(["submit", "heartbeat", "skip", "release"]),
    )
    def stale_token(self, which: int, forged: bool, action: str) -> None:
        """The token of a lease that ended (expired, revoked, skipped, released), or a forged one for any
        assignment in any state: it opens nothing and changes nothing."""
        if forged or not self.spent_tokens:
            pk = sorted(self.leases)[which % len(self.leases)]
            token = uuid.uuid4()
        else:
            pk, token = self.spent_tokens[which % len(self.spent_tokens)]
        lease = self.leases[pk]
        member = self.by_pk[lease.member]
        with organization_context(self.org):
            before = Assignment.objects.values_list("state", "lease_token", "lease_expires_at").get(pk=pk)
            annotations = Annotation.objects.filter(assignment_id=pk).count()
            assignment = own_assignment_for_update(actor=member, assignment_uuid=lease.uuid)
            write = {
                "submit": lambda: annotation_submit(
                    actor=member, assignment=assignment, lease_token=token, result=RESULT
                ),
                "heartbeat": lambda: assignment_heartbeat(assignment=assignment, lease_token=token),
                "skip": lambda: assignment_skip(assignment=assignment, lease_token=token),
                "release": lambda: assignment_release(assignment=assignment, lease_token=token),
            }[action]
            with pytest.raises(LeaseLost):
                write()
            assert Assignment.objects.values_list("state", "lease_token", "lease_expires_at").get(pk=pk) == before
            assert Annotation.objects.filter(assignment_id=pk).count() == annotations

    # --- after every step ---

    @invariant()
    def database_matches_the_model(self) -> None:
        if not hasattr(self, "project"):
            return
        now = timezone.now()
        with organization_context(self.org):
            assert routing_violations([self.project.pk]) == NO_VIOLATIONS
            rows = list(
                Assignment.objects.filter(project=self.project).values_list(
                    "pk", "task_id", "annotator_id", "state", "lease_token", "lease_expires_at"
                )
            )
            counters = {
                pk: (taken, done)
                for pk, taken, done in Task.objects.filter(project=self.project).values_list("pk", "taken", "done")
            }
        expected = {
            a.pk: (a.task, a.member, a.state, a.token if a.state in (S.ACTIVE, S.SUBMITTED) else None)
            for a in self.leases.values()
        }
        assert {pk: (task, member, state, token) for pk, task, member, state, token, _ in rows} == expected
        assert counters == {t: (self.taken(t), self.done(t)) for t in self.tasks}
        lapsed = {pk for pk, _, _, state, _, deadline in rows if state == S.ACTIVE and deadline <= now}
        assert lapsed == {a.pk for a in self.active(lapsed=True)}


def test_routing_matches_its_model_step_by_step(db):
    run_state_machine_as_test(
        RoutingModel,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
