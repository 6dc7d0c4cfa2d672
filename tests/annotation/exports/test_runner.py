"""Running an export job: states, progress committed chunk by chunk, size and digest, failures, the Celery task,
and the platform's store on S3."""

import hashlib
import threading
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from celery.exceptions import Retry
from django.db import OperationalError, connection
from psycopg.errors import SerializationFailure

from annotation.exports import jsonl, runner
from annotation.exports.filters import ExportFilters
from annotation.exports.jsonl import JsonlWriter
from annotation.exports.services import export_create, export_download
from annotation.models import Review
from audit.models import AuditEvent
from config.celery import app
from core.context import organization_context
from projects.models import ExportJob
from projects.object_store import object_store
from tenancy.models import Role
from tests.annotation import exports_support
from tests.annotation.exports_support import (
    build_world,
    run_export,
)
from tests.audit.services import test_checkpoints
from tests.audit.services.test_checkpoints import CREDENTIALS
from tests.factories import OrganizationFactory
from tests.faults_support import revoke_from_app_role
from workers.tasks import EXPORT_RETRIES

object_root = exports_support.object_root
s3_endpoint = test_checkpoints.s3_endpoint


def test_a_finished_job_records_state_rows_size_digest_and_key(tenant, object_root):
    w = build_world()

    job, body = run_export(w, "jsonl")

    job.refresh_from_db()
    assert (job.state, job.rows, job.message) == ("succeeded", 3, "")
    assert (job.file_size, job.sha256) == (len(body), hashlib.sha256(body).hexdigest())
    assert job.file_key == f"orgs/{tenant.uuid}/exports/{w.project.uuid}/export-{job.uuid}.jsonl"
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.started_at <= job.finished_at
    event = AuditEvent.objects.get(action="export.complete")
    assert (event.target_id, event.metadata) == (
        str(job.uuid),
        {"project": str(w.project.uuid), "format": "jsonl", "rows": 3, "file_size": len(body),
         "sha256": job.sha256, "storage": None},
    )  # fmt: skip


def test_a_finished_job_is_never_run_again(tenant, object_root):
    w = build_world()
    job, _ = run_export(w, "jsonl")
    before = ExportJob.objects.values().get(pk=job.pk)

    again = runner.export_run(job)

    assert ExportJob.objects.values().get(pk=job.pk) == before
    assert again.state == "succeeded"
    assert AuditEvent.objects.filter(action="export.complete").count() == 1


def test_a_job_a_lost_worker_left_running_starts_over(tenant, object_root):
    w = build_world()
    job = export_create(actor=w.owner, project=w.project, export_format="csv", filters=ExportFilters())
    ExportJob.objects.filter(pk=job.pk).update(state="running", rows=99)

    job = runner.export_run(job)

    assert (job.state, job.rows) == ("succeeded", 4)


def test_a_failure_fails_the_job_with_a_message_and_no_file(tenant, object_root, monkeypatch):
    w = build_world()
    job = export_create(actor=w.owner, project=w.project, export_format="jsonl", filters=ExportFilters())

    def broken(self: Any, source: Any) -> Any:
        raise RuntimeError("disk on fire: secret internals")

    monkeypatch.setattr(JsonlWriter, "write_chunks", broken)
    job = runner.export_run(job)

    job.refresh_from_db()
    assert job.state == "failed"
    assert job.message == (
        f"The export failed: an internal error (RuntimeError); the worker's log has the details (export {job.uuid})."
    )
    assert (job.file_key, job.file_size, job.sha256) == ("", 0, "")
    assert job.finished_at is not None
    # The trail says that the export failed, for the job, with its message and the progress made; no file.
    event = AuditEvent.objects.get(action="export.fail")
    assert (event.outcome, event.target_type, event.target_id) == ("failure", "projects.exportjob", str(job.uuid))
    assert event.metadata == {"project": str(w.project.uuid), "format": "jsonl", "rows": 0, "message": job.message}
    assert not AuditEvent.objects.filter(action="export.complete").exists()
    assert not list(object_root.rglob("*")) or not [p for p in object_root.rglob("*") if p.is_file()]


