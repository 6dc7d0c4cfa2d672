"""The names the audit page shows for the targets of a page of events: one read per kind, never per row."""

import uuid

from audit.models import AuditEvent
from audit.selectors.targets import audit_target_names
from core.context import organization_context
from tenancy.models import Role
from tests.factories import AnnotationFactory, MembershipFactory, ProjectFactory, TaskFactory, UserFactory


def _event(target_type: str, target_id: str) -> AuditEvent:
    # Unsaved: the selector reads only the two target fields.
    return AuditEvent(action="project.update", target_type=target_type, target_id=target_id)


def test_targets_are_named_in_one_read_per_kind(tenant, other_tenant, django_assert_num_queries):
    # Given a page of events about projects, tasks, members, an annotation and things that cannot be named
    ada = MembershipFactory(role=Role.ANNOTATOR, user=UserFactory(name="Ada Lovelace", email="ada@lab.example"))
    radiology = ProjectFactory(name="Radiology batch")
    projects = [radiology, *ProjectFactory.create_batch(3)]
    tasks = [TaskFactory(project=radiology, external_id=f"scan-{n}") for n in range(4)]
    annotation = AnnotationFactory(project=radiology, task=tasks[0], annotator=ada, version=2)
    with organization_context(other_tenant.pk):
        foreign = ProjectFactory(name="Their secret project")
    gone = uuid.uuid4()
    events = [
        *(_event("projects.project", str(p.uuid)) for p in projects),
        *(_event("projects.task", str(t.uuid)) for t in tasks),
        _event("tenancy.membership", str(ada.uuid)),
        _event("tenancy.user", str(ada.user.uuid)),
        _event("annotation.annotation", str(annotation.uuid)),
        _event("projects.project", str(foreign.uuid)),
        _event("projects.project", str(gone)),
        _event("ui:project-overview", "not-a-uuid"),
        _event("projects.task", "not-a-uuid"),
    ]

    # When the names are read: projects, tasks, members, users, annotations
    with django_assert_num_queries(5):
        names = audit_target_names(events=events)

    # Then each is named by what people call it; another organization's, a gone one and non-ids are not
    assert names[("projects.project", str(radiology.uuid))] == "Radiology batch"
    assert names[("projects.task", str(tasks[2].uuid))] == "scan-2 in Radiology batch"
    assert names[("tenancy.membership", str(ada.uuid))] == "Ada Lovelace <ada@lab.example>"
    assert names[("tenancy.user", str(ada.user.uuid))] == "Ada Lovelace <ada@lab.example>"
    assert names[("annotation.annotation", str(annotation.uuid))] == "scan-0 v2 by Ada Lovelace <ada@lab.example>"
    assert len(names) == 4 + 4 + 3
    assert ("projects.project", str(foreign.uuid)) not in names
    assert ("projects.project", str(gone)) not in names


def test_no_events_need_no_read(tenant, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert audit_target_names(events=[_event("", ""), _event("audit.category", "project")]) == {}
