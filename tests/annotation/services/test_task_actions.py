"""A manager's changes to chosen tasks: all or none, refused below manager, one audit event naming every task."""

from typing import Any

import pytest

from annotation.models import TaskAgreement
from annotation.services.task_actions import tasks_adjudication_request, tasks_gold_set, tasks_requeue
from audit.models import AuditEvent
from core.errors import InvalidInput, NotAllowed
from projects.models import Task
from projects.services.tasks import tasks_priority_set
from tenancy.models import Role
from tests.annotation.quality_factories import AdjudicationFactory, TaskAgreementFactory
from tests.factories import AnnotationFactory, MembershipFactory, ProjectFactory, TaskFactory

SCHEMA = {"fields": [{"name": "label", "type": "choices", "options": ["cat", "dog"]}]}


@pytest.fixture
def setup(tenant: Any) -> dict[str, Any]:
    project = ProjectFactory(label_schema=SCHEMA, overlap=1)
    tasks = [TaskFactory(project=project, external_id=f"t{i}") for i in range(3)]
    return {"project": project, "tasks": tasks, "manager": MembershipFactory(role=Role.MANAGER)}


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def _fresh(task: Task) -> Task:
    task.refresh_from_db()
    return task


@pytest.mark.django_db
def test_requeue_asks_for_one_more_annotation_of_each_task(setup):
    project, tasks = setup["project"], setup["tasks"][:2]
    assert tasks_requeue(actor=setup["manager"], project=project, tasks=tasks) == 2
    assert [_fresh(t).overlap for t in setup["tasks"]] == [2, 2, 1]
    (event,) = _events("task.requeue")
    assert event.metadata["task_ids"] == [str(t.uuid) for t in tasks]


@pytest.mark.django_db
def test_requeue_refuses_the_batch_when_one_task_is_gold(setup):
    gold = setup["tasks"][1]
    gold.is_gold = True
    gold.save(update_fields=["is_gold"])
    with pytest.raises(InvalidInput) as refused:
        tasks_requeue(actor=setup["manager"], project=setup["project"], tasks=setup["tasks"])
    assert [e.field for e in refused.value.errors] == ["tasks.t1"]
    assert [_fresh(t).overlap for t in setup["tasks"]] == [1, 1, 1]
    assert _events("task.requeue") == []


@pytest.mark.django_db
def test_priority_is_set_on_the_chosen_tasks_only(setup):
    tasks_priority_set(actor=setup["manager"], project=setup["project"], tasks=setup["tasks"][1:], priority=7)
    assert [_fresh(t).priority for t in setup["tasks"]] == [0, 7, 7]
    (event,) = _events("task.priority_set")
    assert event.changes == {"priority": 7}


@pytest.mark.django_db
@pytest.mark.parametrize("priority", [True, "7", 10**7])
def test_a_bad_priority_names_the_field_and_changes_nothing(setup, priority):
    with pytest.raises(InvalidInput) as refused:
        tasks_priority_set(actor=setup["manager"], project=setup["project"], tasks=setup["tasks"], priority=priority)
    assert [e.field for e in refused.value.errors] == ["priority"]
    assert [_fresh(t).priority for t in setup["tasks"]] == [0, 0, 0]


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_below_manager_every_change_is_refused(setup, role):
    member, project, tasks = MembershipFactory(role=role), setup["project"], setup["tasks"]
    for change in (
        lambda: tasks_requeue(actor=member, project=project, tasks=tasks),
        lambda: tasks_priority_set(actor=member, project=project, tasks=tasks, priority=1),
        lambda: tasks_gold_set(actor=member, project=project, tasks=tasks, gold=False),
        lambda: tasks_adjudication_request(actor=member, project=project, tasks=tasks),
    ):
        with pytest.raises(NotAllowed):
            change()
    assert AuditEvent.objects.filter(category="task").count() == 0


@pytest.mark.django_db
def test_gold_takes_the_adjudicated_or_agreed_answer(setup):
    project, (adjudicated, agreed, _) = setup["project"], setup["tasks"]
    AdjudicationFactory(project=project, task=adjudicated, result={"label": "dog"})
    AnnotationFactory(project=project, task=agreed, result={"label": "cat"}, review_state="accepted")
    AnnotationFactory(project=project, task=agreed, result={"label": "cat"})
    tasks_gold_set(actor=setup["manager"], project=project, tasks=[adjudicated, agreed], gold=True)
    assert [(_fresh(t).is_gold, t.gold_answer) for t in (adjudicated, agreed)] == [
        (True, {"label": "dog"}),
        (True, {"label": "cat"}),
    ]
    tasks_gold_set(actor=setup["manager"], project=project, tasks=[agreed], gold=False)
    assert (_fresh(agreed).is_gold, agreed.gold_answer) == (False, None)
    assert [e.changes for e in _events("task.gold_set")] == [{"is_gold": True}, {"is_gold": False}]


@pytest.mark.django_db
def test_gold_is_refused_for_a_task_without_a_settled_answer(setup):
    project, (split, rejected, _empty) = setup["project"], setup["tasks"]
    AnnotationFactory(project=project, task=split, result={"label": "cat"})
    AnnotationFactory(project=project, task=split, result={"label": "dog"})
    AnnotationFactory(project=project, task=rejected, result={"label": "cat"}, review_state="rejected")
    with pytest.raises(InvalidInput) as refused:
        tasks_gold_set(actor=setup["manager"], project=project, tasks=setup["tasks"], gold=True)
    assert [e.field for e in refused.value.errors] == ["tasks.t0", "tasks.t1", "tasks.t2"]
    assert [_fresh(t).is_gold for t in setup["tasks"]] == [False, False, False]


@pytest.mark.django_db
def test_adjudication_request_flags_tasks_with_or_without_an_agreement_row(setup):
    project, (measured, unmeasured, _) = setup["project"], setup["tasks"]
    for task in (measured, unmeasured):
        task.done = 1
        task.save(update_fields=["done"])
    TaskAgreementFactory(project=project, task=measured, score=0.95, needs_adjudication=False)
    tasks_adjudication_request(actor=setup["manager"], project=project, tasks=[measured, unmeasured])
    flagged = TaskAgreement.objects.filter(needs_adjudication=True).values_list("task__external_id", flat=True)
    assert sorted(flagged) == ["t0", "t1"]
    (event,) = _events("task.adjudication_request")
    assert event.metadata["count"] == 2


@pytest.mark.django_db
def test_adjudication_request_refuses_unlabelled_or_settled_tasks(setup):
    project, (settled, unlabelled, _) = setup["project"], setup["tasks"]
    settled.done = 1
    settled.save(update_fields=["done"])
    AdjudicationFactory(project=project, task=settled, result={"label": "dog"})
    with pytest.raises(InvalidInput) as refused:
        tasks_adjudication_request(actor=setup["manager"], project=project, tasks=[settled, unlabelled])
    assert [(e.field, e.message) for e in refused.value.errors] == [
        ("tasks.t0", "Adjudicated already."),
        ("tasks.t1", "Nobody has annotated it yet."),
    ]
    assert not TaskAgreement.objects.filter(needs_adjudication=True).exists()