def test_the_worker_time_limit_fails_the_job_with_its_own_message(tenant, object_root, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    w = build_world()
    job = export_create(actor=w.owner, project=w.project, export_format="jsonl", filters=ExportFilters())

    def slow(self: Any, source: Any) -> Any:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(JsonlWriter, "write_chunks", slow)
    job = runner.export_run(job)

    assert (job.state, job.message) == (
        "failed",
        "The export took longer than the worker's time limit; narrow it with filters, or ask the operator.",
    )


def test_a_missing_privilege_fails_the_job_at_once_with_its_cause_in_the_api(tenant, object_root, api_as):
    # Given a database whose grants miss the app role's right to read reviews
    w = build_world()
    job = export_create(actor=w.owner, project=w.project, export_format="jsonl", filters=ExportFilters())
    revoke_from_app_role("SELECT", Review)

    # When the task runs the export: a retry would meet the same refusal, so there is none
    state = app.tasks["projects.export_run"].apply(args=(tenant.pk, job.pk)).get()

    # Then the job has failed, and says why, to whoever looks at it
    detail = api_as(tenant, Role.MANAGER).get(f"/api/v1/exports/{job.uuid}").json()
    assert (state, detail["state"], detail["message"]) == (
        "failed",
        "failed",
        "The export failed: permission denied for table annotation_review (InsufficientPrivilege); "
        f"the worker's log has the details (export {job.uuid}).",
    )


def test_a_serialization_failure_is_retried_and_the_retry_starts_the_export_over(tenant, object_root, monkeypatch):
    # Given a database that fails the first attempt in a way a retry can fix
    w = build_world()
    job = export_create(actor=w.owner, project=w.project, export_format="jsonl", filters=ExportFilters())
    task = app.tasks["projects.export_run"]
    original = runner._write
    attempts: list[int] = []

    def conflicted_once(started: Any, spool: Any) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise OperationalError("could not serialize") from SerializationFailure(
                "could not serialize access due to read/write dependencies among transactions"
            )
        return original(started, spool)

    monkeypatch.setattr(runner, "_write", conflicted_once)

    # When the export runs
    with pytest.raises(Retry) as retried:
        task.apply(args=(tenant.pk, job.pk)).get()

    # Then it is retried later, and the retry writes the whole file
    assert (retried.value.when, ExportJob.objects.get(pk=job.pk).state) == (30, "running")
    assert task.apply(args=(tenant.pk, job.pk), retries=1).get() == "succeeded"
    assert ExportJob.objects.get(pk=job.pk).rows == 3


def test_a_store_that_stays_away_fails_the_job_after_the_last_attempt_naming_it(tenant, object_root, monkeypatch):
    w = build_world()
    job = export_create(actor=w.owner, project=w.project, export_format="jsonl", filters=ExportFilters())

    def unreachable(job: Any, spool: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://s3.test")

    monkeypatch.setattr(runner, "_store", unreachable)

    state = app.tasks["projects.export_run"].apply(args=(tenant.pk, job.pk), retries=EXPORT_RETRIES).get()

    job.refresh_from_db()
    assert (state, job.state, job.message) == (
        "failed",
        "failed",
        "The export stopped after 6 attempts: a network error (EndpointConnectionError).",
    )
    assert AuditEvent.objects.get(action="export.fail").metadata["message"] == job.message


def test_the_celery_task_runs_the_job_in_its_organization(tenant, object_root):
    w = build_world()
    job = export_create(actor=w.owner, project=w.project, export_format="sft", filters=ExportFilters())

    state = app.tasks["projects.export_run"](tenant.pk, job.pk)

    job.refresh_from_db()
    assert (state, job.state, job.rows) == ("succeeded", "succeeded", 3)
    assert app.tasks["projects.export_run"](tenant.pk, 10**12) == "missing"


def test_creating_a_job_queues_its_run_after_commit(
    tenant, object_root, monkeypatch, django_capture_on_commit_callbacks
):
    from core import enqueue

    w = build_world()
    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(enqueue, "_send", lambda name, args: sent.append((name, args)))

    with django_capture_on_commit_callbacks(execute=True):
        job = export_create(actor=w.owner, project=w.project, export_format="csv", filters=ExportFilters(status="done"))

    assert sent == [("projects.export_run", (tenant.pk, job.pk))]
    assert (job.state, job.filters) == ("pending", {"status": "done"})
    event = AuditEvent.objects.get(action="export.create")
    assert event.metadata == {
        "project": str(w.project.uuid),
        "format": "csv",
        "filters": {"status": "done"},
        "storage": None,
    }


@pytest.mark.django_db(transaction=True)
def test_progress_is_committed_after_every_chunk(object_root, monkeypatch):
    from core import enqueue

    # Committed data and no eager run at commit: the test runs the job itself, watching it from outside.
    monkeypatch.setattr(enqueue, "_send", lambda name, args: None)
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        w = build_world()
        job = export_create(actor=w.owner, project=w.project, export_format="jsonl", filters=ExportFilters())
    monkeypatch.setattr(jsonl, "CHUNK_TASKS", 1)
    seen_elsewhere: list[int] = []
    original = runner._progress

    def observed(job: ExportJob, rows: int) -> None:
        original(job, rows)

        def read() -> None:
            try:
                with organization_context(organization.pk):
                    seen_elsewhere.append(ExportJob.objects.get(pk=job.pk).rows)
            finally:
                connection.close()

        reader = threading.Thread(target=read)
        reader.start()
        reader.join()

    monkeypatch.setattr(runner, "_progress", observed)
    job = runner.export_run(job)

    # Another connection sees the rows grow while the job runs: one committed update per chunk of one task.
    assert (job.state, job.rows, seen_elsewhere) == ("succeeded", 3, [1, 2, 3])
    assert job.state == "succeeded"


@pytest.fixture
def s3_store(s3_endpoint: str, settings: Any) -> Any:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)
    bucket = "platform-objects"
    if bucket not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket=bucket)
    settings.OBJECT_STORAGE_BUCKET = bucket
    settings.OBJECT_STORAGE_ENDPOINT_URL = s3_endpoint
    settings.OBJECT_STORAGE_REGION = CREDENTIALS["region_name"]
    settings.OBJECT_STORAGE_ACCESS_KEY_ID = CREDENTIALS["aws_access_key_id"]
    settings.OBJECT_STORAGE_SECRET_ACCESS_KEY = CREDENTIALS["aws_secret_access_key"]
    return client


