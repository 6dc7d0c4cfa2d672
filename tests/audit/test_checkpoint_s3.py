"""Each new checkpoint is copied to S3 as the signed document, under Object Lock when asked; tested over real
HTTP against moto's S3 server on loopback."""

import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from audit import chain, signing
from audit.models import AuditCheckpoint
from audit.sealing import audit_seal
from audit.services import audit_record
from config.celery import app
from workers import enqueue

BUCKET = "audit-copies"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, settings: Any) -> Any:
    client = boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)
    for existing in client.list_buckets()["Buckets"]:
        if existing["Name"] == BUCKET:
            # Locked objects cannot be removed in compliance mode: start each test on a fresh prefix instead.
            break
    else:
        client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    settings.AUDIT_CHECKPOINT_BUCKET = BUCKET
    settings.AUDIT_CHECKPOINT_S3_ENDPOINT_URL = s3_endpoint
    settings.AUDIT_CHECKPOINT_S3_REGION = CREDENTIALS["region_name"]
    settings.AUDIT_CHECKPOINT_S3_ACCESS_KEY_ID = CREDENTIALS["aws_access_key_id"]
    settings.AUDIT_CHECKPOINT_S3_SECRET_ACCESS_KEY = CREDENTIALS["aws_secret_access_key"]
    return client


@pytest.fixture
def run_tasks_now(monkeypatch: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """Enqueued tasks run at once, in this process (and its transaction), as a worker would run them."""
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def send(name: str, args: tuple[Any, ...]) -> None:
        sent.append((name, args))
        app.tasks[name](*args)

    monkeypatch.setattr(enqueue, "_send", send)
    return sent


def _objects(s3: Any, prefix: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


def test_each_new_checkpoint_is_written_as_its_signed_document(
    tenant, s3, settings, run_tasks_now, django_capture_on_commit_callbacks
):
    settings.AUDIT_CHECKPOINT_PREFIX = "trail"
    settings.AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS = 0
    for i in range(3):
        audit_record(action="project.update", metadata={"i": i})
    audit_record(action="data_access.task_view")

    with django_capture_on_commit_callbacks(execute=True):
        audit_seal()

    checkpoints = {c.category: c for c in AuditCheckpoint.objects.all()}
    assert sorted(run_tasks_now) == sorted(("audit.checkpoint_export", (tenant.pk, c.pk)) for c in checkpoints.values())
    prefix = f"trail/{tenant.uuid}/"
    assert sorted(_objects(s3, prefix)) == [
        f"trail/{tenant.uuid}/data_access/000000000001.json",
        f"trail/{tenant.uuid}/project/000000000003.json",
    ]
    stored = s3.get_object(Bucket=BUCKET, Key=f"trail/{tenant.uuid}/project/000000000003.json")
    document = json.loads(stored["Body"].read())
    project = checkpoints["project"]
    assert document == {
        "organization": str(tenant.uuid),
        "category": "project",
        "first_sequence": 1,
        "last_sequence": 3,
        "prev_head": chain.GENESIS,
        "head": project.head,
        "previous_digest": "",
        "sealed_at": chain.format_time(project.sealed_at),
        "key_id": signing.current_key_id(),
        "signature": project.signature,
        "digest": project.digest,
    }
    # The copy alone, with the public key, proves the checkpoint.
    assert chain.verify_signature(signing.public_key_raw(), document) is True
    assert chain.checkpoint_digest(document) == document["digest"]
    assert "ObjectLockMode" not in stored


def test_with_object_lock_the_copy_is_retained_in_compliance_mode(
    tenant, s3, settings, run_tasks_now, django_capture_on_commit_callbacks
):
    settings.AUDIT_CHECKPOINT_PREFIX = "locked"
    settings.AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS = 30
    audit_record(action="project.update")

    with django_capture_on_commit_callbacks(execute=True):
        audit_seal()

    checkpoint = AuditCheckpoint.objects.get()
    key = f"locked/{tenant.uuid}/project/000000000001.json"
    head = s3.head_object(Bucket=BUCKET, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    retain_until = head["ObjectLockRetainUntilDate"]
    expected = checkpoint.sealed_at + timedelta(days=30)
    assert abs((retain_until - expected).total_seconds()) < 1
    # Compliance mode: not even the writer may delete this version before the date.
    version = head["VersionId"]
    with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
        s3.delete_object(Bucket=BUCKET, Key=key, VersionId=version)


def test_without_a_bucket_nothing_is_enqueued(tenant, settings, run_tasks_now, django_capture_on_commit_callbacks):
    settings.AUDIT_CHECKPOINT_BUCKET = ""
    audit_record(action="project.update")

    with django_capture_on_commit_callbacks(execute=True):
        assert audit_seal().checkpoints == 1

    assert run_tasks_now == []
