"""The services of the projects app hold their rule (projects.permissions) whoever calls them, the API's role gate
being only the first: a member one role too low is refused in the rule's words, and nothing is written."""

import io
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import factory
import pytest

from audit.models import AuditEvent
from core.context import current_organization_id
from core.errors import NotAllowed
from projects.imports.services import import_cancel, import_create_s3, import_create_upload
from projects.models import ImportJob, JobState, MediaObject, Project, StorageConnection, Task
from projects.services.media import media_upload
from projects.services.projects import project_create, project_delete, project_update
from projects.services.storage import storage_connection_create, storage_connection_delete, storage_connection_update
from projects.services.tasks import task_bulk_create
from tenancy.models import Organization, Role
from tests.factories import MembershipFactory, ProjectFactory
from tests.projects import imports_support

store = imports_support.store

MANAGER_RULES = {
    "project_create": "Creating projects needs the manager role or higher.",
    "project_update": "Changing a project needs the manager role or higher.",
    "task_bulk_create": "Adding tasks needs the manager role or higher.",
    "import_create_upload": "Imports need the manager role or higher.",
    "import_create_s3": "Imports need the manager role or higher.",
    "import_cancel": "Imports need the manager role or higher.",
    "media_upload": "Uploading media needs the manager role or higher.",
}
ADMIN_RULES = {
    "project_delete": "Deleting a project needs the admin role or higher.",
    "storage_connection_create": "Managing storage connections needs the admin role or higher.",
    "storage_connection_update": "Managing storage connections needs the admin role or higher.",
    "storage_connection_delete": "Managing storage connections needs the admin role or higher.",
}


class StorageConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StorageConnection

    organization = factory.LazyFunction(lambda: Organization.objects.get(pk=current_organization_id()))
    name = factory.Sequence(lambda n: f"bucket {n}")
    bucket = "lab-datasets"


def _calls(world: SimpleNamespace) -> dict[str, Callable[[Any], Any]]:
    rows = b'{"external_id": "a", "data": {"text": "x"}}\n'
    return {
        "project_create": lambda actor: project_create(actor=actor, name="Triage"),
        "project_update": lambda actor: project_update(actor=actor, project=world.project, name="Renamed"),
        "project_delete": lambda actor: project_delete(actor=actor, project=world.project),
        "task_bulk_create": lambda actor: task_bulk_create(
            actor=actor, project=world.project, items=[{"external_id": "b", "data": {"text": "y"}}]
        ),
        "import_create_upload": lambda actor: import_create_upload(
            actor=actor, project=world.project, upload=io.BytesIO(rows), size=len(rows), fmt="jsonl"
        ),
        "import_create_s3": lambda actor: import_create_s3(
            actor=actor, project=world.project, storage=world.connection, prefix="", fmt="jsonl"
        ),
        "import_cancel": lambda actor: import_cancel(actor=actor, job=world.job),
        "media_upload": lambda actor: media_upload(
            actor=actor, project=world.project, stream=io.BytesIO(b"plain text"), size=10, name="note.txt"
        ),
        "storage_connection_create": lambda actor: storage_connection_create(
            actor=actor, name="new", bucket="lab-datasets"
        ),
        "storage_connection_update": lambda actor: storage_connection_update(
            actor=actor, connection=world.connection, name="renamed"
        ),
        "storage_connection_delete": lambda actor: storage_connection_delete(actor=actor, connection=world.connection),
    }


@pytest.fixture
def world(tenant: Any, store: Any) -> SimpleNamespace:
    """What the refused calls act on: a project with one task, a storage connection, an import still pending."""
    manager = MembershipFactory(role=Role.MANAGER)
    project = ProjectFactory(name="Triage")
    task_bulk_create(actor=manager, project=project, items=[{"external_id": "a", "data": {"text": "x"}}])
    rows = b'{"external_id": "c", "data": {"text": "z"}}\n'
    job = import_create_upload(actor=manager, project=project, upload=io.BytesIO(rows), size=len(rows), fmt="jsonl")
    return SimpleNamespace(project=project, connection=StorageConnectionFactory(name="lab"), job=job)


def _state() -> dict[str, Any]:
    return {
        "projects": list(Project.objects.values_list("name", flat=True)),
        "tasks": list(Task.objects.values_list("external_id", flat=True)),
        "imports": list(ImportJob.objects.values_list("state", flat=True)),
        "media": MediaObject.objects.count(),
        "connections": list(StorageConnection.objects.values_list("name", flat=True)),
        "events": AuditEvent.objects.count(),
    }


@pytest.mark.parametrize(
    ("service", "role", "message"),
    [(service, Role.REVIEWER, message) for service, message in MANAGER_RULES.items()]
    + [(service, Role.MANAGER, message) for service, message in ADMIN_RULES.items()],
)
def test_a_service_refuses_the_role_just_below_its_rule_and_writes_nothing(world, service, role, message):
    actor = MembershipFactory(role=role)
    before = _state()

    with pytest.raises(NotAllowed) as refused:
        _calls(world)[service](actor)

    assert refused.value.message == message
    assert _state() == before
    assert before == {
        "projects": ["Triage"],
        "tasks": ["a"],
        "imports": [JobState.PENDING],
        "media": 0,
        "connections": ["lab"],
        "events": 2,
    }
