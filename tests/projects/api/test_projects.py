"""Projects: create, read (blind to annotators), update with versioned schema and guidelines, delete with tasks."""

import pytest

from audit.models import AuditEvent
from projects.label_schema import parse_schema
from projects.models import LabelSchemaVersion, Project, Task
from tenancy.models import Role
from tests.conftest import member_client
from tests.factories import AnnotationFactory, ProjectFactory, TaskFactory

PROJECTS_URL = "/api/v1/projects/"


def project_url(project: Project) -> str:
    return f"{PROJECTS_URL}{project.uuid}"


# --- create ---


def test_manager_creates_a_project(tenant):
    client, manager = member_client(tenant, Role.MANAGER)
    body = {
        "name": "Radiology triage",
        "codename": "Falcon",
        "description": "Chest X-rays",
        "guidelines": "Mark every nodule.",
        "label_schema": {"fields": [{"name": "finding", "type": "choices", "options": ["yes", "no"]}]},
        "overlap": 3,
        "settings": {"review_rate": 0.1},
    }

    response = client.post(PROJECTS_URL, body, format="json")

    assert response.status_code == 201
    created = response.json()
    assert {k: created[k] for k in body if k != "label_schema"} == {
        k: v for k, v in body.items() if k != "label_schema"
    }
    # Stored spelled out: every default made explicit.
    assert created["label_schema"] == parse_schema(body["label_schema"]).to_document()
    assert created["label_schema"]["fields"][0]["multiple"] is False
    assert (created["schema_version"], created["guidelines_version"]) == (1, 1)
    project = Project.objects.get(uuid=created["id"])
    assert project.created_by == manager.user
    assert project.organization_id == tenant.pk
    event = AuditEvent.objects.get(action="project.create")
    assert event.target_id == created["id"]
    expected = {k: [None, v] for k, v in body.items() if k != "guidelines"}
    expected["label_schema"] = [None, created["label_schema"]]
    assert event.changes == expected
    assert event.metadata == {"guidelines_chars": len("Mark every nodule.")}


