"""Project services called directly: validation, versioning, deletion."""

import pytest

from audit.models import AuditEvent
from core.errors import InvalidInput
from projects.label_schema import parse_schema
from projects.models import Project, Task
from projects.services.projects import project_create, project_delete, project_update
from projects.services.tasks import task_bulk_create
from tenancy.models import Role
from tests.factories import MembershipFactory, ProjectFactory


@pytest.fixture
def actor(tenant):
    return MembershipFactory(role=Role.MANAGER)


def test_project_create_rejects_fields_it_does_not_know(actor):
    with pytest.raises(TypeError, match="organization"):
        project_create(actor=actor, name="P", organization=1)

    assert Project.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"overlap": 0}, "overlap"), ({"overlap": 51}, "overlap"), ({"label_schema": []}, "label_schema")],
)
def test_project_create_validates_without_the_api(actor, fields, field):
    with pytest.raises(InvalidInput) as raised:
        project_create(actor=actor, name="P", **fields)

    assert [e.field for e in raised.value.errors] == [field]
    assert Project.objects.count() == 0


def test_project_update_bumps_both_versions_in_one_change(actor):
    project = ProjectFactory(label_schema={"fields": []}, guidelines="v1 text")

    schema = {"fields": [{"name": "note", "type": "text"}]}

    updated = project_update(
        actor=actor, project=project, label_schema=schema, guidelines="v2", new_schema_version=True
    )

    assert (updated.schema_version, updated.guidelines_version) == (2, 2)
    assert AuditEvent.objects.get(action="project.update").changes == {
        "label_schema": [{"fields": []}, parse_schema(schema).to_document()],
        "guidelines": ["v1", "v2"],
    }


def test_project_delete_removes_its_tasks_and_records_the_count(actor):
    project = ProjectFactory(name="Gone")
    task_bulk_create(actor=actor, project=project, items=[{"external_id": "a", "data": {"t": 1}}])

    project_delete(actor=MembershipFactory(role=Role.ADMIN), project=project)

    assert (Project.objects.count(), Task.objects.count()) == (0, 0)
    assert AuditEvent.objects.get(action="project.delete").metadata == {"name": "Gone", "tasks": 1}