def test_on_s3_the_file_is_stored_and_a_presigned_url_serves_it_with_ranges(tenant, s3_store):
    w = build_world()
    job = export_create(actor=w.owner, project=w.project, export_format="jsonl", filters=ExportFilters())

    job = runner.export_run(job)

    with object_store().open(job.file_key) as stream:
        body = stream.read()
    assert (job.state, job.file_size, job.sha256) == ("succeeded", len(body), hashlib.sha256(body).hexdigest())
    signed = export_download(actor=w.owner, job=job)
    assert signed.url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(signed.url, headers={"Range": "bytes=100-"})  # noqa: S310 - loopback test server
    with urllib.request.urlopen(request) as response:  # noqa: S310
        assert (response.status, response.read()) == (206, body[100:])


@pytest.fixture
def lab_bucket(s3_endpoint: str, settings: Any) -> Any:
    """A bucket of the organization's own, on loopback (allow-listed: the SSRF checks would refuse it otherwise)."""
    import boto3

    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    client = boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)
    if "lab-exports" not in [b["Name"] for b in client.list_buckets()["Buckets"]]:
        client.create_bucket(Bucket="lab-exports")
    return client


def _connection(w: Any, endpoint: str) -> Any:
    from projects.services.storage import storage_connection_create
    from tenancy.models import Role
    from tests.factories import MembershipFactory

    admin = MembershipFactory(role=Role.ADMIN)
    return storage_connection_create(
        actor=admin,
        name=f"lake {w.project.pk}",
        bucket="lab-exports",
        prefix="deliveries",
        endpoint_url=endpoint,
        region="us-east-1",
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )


def test_an_export_to_a_storage_connection_lands_in_the_labs_bucket(tenant, object_root, lab_bucket, s3_endpoint):
    w = build_world()
    connection = _connection(w, s3_endpoint)
    job = export_create(
        actor=w.owner, project=w.project, export_format="jsonl", filters=ExportFilters(), storage=connection
    )

    job = runner.export_run(job)

    key = f"deliveries/annotate-exports/{w.project.uuid}/export-{job.uuid}.jsonl"
    body = lab_bucket.get_object(Bucket="lab-exports", Key=key)["Body"].read()
    assert (job.state, job.file_key, job.file_size, job.sha256) == (
        "succeeded",
        key,
        len(body),
        hashlib.sha256(body).hexdigest(),
    )
    assert job.rows == 3
    assert [p for p in object_root.rglob("*") if p.is_file()] == []  # nothing kept on the platform's side
    from core.errors import Conflict

    with pytest.raises(Conflict, match="written to your storage connection"):
        export_download(actor=w.owner, job=job)


def test_a_storage_connection_the_ssrf_rules_refuse_fails_the_job_in_our_words(
    tenant,
    object_root,
    lab_bucket,
    s3_endpoint,
    settings,
):
    w = build_world()
    connection = _connection(w, s3_endpoint)
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # the operator withdrew loopback since the connection was made
    job = export_create(
        actor=w.owner, project=w.project, export_format="csv", filters=ExportFilters(), storage=connection
    )

    job = runner.export_run(job)

    assert job.state == "failed"
    assert job.message == (
        f"The export could not be written to storage connection {connection.name!r}: "
        "Refused to connect to 127.0.0.1: a loopback address."
    )
    assert job.file_key == ""
