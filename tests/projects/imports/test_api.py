"""The import endpoints: start from an upload (multipart, spooled to disk, size-capped) or an S3 prefix (JSON),
follow progress, list, cancel; managers and above; every start audited and queued only once committed."""

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile

from audit.models import AuditEvent
from config.celery import app
from projects.api import imports as api_imports
from projects.models import ImportJob, StorageConnection, Task
from tenancy.models import Role
from tests.factories import MembershipFactory, ProjectFactory
from tests.projects import imports_support
from tests.projects.imports_support import gz, jsonl, rows_of

# Fixtures shared by the import tests, bound here so that pytest finds them in this module.
store = imports_support.store


def imports_url(project: Any) -> str:
    return f"/api/v1/projects/{project.uuid}/imports/"


@pytest.fixture
def project(tenant):
    return ProjectFactory()


@pytest.fixture
def manager(tenant, api_as):
    return api_as(tenant, Role.MANAGER)


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Messages sent once transactions commit; recorded, not run."""
    from core import enqueue

    messages: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(enqueue, "_send", lambda name, args: messages.append((name, args)))
    return messages


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def test_an_upload_is_accepted_queued_after_commit_and_audited(
    project, manager, store, queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(
            imports_url(project), {"file": upload("tasks.jsonl", jsonl(rows_of(3))), "skip_bad_rows": "true"}
        )

    assert response.status_code == 202, response.json()
    body = response.json()
    job = ImportJob.objects.get(uuid=body["id"])
    assert {k: body[k] for k in ("project", "source", "format", "storage", "prefix", "state", "progress")} == {
        "project": str(project.uuid),
        "source": "upload",
        "format": "jsonl",
        "storage": None,
        "prefix": "",
        "state": "pending",
        "progress": 0.0,
    }
    size = len(jsonl(rows_of(3)))
    assert (body["options"], body["file_size"]) == ({"skip_bad_rows": True, "update_existing": False}, size)
    assert (store / job.file_key).read_bytes() == jsonl(rows_of(3))
    assert job.file_key == f"orgs/{project.organization.uuid}/imports/{job.uuid}/source"
    assert queued == [("projects.import_run", (project.organization_id, job.pk))]
    event = AuditEvent.objects.get(action="import.create")
    assert (event.target_id, event.metadata["source"], event.metadata["file_size"]) == (str(job.uuid), "upload", size)


def test_a_queued_import_runs_and_its_progress_and_counts_show_in_the_api(
    project, manager, store, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the task runs eagerly, in this process
        response = manager.post(imports_url(project), {"file": upload("tasks.jsonl.gz", gz(jsonl(rows_of(4))))})

    detail = manager.get(f"/api/v1/imports/{response.json()['id']}").json()

    assert {k: detail[k] for k in ("state", "progress", "rows_read", "created_count", "error_count", "errors")} == {
        "state": "succeeded",
        "progress": 1.0,
        "rows_read": 4,
        "created_count": 4,
        "error_count": 0,
        "errors": [],
    }
    assert Task.objects.filter(project=project).count() == 4


def test_the_format_comes_from_the_file_name_unless_given(project, manager, store, queued):
    from_name = manager.post(imports_url(project), {"file": upload("rows.csv.gz", b"")})
    given = manager.post(imports_url(project), {"file": upload("rows.txt", b""), "format": "json"})
    unknown = manager.post(imports_url(project), {"file": upload("rows", b"")})

    assert (from_name.status_code, from_name.json()["format"]) == (202, "csv")
    assert (given.status_code, given.json()["format"]) == (202, "json")
    assert (unknown.status_code, unknown.json()["errors"]) == (
        400,
        [
            {
                "field": "format",
                "message": "Name the format (jsonl, json or csv); the file name does not say it.",
                "code": "invalid",
            }
        ],
    )


def test_the_upload_is_spooled_to_a_temporary_file_never_held_in_memory(project, manager, store, queued, monkeypatch):
    seen: list[type] = []
    original = api_imports.import_create_upload

    def spy(**kwargs: Any) -> Any:
        seen.append(type(kwargs["upload"]))
        return original(**kwargs)

    monkeypatch.setattr(api_imports, "import_create_upload", spy)

    response = manager.post(imports_url(project), {"file": upload("small.jsonl", jsonl(rows_of(1)))})

    assert response.status_code == 202
    assert seen == [TemporaryUploadedFile]


def test_an_upload_over_the_limit_is_refused_with_413_and_leaves_nothing(project, manager, store, settings, queued):
    settings.IMPORT_MAX_FILE_BYTES = 1000

    too_big = manager.post(imports_url(project), {"file": upload("big.jsonl", b"x" * 1001)})
    declared = manager.post(
        imports_url(project), {"file": upload("huge.jsonl", b"x" * (70 * 1024))}
    )  # past the envelope allowance: refused before the body is read

    assert (too_big.status_code, too_big.json()) == (
        413,
        {"detail": "The file is larger than 1000 bytes (IMPORT_MAX_FILE_BYTES).", "code": "too_large", "errors": []},
    )
    assert declared.status_code == 413
    assert declared.json()["detail"].startswith("The request is ")
    assert (ImportJob.objects.count(), queued) == (0, [])
    assert not any(store.rglob("source")) if store.exists() else True


def test_an_s3_import_names_a_connection_of_the_organization(
    project, manager, tenant, queued, settings, django_capture_on_commit_callbacks
):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    from projects.services.storage import storage_connection_create

    admin = MembershipFactory(organization=tenant, role=Role.ADMIN)
    connection = storage_connection_create(
        actor=admin, name="lab", bucket="lab-data", endpoint_url="http://127.0.0.1:9"
    )
    body = {"storage": str(connection.uuid), "prefix": "batch-7/", "format": "jsonl", "update_existing": True}

    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(imports_url(project), body, format="json")

    assert response.status_code == 202, response.json()
    created = response.json()
    assert {k: created[k] for k in ("source", "storage", "prefix", "format", "options")} == {
        "source": "s3",
        "storage": str(connection.uuid),
        "prefix": "batch-7/",
        "format": "jsonl",
        "options": {"skip_bad_rows": False, "update_existing": True},
    }
    assert queued == [("projects.import_run", (project.organization_id, ImportJob.objects.get().pk))]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"storage": "00000000-0000-0000-0000-000000000000", "format": "jsonl"},
            [
                {
                    "field": "storage",
                    "message": "No storage connection of this organization has this id.",
                    "code": "does_not_exist",
                }
            ],
        ),
        (
            {"storage": "CONNECTION", "prefix": "a/../b/", "format": "jsonl"},
            [{"field": "prefix", "message": "The prefix contains a '.' or '..' segment.", "code": "unsafe_key"}],
        ),
        (
            {"storage": "CONNECTION", "format": "xml"},
            [{"field": "format", "message": '"xml" is not a valid choice.', "code": "invalid_choice"}],
        ),
        (
            {"storage": "CONNECTION", "format": "jsonl", "is_staff": True},
            [{"field": "is_staff", "message": "Unknown field.", "code": "unknown_field"}],
        ),
    ],
)
def test_bad_s3_import_requests_are_400s(project, manager, tenant, queued, settings, body, errors):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    from projects.services.storage import storage_connection_create

    admin = MembershipFactory(organization=tenant, role=Role.ADMIN)
    connection = storage_connection_create(
        actor=admin, name="lab", bucket="lab-data", endpoint_url="http://127.0.0.1:9"
    )
    body = {k: str(connection.uuid) if v == "CONNECTION" else v for k, v in body.items()}

    response = manager.post(imports_url(project), body, format="json")

    assert (response.status_code, response.json()["errors"]) == (400, errors)
    assert ImportJob.objects.count() == 0


def test_another_organizations_connection_is_unknown_here(project, manager, other_tenant, queued, settings):
    from core.context import organization_context

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    from projects.services.storage import storage_connection_create

    with organization_context(other_tenant.pk):
        admin = MembershipFactory(organization=other_tenant, role=Role.ADMIN)
        theirs = storage_connection_create(
            actor=admin, name="theirs", bucket="their-data", endpoint_url="http://127.0.0.1:9"
        )

    response = manager.post(imports_url(project), {"storage": str(theirs.uuid), "format": "jsonl"}, format="json")

    assert (response.status_code, response.json()["errors"][0]["code"]) == (400, "does_not_exist")
    assert StorageConnection.objects.count() == 0  # this organization sees none


def test_managers_and_above_only(project, tenant, api_as, store, queued):
    for role in (Role.ANNOTATOR, Role.REVIEWER):
        client = api_as(tenant, role)
        assert client.get(imports_url(project)).status_code == 403
        assert client.post(imports_url(project), {"file": upload("a.jsonl", b"")}).status_code == 403
    assert api_as(tenant, Role.ADMIN).post(imports_url(project), {"file": upload("a.jsonl", b"")}).status_code == 202
    assert ImportJob.objects.count() == 1


def test_the_list_shows_a_projects_imports_oldest_first_in_constant_queries(
    project, manager, store, queued, django_assert_num_queries
):
    ids = [manager.post(imports_url(project), {"file": upload(f"{i}.jsonl", b"")}).json()["id"] for i in range(3)]
    other = ProjectFactory()
    manager.post(imports_url(other), {"file": upload("x.jsonl", b"")})

    # Authentication and tenant entry, the project, one page of jobs with their project and storage joined.
    with django_assert_num_queries(8):
        listed = manager.get(imports_url(project)).json()

    assert [job["id"] for job in listed["results"]] == ids


def test_cancel_stops_an_unfinished_import_and_conflicts_once_it_ended(project, manager, store, queued):
    job_id = manager.post(imports_url(project), {"file": upload("a.jsonl", jsonl(rows_of(2)))}).json()["id"]

    cancelled = manager.post(f"/api/v1/imports/{job_id}/cancel", {}, format="json")
    again = manager.post(f"/api/v1/imports/{job_id}/cancel", {}, format="json")

    assert (cancelled.status_code, cancelled.json()["state"], cancelled.json()["message"]) == (
        200,
        "cancelled",
        "Cancelled; nothing was imported.",
    )
    assert (again.status_code, again.json()) == (
        409,
        {"detail": "The import has already ended (cancelled).", "code": "conflict", "errors": []},
    )


def test_a_missing_or_malformed_import_id_is_a_404(manager):
    for job_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        assert manager.get(f"/api/v1/imports/{job_id}").status_code == 404
        assert manager.post(f"/api/v1/imports/{job_id}/cancel", {}, format="json").status_code == 404


def test_the_import_task_runs_a_job_and_reports_its_state(project, store, tenant):
    import io

    from projects.imports.services import import_create_upload

    member = MembershipFactory(organization=tenant, role=Role.MANAGER)
    job = import_create_upload(
        actor=member, project=project, upload=io.BytesIO(jsonl(rows_of(2))), size=98, fmt="jsonl"
    )

    assert app.tasks["projects.import_run"](tenant.pk, job.pk) == "succeeded"
    assert app.tasks["projects.import_run"](tenant.pk, 10**9) == "missing"
