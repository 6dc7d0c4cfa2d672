"""A member's home-page view of their own work: the projects they may label, what blocks them, their counts, and
their latest answers with what reviewers made of them."""

import uuid
from datetime import timedelta

from django.utils import timezone

from annotation.models import Annotation, AnnotatorProgress, AssignmentState
from annotation.selectors.my_work import RECENT_ITEMS, MemberStats, member_history, member_work
from tenancy.models import Role
from tests.annotation.exports_support import AssignmentFactory
from tests.annotation.quality_factories import ReviewFactory
from tests.factories import (
    AnnotationFactory,
    ConflictExclusionFactory,
    MembershipFactory,
    ProjectFactory,
    TaskFactory,
)

SCHEMA = {"fields": [{"name": "label", "type": "choices", "options": ["yes", "no"]}]}


def _lease() -> dict:
    return {"lease_token": uuid.uuid4(), "lease_expires_at": timezone.now() + timedelta(minutes=5)}


def test_a_member_sees_where_they_may_label_and_how_they_stand(tenant):
    me = MembershipFactory(role=Role.ANNOTATOR)
    open_project = ProjectFactory(name="A open", codename="Osprey", label_schema=SCHEMA)
    ProjectFactory(name="B skilled", label_schema=SCHEMA, required_skills={"cardiology": 3})
    ProjectFactory(name="C no form", label_schema={"fields": []})
    excluded = ProjectFactory(name="D excluded", label_schema=SCHEMA)
    ConflictExclusionFactory(project=excluded, membership=me)
    paused = ProjectFactory(name="E paused", label_schema=SCHEMA)
    AnnotatorProgress.objects.create(
        project=paused, annotator=me, paused_at=timezone.now(), paused_reason="Accuracy 40% is below 80%."
    )
    AnnotatorProgress.objects.create(project=open_project, annotator=me, submitted=7, gold_scored=4, gold_score_sum=3.0)
    for state in (AssignmentState.QUEUED, AssignmentState.QUEUED, AssignmentState.ACTIVE):
        AssignmentFactory(
            task=TaskFactory(project=open_project),
            annotator=me,
            state=state,
            **(_lease() if state == AssignmentState.ACTIVE else {}),
        )

    work = member_work(membership=me)

    assert [(w.title, w.may_label) for w in work] == [("Osprey", True), ("B skilled", False), ("E paused", False)]
    osprey, needs_skill, on_pause = work
    assert (osprey.queued, osprey.active, osprey.submitted, osprey.gold_accuracy) == (2, 1, 7, 0.75)
    assert needs_skill.blocked == "The project requires cardiology ≥ 3."
    assert on_pause.blocked == "Accuracy 40% is below 80%."


# --- history: recent items and the member's own numbers -------------------------------------------------------------


def _annotated(me, project, task, *, review_state="none", time_spent_ms=0, days_ago=0, **fields):
    annotation = AnnotationFactory(
        project=project,
        task=task if not isinstance(task, str) else TaskFactory(project=project, external_id=task),
        annotator=me,
        review_state=review_state,
        time_spent_ms=time_spent_ms,
        **fields,
    )
    Annotation.objects.filter(pk=annotation.pk).update(created_at=timezone.now() - timedelta(days=days_ago, hours=1))
    return annotation


def test_history_lists_the_latest_own_answers_with_outcome_and_comment(tenant, django_assert_num_queries):
    # Given answers of mine on a blind and an open project, reviewed in every way, and others' work around them
    me = MembershipFactory(role=Role.ANNOTATOR)
    blind = ProjectFactory(name="Secret study", codename="Heron", blind=True, label_schema=SCHEMA)
    open_project = ProjectFactory(name="Open study", label_schema=SCHEMA)
    _annotated(me, open_project, "t-old", review_state="accepted", time_spent_ms=30_000, days_ago=9)
    rejected = _annotated(me, blind, "t-rej", review_state="rejected", time_spent_ms=50_000, days_ago=3)
    ReviewFactory(annotation=rejected, decision="reject", comment="Read the second paragraph again.")
    corrected = _annotated(me, open_project, "t-cor", review_state="corrected", time_spent_ms=10_000, days_ago=2)
    ReviewFactory(annotation=corrected, decision="correct", comment="")
    reviewer = MembershipFactory(role=Role.REVIEWER)
    # The reviewer's correction is a version filed under them: not my answer, and not their labelling either.
    AnnotationFactory(project=open_project, task=corrected.task, annotator=reviewer, version=2, supersedes=corrected)
    _annotated(
        me,
        blind,
        rejected.task,
        review_state="pending",
        time_spent_ms=20_000,
        days_ago=1,
        version=2,
        supersedes=rejected,
    )
    AnnotationFactory(project=open_project, annotator=MembershipFactory(role=Role.ANNOTATOR), review_state="accepted")

    # When the history is read: two queries, whatever the number of projects
    with django_assert_num_queries(2):
        history = member_history(membership=me)

    # Then the newest answer comes first, blind projects by their codename, each with its outcome and comment
    assert [
        (item.project_title, item.external_id, item.version, item.outcome, item.outcome_label, item.comment)
        for item in history.items
    ] == [
        ("Heron", "t-rej", 2, "pending", "Waiting for review", ""),
        ("Open study", "t-cor", 1, "corrected", "Corrected", ""),
        ("Heron", "t-rej", 1, "rejected", "Rejected", "Read the second paragraph again."),
        ("Open study", "t-old", 1, "accepted", "Accepted", ""),
    ]
    assert history.stats == MemberStats(
        submitted_week=3, submitted_total=4, reviewed=3, accepted=1, median_seconds=25.0
    )
    assert history.stats.acceptance_rate == 1 / 3
    assert member_history(membership=reviewer).stats.submitted_total == 0


def test_history_keeps_the_latest_twenty_and_the_newest_comment(tenant):
    me = MembershipFactory(role=Role.ANNOTATOR)
    project = ProjectFactory(name="Batch", label_schema=SCHEMA)
    for number in range(RECENT_ITEMS + 3):
        _annotated(me, project, f"t-{number:02d}", days_ago=30 - number)
    latest = Annotation.objects.get(task__external_id=f"t-{RECENT_ITEMS + 2:02d}")
    ReviewFactory(annotation=latest, level=1, decision="accept", comment="Fine at level one.")
    ReviewFactory(annotation=latest, level=2, decision="reject", comment="Not at level two.")

    history = member_history(membership=me)

    assert len(history.items) == RECENT_ITEMS
    assert (history.items[0].external_id, history.items[0].comment) == ("t-22", "Not at level two.")
    assert history.items[-1].external_id == "t-03"
    assert (history.stats.submitted_total, history.stats.median_seconds, history.stats.acceptance_rate) == (
        RECENT_ITEMS + 3,
        None,
        None,
    )