def test_a_project_needs_only_a_name(tenant, api_as):
    response = api_as(tenant, Role.MANAGER).post(PROJECTS_URL, {"name": "Minimal"}, format="json")

    assert response.status_code == 201
    assert response.json()["overlap"] == 1
    assert response.json()["label_schema"] == {"fields": []}
    assert response.json()["codename"] == ""


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ANNOTATOR])
def test_below_manager_cannot_create_projects(tenant, api_as, role):
    response = api_as(tenant, role).post(PROJECTS_URL, {"name": "Nope"}, format="json")

    assert response.status_code == 403
    assert Project.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({}, "name", "required"),
        ({"name": ""}, "name", "blank"),
        ({"name": "   "}, "name", "blank"),
        ({"name": "x" * 201}, "name", "max_length"),
        ({"name": "P", "overlap": 0}, "overlap", "min_value"),
        ({"name": "P", "overlap": 51}, "overlap", "max_value"),
        ({"name": "P", "overlap": "three"}, "overlap", "invalid"),
        ({"name": "P", "label_schema": []}, "label_schema", "not_a_dict"),
        ({"name": "P", "settings": "on"}, "settings", "not_a_dict"),
        ({"name": "P", "schema_version": 7}, "schema_version", "read_only"),
    ],
)
def test_invalid_project_bodies_name_the_field(tenant, api_as, body, field, code):
    response = api_as(tenant, Role.MANAGER).post(PROJECTS_URL, body, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    assert Project.objects.count() == 0
    assert not AuditEvent.objects.filter(action="project.create").exists()


# --- read ---


def test_managers_see_the_real_name_and_everything(tenant, api_as):
    project = ProjectFactory(name="Secret roadmap eval", codename="Heron")

    listed = api_as(tenant, Role.MANAGER).get(PROJECTS_URL)

    assert listed.status_code == 200
    [item] = listed.json()["results"]
    assert (item["id"], item["name"], item["codename"]) == (str(project.uuid), "Secret roadmap eval", "Heron")
    assert "settings" in item


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_annotators_see_the_codename_as_the_name_on_blind_projects(tenant, api_as, role):
    project = ProjectFactory(name="Secret roadmap eval", codename="Heron", description="internal only")
    client = api_as(tenant, role)

    listed = client.get(PROJECTS_URL)
    detail = client.get(project_url(project))

    for item in (listed.json()["results"][0], detail.json()):
        assert item["name"] == "Heron"
        assert set(item) == {"id", "name", "guidelines", "guidelines_version", "label_schema", "schema_version"}
    assert "Secret roadmap eval" not in listed.content.decode() + detail.content.decode()
    assert "internal only" not in detail.content.decode()


def test_annotators_see_the_name_when_there_is_no_codename(tenant, api_as):
    project = ProjectFactory(name="Open project", codename="")

    response = api_as(tenant, Role.ANNOTATOR).get(project_url(project))

    assert response.json()["name"] == "Open project"


def test_list_is_ordered_and_paginated_by_cursor(tenant, api_as):
    projects = [ProjectFactory() for _ in range(5)]
    client = api_as(tenant, Role.MANAGER)

    first = client.get(PROJECTS_URL, {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    seen = [p["id"] for page in (first, second, third) for p in page["results"]]
    assert seen == [str(p.uuid) for p in projects]
    assert third["next"] is None


def test_detail_of_an_unknown_project_is_404(tenant, api_as):
    response = api_as(tenant, Role.MANAGER).get(f"{PROJECTS_URL}00000000-0000-0000-0000-000000000000")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- update ---


def test_a_schema_amendment_keeps_the_version_and_is_audited(tenant, api_as):
    project = ProjectFactory(label_schema={"fields": []})
    new_schema = {"fields": [{"name": "ok", "type": "choices", "options": ["a", "b"]}]}

    response = api_as(tenant, Role.MANAGER).patch(project_url(project), {"label_schema": new_schema}, format="json")

    assert response.status_code == 200
    assert (response.json()["schema_version"], response.json()["guidelines_version"]) == (1, 1)
    canonical = parse_schema(new_schema).to_document()
    project.refresh_from_db()
    assert (project.label_schema, project.schema_version) == (canonical, 1)
    assert LabelSchemaVersion.objects.get(project=project, version=1).document == canonical
    event = AuditEvent.objects.get(action="project.update")
    assert event.changes == {"label_schema": [{"fields": []}, canonical]}


def test_a_breaking_schema_change_is_refused_once_annotations_use_the_version(tenant, api_as):
    manager = api_as(tenant, Role.MANAGER)
    schema = {"fields": [{"name": "ok", "type": "choices", "options": ["a", "b"]}]}
    project_id = manager.post(PROJECTS_URL, {"name": "P", "label_schema": schema}, format="json").json()["id"]
    project = Project.objects.get(uuid=project_id)
    AnnotationFactory(project=project)
    narrowed = {"fields": [{"name": "ok", "type": "choices", "options": ["a", "c"]}]}

    refused = manager.patch(project_url(project), {"label_schema": narrowed}, format="json")
    accepted = manager.patch(
        project_url(project), {"label_schema": narrowed, "new_schema_version": True}, format="json"
    )
    widened = manager.patch(
        project_url(project),
        {"label_schema": {"fields": [{"name": "ok", "type": "choices", "options": ["a", "c", "d"]}]}},
        format="json",
    )

    assert refused.status_code == 409
    assert [e["field"] for e in refused.json()["errors"]] == ["label_schema"]
    assert "'b'" in refused.json()["errors"][0]["message"]
    assert (accepted.status_code, accepted.json()["schema_version"]) == (200, 2)
    assert (widened.status_code, widened.json()["schema_version"]) == (200, 2)
    versions = manager.get(f"{project_url(project)}/schema-versions/").json()["results"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["document"]["fields"][0]["options"] == ["a", "b"]
    assert versions[1]["document"]["fields"][0]["options"] == ["a", "c", "d"]


def test_changing_the_guidelines_bumps_their_version_and_audits_versions_not_text(tenant, api_as):
    project = ProjectFactory(guidelines="Old text.")

    response = api_as(tenant, Role.MANAGER).patch(project_url(project), {"guidelines": "New text."}, format="json")

    assert response.status_code == 200
    assert (response.json()["guidelines_version"], response.json()["schema_version"]) == (2, 1)
    assert AuditEvent.objects.get(action="project.update").changes == {"guidelines": ["v1", "v2"]}


def test_each_change_bumps_again(tenant, api_as):
    project = ProjectFactory()
    client = api_as(tenant, Role.MANAGER)

    client.patch(project_url(project), {"guidelines": "Two"}, format="json")
    response = client.patch(project_url(project), {"guidelines": "Three"}, format="json")

    assert response.json()["guidelines_version"] == 3
    assert [e.changes for e in AuditEvent.objects.filter(action="project.update").order_by("sequence")] == [
        {"guidelines": ["v1", "v2"]},
        {"guidelines": ["v2", "v3"]},
    ]


def test_an_unchanged_value_bumps_nothing_and_records_nothing(tenant, api_as):
    project = ProjectFactory(label_schema={"fields": []}, guidelines="Same.")

    response = api_as(tenant, Role.MANAGER).patch(
        project_url(project), {"label_schema": {"fields": []}, "guidelines": "Same."}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["schema_version"], response.json()["guidelines_version"]) == (1, 1)
    assert not AuditEvent.objects.filter(action="project.update").exists()


def test_renaming_records_old_and_new(tenant, api_as):
    project = ProjectFactory(name="Before", overlap=1)

    api_as(tenant, Role.MANAGER).patch(project_url(project), {"name": "After", "overlap": 2}, format="json")

    assert AuditEvent.objects.get(action="project.update").changes == {"name": ["Before", "After"], "overlap": [1, 2]}


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ANNOTATOR])
def test_below_manager_cannot_update(tenant, api_as, role):
    project = ProjectFactory(name="Kept")

    response = api_as(tenant, role).patch(project_url(project), {"name": "Changed"}, format="json")

    assert response.status_code == 403
    project.refresh_from_db()
    assert project.name == "Kept"


def test_invalid_update_changes_nothing(tenant, api_as):
    project = ProjectFactory(name="Kept", overlap=2)

    response = api_as(tenant, Role.MANAGER).patch(project_url(project), {"name": "New", "overlap": 0}, format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["overlap"]
    project.refresh_from_db()
    assert (project.name, project.overlap) == ("Kept", 2)


# --- delete ---


def test_admin_deletes_a_project_with_its_tasks(tenant, api_as):
    project = ProjectFactory(name="Doomed")
    TaskFactory.create_batch(3, project=project)
    survivor = TaskFactory()

    response = api_as(tenant, Role.ADMIN).delete(project_url(project))

    assert response.status_code == 204
    assert not Project.objects.filter(pk=project.pk).exists()
    assert list(Task.objects.values_list("pk", flat=True)) == [survivor.pk]
    event = AuditEvent.objects.get(action="project.delete")
    assert event.target_id == str(project.uuid)
    assert event.metadata == {"name": "Doomed", "tasks": 3}


def test_manager_cannot_delete_a_project(tenant, api_as):
    project = ProjectFactory()
    TaskFactory(project=project)

    response = api_as(tenant, Role.MANAGER).delete(project_url(project))

    assert response.status_code == 403
    assert Project.objects.filter(pk=project.pk).exists()
    assert Task.objects.filter(project=project).count() == 1
