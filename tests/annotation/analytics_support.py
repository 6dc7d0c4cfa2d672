"""A small labelled world whose every figure is known, for the dashboards' tests: three days of work on one project
(and one more item elsewhere), with reviews, a correction, gold, a skip and agreement scores."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest

from annotation.models import Annotation, Assignment, AssignmentState, ReviewState, TaskAgreement
from annotation.selectors.analytics import Period
from annotation.services.quality import annotator_pseudonym
from tenancy.models import Membership, Role
from tests.annotation.exports_support import AssignmentFactory
from tests.annotation.quality_factories import ProjectAgreementFactory, ReviewFactory, TaskAgreementFactory
from tests.factories import AnnotationFactory, MembershipFactory, ProjectFactory, TaskFactory, UserFactory

SCHEMA = {
    "fields": [
        {"name": "label", "type": "choices", "options": ["yes", "no"]},
        {"name": "score", "type": "rating", "min": 1, "max": 5},
    ]
}
PERIOD = Period(since=date(2026, 12, 1), until=date(2026, 12, 3))
DEC_1, DEC_2, DEC_3 = PERIOD.days()


def nov(day: int) -> datetime:
    return datetime(2026, 11, day, 12, tzinfo=UTC)


def dec(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


@dataclass
class World:
    project: Any
    other: Any
    a: Membership
    b: Membership
    c: Membership
    reviewer: Membership


def _submit(task: Any, who: Membership, when: datetime, *, ms: int = 0, claimed: datetime | None = None, **fields: Any):
    """An annotator's submission of `task` at `when` (its assignment finished then), as the submit leaves them."""
    assignment = AssignmentFactory(task=task, annotator=who, claimed_at=claimed)
    Assignment.objects.filter(pk=assignment.pk).update(finished_at=when)
    annotation = AnnotationFactory(
        project=task.project, task=task, annotator=who, assignment=assignment, time_spent_ms=ms, **fields
    )
    Annotation.objects.filter(pk=annotation.pk).update(created_at=when)
    return annotation


def _review(annotation: Annotation, reviewer: Membership, decision: str, when: datetime, **fields: Any) -> None:
    review = ReviewFactory(annotation=annotation, reviewer=reviewer, decision=decision, **fields)
    type(review).objects.filter(pk=review.pk).update(created_at=when)


def _agreement(project: Any, task: Any, scores: dict[str, Any], when: datetime, annotations: int = 2) -> None:
    row = TaskAgreementFactory(project=project, task=task, fields=scores, annotations=annotations)
    TaskAgreement.objects.filter(pk=row.pk).update(computed_at=when)


@pytest.fixture
def world(tenant: Any) -> World:
    project = ProjectFactory(label_schema=SCHEMA, overlap=2)
    other = ProjectFactory(name="Other", label_schema=SCHEMA)
    a, b, c = (MembershipFactory(user=UserFactory(email=f"{n}@lab.example")) for n in "abc")
    reviewer = MembershipFactory(role=Role.REVIEWER)
    old, t1, t2, t3, t4 = (TaskFactory(project=project, external_id=n) for n in ("old", "t1", "t2", "t3", "t4"))
    for task, done in ((old, 2), (t1, 2), (t2, 2), (t3, 1), (t4, 2)):
        type(task).objects.filter(pk=task.pk).update(done=done)
    gold = TaskFactory(project=project, external_id="gold", is_gold=True)

    # Done before the period: the starting point of the completion line.
    _submit(old, a, nov(20), ms=9000)
    _submit(old, b, nov(21), ms=9000)
    # t1 is done on Dec 2, t2 on Dec 3; t3 waits for its second answer; t4 is done after the period.
    a_t1 = _submit(t1, a, dec(1, 10), ms=4000, claimed=dec(1, 9, 30), review_state=ReviewState.ACCEPTED)
    b_t1 = _submit(t1, b, dec(2, 9), ms=3000, review_state=ReviewState.CORRECTED)
    a_t2 = _submit(t2, a, dec(2, 15), ms=6000, review_state=ReviewState.REJECTED)
    _submit(t2, c, dec(3, 8), ms=8000, review_state=ReviewState.PENDING)
    _submit(t3, a, dec(3, 9), ms=0)
    _submit(t4, b, dec(3, 23, 59))
    _submit(t4, c, datetime(2026, 12, 5, 1, tzinfo=UTC))
    # Gold: a perfect answer, a half-right one.
    _submit(gold, a, dec(1, 11), ms=2000, is_gold=True, gold_score=1.0)
    _submit(gold, b, dec(2, 11), ms=1000, is_gold=True, gold_score=0.5)
    # C skipped t3 after a quarter of an hour with it.
    skip = AssignmentFactory(task=t3, annotator=c, state=AssignmentState.SKIPPED, claimed_at=dec(2, 11))
    Assignment.objects.filter(pk=skip.pk).update(finished_at=dec(2, 11, 15))

    # Reviews: A's t1 accepted, A's t2 rejected, B's t1 corrected (the correction counts for no one).
    _review(a_t1, reviewer, "accept", dec(2, 10))
    _review(a_t2, reviewer, "reject", dec(3, 10), comment="Read the guidelines on sarcasm.")
    correction = AnnotationFactory(
        project=project, task=t1, annotator=reviewer, supersedes=b_t1, version=2, assignment=b_t1.assignment
    )
    Annotation.objects.filter(pk=correction.pk).update(created_at=dec(2, 10, 30))
    _review(b_t1, reviewer, "correct", dec(2, 10, 30), correction=correction)

    # One hour on another project.
    _submit(TaskFactory(project=other), a, dec(2, 16), ms=3_600_000)

    # Agreement: t1 and t2 scored in the period; t3 has one answer only; the old task was scored before.
    _agreement(project, t1, {"label": 1.0, "score": 0.5}, dec(2, 9, 5))
    _agreement(project, t2, {"label": 0.0, "score": None}, dec(3, 8, 5))
    _agreement(project, t3, {"label": 1.0}, dec(3, 9, 5), annotations=1)
    _agreement(project, old, {"label": 1.0}, nov(21))

    pseudonym = {m.pk: annotator_pseudonym(project_uuid=project.uuid, member_uuid=m.uuid) for m in (a, b, c)}
    ProjectAgreementFactory(
        project=project,
        report={
            "fields": [
                {
                    "name": "label",
                    "pairs": [
                        {
                            "annotator_a": pseudonym[a.pk],
                            "annotator_b": pseudonym[b.pk],
                            "observed": 1.0,
                            "shared_units": 2,
                        },
                        {
                            "annotator_a": pseudonym[a.pk],
                            "annotator_b": pseudonym[c.pk],
                            "observed": 0.0,
                            "shared_units": 1,
                        },
                    ],
                },
                {
                    "name": "score",
                    "pairs": [
                        {
                            "annotator_a": pseudonym[a.pk],
                            "annotator_b": pseudonym[b.pk],
                            "observed": 0.5,
                            "shared_units": 2,
                        }
                    ],
                },
            ]
        },
    )
    return World(project=project, other=other, a=a, b=b, c=c, reviewer=reviewer)
