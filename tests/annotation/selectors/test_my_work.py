"""A member's home-page view of their own work: the projects they may label, what blocks them, their counts."""

import uuid
from datetime import timedelta

from django.utils import timezone

from annotation.models import AnnotatorProgress, AssignmentState
from annotation.selectors.my_work import member_work
from tenancy.models import Role
from tests.annotation.exports_support import AssignmentFactory
from tests.factories import ConflictExclusionFactory, MembershipFactory, ProjectFactory, TaskFactory

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
