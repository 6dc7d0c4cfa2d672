"""Task services called directly: idempotent, all-or-nothing bulk create within the configured limit."""

import pytest

from audit.models import AuditEvent
from core.errors import InvalidInput
from projects.models import Task
from projects.services.tasks import task_bulk_create
from tenancy.models import Role
from tests.factories import MembershipFactory, ProjectFactory


@pytest.fixture
def actor(tenant):
    return MembershipFactory(role=Role.MANAGER)


def test_task_bulk_create_is_idempotent_and_audited(actor):
    project = ProjectFactory()
    items = [{"external_id": "a", "data": {"t": 1}}, {"external_id": "b", "data": {"t": 2}}]

    first = task_bulk_create(actor=actor, project=project, items=items)
    second = task_bulk_create(actor=actor, project=project, items=items)

    assert [t.external_id for t in first.created] == ["a", "b"]
    assert (second.created, second.existing) == ([], ["a", "b"])
    assert Task.objects.filter(project=project).count() == 2
    assert [e.metadata for e in AuditEvent.objects.filter(action="task.bulk_create").order_by("sequence")] == [
        {"created": 2, "existing": 0, "requested": 2},
        {"created": 0, "existing": 2, "requested": 2},
    ]


def test_task_bulk_create_respects_the_configured_limit(actor, settings):
    settings.PROJECTS_BULK_MAX_TASKS = 2
    project = ProjectFactory()

    with pytest.raises(InvalidInput, match="At most 2 tasks"):
        task_bulk_create(
            actor=actor, project=project, items=[{"external_id": str(i), "data": {"t": i}} for i in range(3)]
        )

    assert Task.objects.count() == 0


def test_task_bulk_create_reports_all_errors_and_writes_nothing(actor):
    project = ProjectFactory()

    with pytest.raises(InvalidInput) as raised:
        task_bulk_create(
            actor=actor,
            project=project,
            items=[{"external_id": "ok", "data": {"t": 1}}, {"data": None}, {"external_id": "ok", "data": {"t": 1}}],
        )

    assert [e.field for e in raised.value.errors] == ["[1].data", "[2].external_id"]
    assert Task.objects.count() == 0
    assert not AuditEvent.objects.filter(action="task.bulk_create").exists()
