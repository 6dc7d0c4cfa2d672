"""Imports from an S3 prefix, against moto's S3 server on loopback: every object in key order (plain or gzip),
inside the connection's own prefix, checkpointed per object and line; unsafe keys, oversized objects, refused
endpoints and store errors are file errors that keep nothing and echo nothing of the store's answers."""

from typing import Any

import pytest

from projects.imports import staging
from projects.imports.runner import import_run
from projects.imports.services import import_create_s3
from projects.models import ImportJob, ImportRow, Task
from tenancy.models import Role
from tests.factories import MembershipFactory
from tests.projects import imports_support
from tests.projects.imports_support import connection_for, counts, gz, imported, jsonl, rows_of, run_to_end

# Fixtures shared by the import tests, bound here so that pytest finds them in this module.
bucket = imports_support.bucket
loopback_allowed = imports_support.loopback_allowed
manager = imports_support.manager
project = imports_support.project
s3_endpoint = imports_support.s3_endpoint


class SimulatedKill(BaseException):
    pass


@pytest.fixture
def admin(tenant: Any) -> Any:
    return MembershipFactory(organization=tenant, role=Role.ADMIN)


def s3_job(manager: Any, project: Any, connection: Any, prefix: str, **options: Any) -> ImportJob:
    return import_create_s3(actor=manager, project=project, storage=connection, prefix=prefix, fmt="jsonl", **options)


def put(bucket: Any, key: str, content: bytes) -> None:
    client, name = bucket
    client.put_object(Bucket=name, Key=key, Body=content)


def test_every_object_under_the_prefix_is_read_in_key_order(tenant, admin, manager, project, bucket, s3_endpoint):
    put(bucket, "incoming/batch/02.jsonl.gz", gz(jsonl(rows_of(2, start=2))))
    put(bucket, "incoming/batch/01.jsonl", jsonl(rows_of(2)))
    put(bucket, "incoming/batch/sub/", b"")  # a folder marker
    put(bucket, "incoming/batch/10.jsonl", jsonl(rows_of(1, start=4)))
    put(bucket, "incoming/other/01.jsonl", jsonl(rows_of(5, prefix="other")))
    put(bucket, "elsewhere/batch/01.jsonl", jsonl(rows_of(5, prefix="outside")))
    connection = connection_for(admin, s3_endpoint, bucket[1], prefix="incoming")

    job = run_to_end(s3_job(manager, project, connection, "batch/"))

    assert counts(job) == {
        "state": "succeeded",
        "rows_read": 5,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "errors": 0,
    }
    assert [external_id for external_id, _ in imported(project)] == [f"ext-{i}" for i in range(5)]
    assert (job.checkpoint["objects"], job.file_size) == (
        3,
        sum(len(c) for c in (gz(jsonl(rows_of(2, start=2))), jsonl(rows_of(2)), jsonl(rows_of(1, start=4)))),
    )


def test_row_errors_name_the_object_they_are_in(tenant, admin, manager, project, bucket, s3_endpoint):
    put(bucket, "p/a.jsonl", jsonl(rows_of(1)))
    put(bucket, "p/b.jsonl", jsonl(rows_of(1, start=1)) + b'{"data": 1}\n')
    connection = connection_for(admin, s3_endpoint, bucket[1])

    job = run_to_end(s3_job(manager, project, connection, "p/", skip_bad_rows=True))

    assert (job.created_count, job.errors) == (
        2,
        [
            {
                "line": 2,
                "field": "data",
                "code": "invalid",
                "message": "Must be a non-empty JSON object.",
                "object": "p/b.jsonl",
            }
        ],
    )


