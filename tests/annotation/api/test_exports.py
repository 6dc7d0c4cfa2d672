"""The export endpoints: create, list, follow, download through a signed URL (with Range), and their refusals."""

import hashlib
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotation.exports.filters import ExportFilters
from annotation.exports.runner import export_run
from annotation.exports.services import export_create
from audit.models import AuditEvent
from projects.models import ExportJob
from projects.object_store import LocalObjectStore
from tenancy.models import Role
from tests.annotation import exports_support
from tests.annotation.exports_support import (
    build_world,
)
from tests.conftest import member_client
from tests.factories import ProjectFactory

object_root = exports_support.object_root


@pytest.fixture
def world(tenant, object_root):
    return build_world()


@pytest.fixture
def manager(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    return client


def exports_url(project):
    return f"/api/v1/projects/{project.uuid}/exports/"


def finished(world, export_format="jsonl", **filters):
    job = export_create(
        actor=world.owner, project=world.project, export_format=export_format, filters=ExportFilters(**filters)
    )
    return export_run(job)


def test_post_queues_an_export_and_answers_202(world, manager):
    response = manager.post(
        exports_url(world.project),
        {"format": "dpo", "filters": {"status": "done", "reviewed_only": True, "ranking_pairs": "all",
                                      "created_after": "2026-01-01T00:00:00Z"}},
        format="json",
    )  # fmt: skip

    assert response.status_code == 202, response.content
    job = ExportJob.objects.get()
    body = response.json()
    assert body == {
        "id": str(job.uuid),
        "project": str(world.project.uuid),
        "format": "dpo",
        "filters": {
            "status": "done",
            "created_after": "2026-01-01T00:00:00+00:00",
            "reviewed_only": True,
            "ranking_pairs": "all",
        },
        "storage": None,
        "state": "pending",
        "rows": 0,
        "file_key": "",
        "file_size": 0,
        "sha256": "",
        "message": "",
        "created_at": body["created_at"],
        "started_at": None,
        "finished_at": None,
    }
    assert AuditEvent.objects.filter(action="export.create", target_id=str(job.uuid)).count() == 1


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"format": "xml"}, [("format", "invalid_choice")]),
        ({}, [("format", "required")]),
        ({"format": "jsonl", "filters": {"status": "closed"}}, [("filters.status", "invalid_choice")]),
        ({"format": "jsonl", "filters": {"since": "yesterday"}}, [("filters.since", "unknown_field")]),
        ({"format": "jsonl", "filters": {"created_after": "not a date"}}, [("filters.created_after", "invalid")]),
        ({"format": "csv", "filters": {"ranking_pairs": "all"}}, [("filters.ranking_pairs", "not_allowed")]),
        (
            {
                "format": "jsonl",
                "filters": {"created_after": "2026-02-01T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"},
            },
            [("filters.created_before", "invalid_range")],
        ),
        ({"format": "jsonl", "storage": "00000000-0000-4000-8000-000000000000"}, [("storage", "does_not_exist")]),
        ({"format": "jsonl", "project": "x"}, [("project", "unknown_field")]),
    ],
)
def test_bad_requests_name_each_problem_and_create_nothing(world, manager, payload, errors):
    response = manager.post(exports_url(world.project), payload, format="json")

    assert response.status_code == 400, response.content
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == errors
    assert ExportJob.objects.count() == 0


# The fixed cost of a request in the test's transaction (as tests/test_query_counts.py counts it), the project
# named in the URL and the page itself: the same for one job or many.
EXPORT_LIST_QUERIES = 8


@pytest.mark.parametrize("count", [1, 12])
def test_list_holds_the_projects_jobs_only_at_a_fixed_query_count(world, manager, django_assert_num_queries, count):
    jobs = [
        export_create(actor=world.owner, project=world.project, export_format="csv", filters=ExportFilters())
        for _ in range(count)
    ]
    export_create(actor=world.owner, project=ProjectFactory(), export_format="jsonl", filters=ExportFilters())
    assert manager.get("/api/v1/me").status_code == 200  # the token's last-use write happens once, here

    with django_assert_num_queries(EXPORT_LIST_QUERIES):
        response = manager.get(exports_url(world.project))

    assert response.status_code == 200
    assert [(j["id"], j["format"], j["state"]) for j in response.json()["results"]] == [
        (str(job.uuid), "csv", "pending") for job in jobs
    ]


