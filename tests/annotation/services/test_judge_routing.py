"""A judge's verdicts are not answers to routing or to the project's agreement: a task the judge answered still
waits for the experts its overlap asks for, and the agreement report counts only them."""

from typing import Any

from annotation.services.claim import assignment_claim
from annotation.services.quality import project_agreement_recompute
from tenancy.models import Role
from tests.factories import AnnotationFactory, MembershipFactory, ProjectFactory, TaskFactory
from tests.llm.judge_support import JudgeRunFactory, JudgeVerdictFactory

SCHEMA = {"fields": [{"name": "sentiment", "type": "choices", "options": ["positive", "negative"]}]}


def half_answered(tenant: Any) -> tuple[Any, Any]:
    """A project asking two answers per task, and its one task with one expert answer and a judge's verdict."""
    project = ProjectFactory(label_schema=SCHEMA, overlap=2)
    task = TaskFactory(project=project, overlap=2, done=1, taken=1)
    AnnotationFactory(project=project, task=task, result={"sentiment": "positive"})
    run = JudgeRunFactory(project=project, fields=["sentiment"])
    JudgeVerdictFactory(run=run, task=task, result={"sentiment": "positive"})
    return project, task


def test_a_task_the_judge_answered_still_goes_to_a_second_expert(tenant):
    project, task = half_answered(tenant)
    expert = MembershipFactory(role=Role.ANNOTATOR)

    claim = assignment_claim(actor=expert, project=project)

    assert claim.assignment is not None
    assert claim.assignment.task_id == task.pk
    task.refresh_from_db()
    assert (task.taken, task.done) == (2, 1)


def test_the_agreement_report_counts_the_experts_only(tenant):
    project, _ = half_answered(tenant)

    report = project_agreement_recompute(project=project)

    # One expert answer on the only task: nothing to compare, however the judge answered.
    assert (report.tasks, report.report["annotators"]) == (0, [])