def test_a_run_killed_inside_the_second_object_resumes_there(
    tenant, admin, manager, project, bucket, s3_endpoint, settings, monkeypatch
):
    settings.IMPORT_BATCH_ROWS = 4
    put(bucket, "p/1.jsonl", jsonl(rows_of(6)))
    put(bucket, "p/2.jsonl.gz", gz(jsonl(rows_of(10, start=6))))
    put(bucket, "p/3.jsonl", jsonl(rows_of(3, start=16)))
    connection = connection_for(admin, s3_endpoint, bucket[1])
    original = staging.stage_rows
    calls: list[int] = []

    def stage_then_die(job: Any, source_index: int, rows: Any) -> None:
        calls.append(source_index)
        original(job, source_index, rows)
        if len(calls) == 4:  # object 1: 4 + 2 rows; object 2: 4 rows staged, then 4 more written and lost
            raise SimulatedKill()

    monkeypatch.setattr(staging, "stage_rows", stage_then_die)
    job = s3_job(manager, project, connection, "p/")
    with pytest.raises(SimulatedKill):
        import_run(job)
    job.refresh_from_db()
    assert (job.rows_read, ImportRow.objects.count()) == (10, 10)
    assert job.checkpoint["source"] == {
        "index": 1,
        "key": "p/2.jsonl.gz",
        "gzip": True,
        "position": {"offset": len(jsonl(rows_of(4, start=6))), "line": 4},
    }
    assert job.checkpoint["done_key"] == "p/1.jsonl"

    monkeypatch.setattr(staging, "stage_rows", original)
    job = run_to_end(job)

    assert (job.state, job.rows_read, job.created_count) == ("succeeded", 19, 19)
    assert [external_id for external_id, _ in imported(project)] == [f"ext-{i}" for i in range(19)]


def test_an_object_key_with_dot_dot_fails_the_import_before_anything_is_read(
    tenant, admin, manager, project, bucket, s3_endpoint
):
    put(bucket, "p/a.jsonl", jsonl(rows_of(2)))
    put(bucket, "p/../b.jsonl", jsonl(rows_of(2, start=2)))
    connection = connection_for(admin, s3_endpoint, bucket[1])

    job = run_to_end(s3_job(manager, project, connection, "p/", skip_bad_rows=True))

    assert (job.state, Task.objects.count(), ImportRow.objects.count(), job.rows_read) == ("failed", 0, 0, 0)
    assert job.errors == [
        {
            "line": None,
            "field": "file",
            "code": "unsafe_key",
            "message": "The object key 'p/../b.jsonl' contains a '.' or '..' segment; rename it.",
            "object": "p/../b.jsonl",
        }
    ]


def test_an_object_over_the_size_limit_fails_the_import(tenant, admin, manager, project, bucket, s3_endpoint, settings):
    settings.IMPORT_MAX_FILE_BYTES = 100
    put(bucket, "p/a.jsonl", jsonl(rows_of(1)))
    put(bucket, "p/b.jsonl", jsonl(rows_of(5)))
    connection = connection_for(admin, s3_endpoint, bucket[1])

    job = run_to_end(s3_job(manager, project, connection, "p/", skip_bad_rows=True))

    assert (job.state, Task.objects.count()) == ("failed", 0)
    assert job.message == "Object 'p/b.jsonl' is larger than 100 bytes (IMPORT_MAX_FILE_BYTES)."


@pytest.mark.parametrize("address", ["127.0.0.1", "169.254.169.254"])
def test_an_endpoint_refused_at_run_time_fails_the_import(
    tenant, admin, manager, project, bucket, s3_endpoint, settings, address
):
    connection = connection_for(admin, s3_endpoint, bucket[1])
    job = s3_job(manager, project, connection, "")
    port = s3_endpoint.rsplit(":", 1)[1]
    type(connection).objects.filter(pk=connection.pk).update(endpoint_url=f"http://{address}:{port}")
    settings.OUTBOUND_ALLOWED_NETWORKS = []

    job = run_to_end(job)

    reason = "a loopback address" if address == "127.0.0.1" else "a cloud metadata address"
    message = f"Refused to connect to {address}: {reason}."
    assert (job.state, job.message, Task.objects.count()) == ("failed", message, 0)
    assert job.errors == [{"line": None, "field": "storage", "code": "storage_error", "message": message}]


def test_store_errors_fail_the_import_without_the_stores_own_words(
    tenant, admin, manager, project, s3_endpoint, bucket
):
    connection = connection_for(admin, s3_endpoint, "bucket-that-was-never-made")

    job = run_to_end(s3_job(manager, project, connection, ""))

    assert (job.state, job.message) == ("failed", "The bucket does not exist.")
    assert "specified bucket" not in str(job.errors) + job.message
