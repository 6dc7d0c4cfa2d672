"""Project and task services called directly: validation, versioning, idempotent all-or-nothing bulk create."""

import pytest

from audit.models import AuditEvent
from core.errors import InvalidInput
from projects import services
from projects.label_schema import parse_schema
from projects.models import Project, Task
from tenancy.models import Role
from tests.factories import MembershipFactory, ProjectFactory


@pytest.fixture
def actor(tenant):
    return MembershipFactory(role=Role.MANAGER)


def test_project_create_rejects_fields_it_does_not_know(actor):
    with pytest.raises(TypeError, match="organization"):
        services.project_create(actor=actor, name="P", organization=1)

    assert Project.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"overlap": 0}, "overlap"), ({"overlap": 51}, "overlap"), ({"label_schema": []}, "label_schema")],
)
def test_project_create_validates_without_the_api(actor, fields, field):
    with pytest.raises(InvalidInput) as raised:
        services.project_create(actor=actor, name="P", **fields)

    assert [e.field for e in raised.value.errors] == [field]
    assert Project.objects.count() == 0


def test_project_update_bumps_both_versions_in_one_change(actor):
    project = ProjectFactory(label_schema={"fields": []}, guidelines="v1 text")

    schema = {"fields": [{"name": "note", "type": "text"}]}

    updated = services.project_update(
        actor=actor, project=project, label_schema=schema, guidelines="v2", new_schema_version=True
    )

    assert (updated.schema_version, updated.guidelines_version) == (2, 2)
    assert AuditEvent.objects.get(action="project.update").changes == {
        "label_schema": [{"fields": []}, parse_schema(schema).to_document()],
        "guidelines": ["v1", "v2"],
    }


def test_task_bulk_create_is_idempotent_and_audited(actor):
    project = ProjectFactory()
    items = [{"external_id": "a", "data": {"t": 1}}, {"external_id": "b", "data": {"t": 2}}]

    first = services.task_bulk_create(actor=actor, project=project, items=items)
    second = services.task_bulk_create(actor=actor, project=project, items=items)

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
        services.task_bulk_create(
            actor=actor, project=project, items=[{"external_id": str(i), "data": {"t": i}} for i in range(3)]
        )

    assert Task.objects.count() == 0


def test_task_bulk_create_reports_all_errors_and_writes_nothing(actor):
    project = ProjectFactory()

    with pytest.raises(InvalidInput) as raised:
        services.task_bulk_create(
            actor=actor,
            project=project,
            items=[{"external_id": "ok", "data": {"t": 1}}, {"data": None}, {"external_id": "ok", "data": {"t": 1}}],
        )

    assert [e.field for e in raised.value.errors] == ["[1].data", "[2].external_id"]
    assert Task.objects.count() == 0
    assert not AuditEvent.objects.filter(action="task.bulk_create").exists()


def test_project_delete_removes_its_tasks_and_records_the_count(actor):
    project = ProjectFactory(name="Gone")
    services.task_bulk_create(actor=actor, project=project, items=[{"external_id": "a", "data": {"t": 1}}])

    services.project_delete(actor=actor, project=project)

    assert (Project.objects.count(), Task.objects.count()) == (0, 0)
    assert AuditEvent.objects.get(action="project.delete").metadata == {"name": "Gone", "tasks": 1}