def test_detail_shows_progress_and_the_finished_files_digest(world, manager):
    job = finished(world)

    body = manager.get(f"/api/v1/exports/{job.uuid}").json()

    assert (body["state"], body["rows"], body["file_size"], body["sha256"]) == (
        "succeeded",
        3,
        job.file_size,
        job.sha256,
    )
    assert body["file_key"] == job.file_key


def test_download_gives_a_signed_url_of_at_most_five_minutes_on_record(world, manager, settings):
    settings.PROJECTS_SIGNED_URL_SECONDS = 3600  # capped
    job = finished(world)
    before = timezone.now()

    response = manager.get(f"/api/v1/exports/{job.uuid}/download")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["url"].startswith("http://testserver/files/")
    expires = parse_datetime(body["expires_at"])
    assert before + timedelta(seconds=299) <= expires <= timezone.now() + timedelta(seconds=300)
    event = AuditEvent.objects.get(action="data_access.export_download")
    assert (event.category, event.target_id, event.metadata) == (
        "data_access",
        str(job.uuid),
        {"project": str(world.project.uuid), "format": "jsonl", "rows": 3, "sha256": job.sha256, "expires_in": 300},
    )
    file = manager.get(body["url"])
    content = b"".join(file.streaming_content)
    assert (file.status_code, hashlib.sha256(content).hexdigest()) == (200, job.sha256)
    assert file["Content-Disposition"] == f'attachment; filename="export-{job.uuid}.jsonl"'
    assert (file["Content-Type"], file["Accept-Ranges"], file["Cache-Control"]) == (
        "application/x-ndjson",
        "bytes",
        "private, no-store",
    )


def _range(client, url, header):
    response = client.get(url, HTTP_RANGE=header)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_the_file_url_answers_range_requests(world, manager):
    job = finished(world)
    url = manager.get(f"/api/v1/exports/{job.uuid}/download").json()["url"]
    full = b"".join(manager.get(url).streaming_content)
    size = len(full)

    response, body = _range(manager, url, "bytes=100-")
    assert (response.status_code, response["Content-Range"], response["Content-Length"], body) == (
        206, f"bytes 100-{size - 1}/{size}", str(size - 100), full[100:],
    )  # fmt: skip
    response, body = _range(manager, url, "bytes=0-9")
    assert (response.status_code, response["Content-Range"], body) == (206, f"bytes 0-9/{size}", full[:10])
    response, body = _range(manager, url, "bytes=-5")
    assert (response.status_code, body) == (206, full[-5:])
    response, body = _range(manager, url, f"bytes={size - 3}-{size + 100}")
    assert (response.status_code, response["Content-Range"], body) == (
        206,
        f"bytes {size - 3}-{size - 1}/{size}",
        full[-3:],
    )
    response, body = _range(manager, url, f"bytes={size}-")
    assert (response.status_code, response["Content-Range"], body) == (416, f"bytes */{size}", b"")
    # What resuming does not need (several ranges, other units, nonsense) gets the whole file.
    for header in ("bytes=0-1,5-6", "items=0-1", "bytes=9-3", "bytes=-"):
        response, body = _range(manager, url, header)
        assert (response.status_code, body) == (200, full), header


def test_an_expired_or_altered_file_url_is_404(world, object_root, manager):
    job = finished(world)
    expired = LocalObjectStore(object_root).signed_url(job.file_key, expires_in=-1)
    assert manager.get(expired).status_code == 404
    token = LocalObjectStore(object_root).signed_url(job.file_key, expires_in=60).rsplit("/", 1)[1]
    assert manager.get(f"/files/{token[:-2]}xx").status_code == 404
    forged = signing.dumps({"k": job.file_key, "x": 2**40}, salt="wrong salt", compress=True)
    assert manager.get(f"/files/{forged}").status_code == 404


def test_a_job_not_yet_finished_cannot_be_downloaded(world, manager):
    job = export_create(actor=world.owner, project=world.project, export_format="jsonl", filters=ExportFilters())

    response = manager.get(f"/api/v1/exports/{job.uuid}/download")

    assert (response.status_code, response.json()["detail"]) == (
        409,
        "This export is pending; it can be downloaded once it has succeeded.",
    )
    assert not AuditEvent.objects.filter(action="data_access.export_download").exists()


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_below_manager_nothing_of_exports_is_reachable(world, tenant, role):
    client, _ = member_client(tenant, role)
    job = finished(world)

    for response in (
        client.get(exports_url(world.project)),
        client.post(exports_url(world.project), {"format": "jsonl"}, format="json"),
        client.get(f"/api/v1/exports/{job.uuid}"),
        client.get(f"/api/v1/exports/{job.uuid}/download"),
    ):
        assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="data_access.export_download").exists()
