"""Each new checkpoint is copied to S3 as the signed document, under Object Lock when asked, and
`manage.py audit_anchor_verify` compares the database's checkpoints with those copies; tested over real HTTP
against moto's S3 server on loopback."""

import io
import json
import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from moto.server import ThreadedMotoServer

from audit import chain, signing
from audit.models import AuditCheckpoint
from audit.services.sealing import audit_seal
from audit.services.verification import audit_verify
from config.celery import app
from core import enqueue
from core.audit.record import audit_record
from tests.audit.tamper import as_owner_without_triggers

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


# --- the comparison of the database's checkpoints with their copies (manage.py audit_anchor_verify) ---


def _anchor_check(organization: Any) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("audit_anchor_verify", "--organization", organization.slug, stdout=out)
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def copied_trail(tenant, s3, settings, run_tasks_now, django_capture_on_commit_callbacks):
    """project #1..3 and #4..5 sealed in two checkpoints, data_access #1 in one, each copied to the bucket."""
    settings.AUDIT_CHECKPOINT_PREFIX = "anchored"
    settings.AUDIT_CHECKPOINT_OBJECT_LOCK_DAYS = 1
    for i in range(3):
        audit_record(action="project.update", metadata={"i": i})
    audit_record(action="data_access.task_view")
    with django_capture_on_commit_callbacks(execute=True):
        audit_seal()
    for i in range(3, 5):
        audit_record(action="project.update", metadata={"i": i})
    with django_capture_on_commit_callbacks(execute=True):
        audit_seal()
    return tenant


def test_the_anchor_check_passes_while_every_checkpoint_matches_its_copy(copied_trail):
    assert _anchor_check(copied_trail) == (0, f"{copied_trail.slug}: ok (3 copies compared, 0 not copied yet)\n")


def test_history_rewritten_and_resealed_in_the_database_is_caught_only_by_its_copies(
    copied_trail, api_as, django_capture_on_commit_callbacks
):
    # Whoever holds the database drops the last checkpoint and its seals, deletes the event #5 it covered, lowers
    # the counter, and lets the sealer sign the shortened chain: every check made inside the database passes.
    tenant = copied_trail
    with as_owner_without_triggers() as cursor:
        for table, column in (("audit_auditcheckpoint", "last_sequence"), ("audit_auditseal", "sequence")):
            cursor.execute(
                f"DELETE FROM {table} WHERE organization_id = %s AND category = 'project' AND {column} >= 4",  # noqa: S608
                [tenant.pk],
            )
        cursor.execute(
            "DELETE FROM audit_auditevent WHERE organization_id = %s AND category = 'project' AND sequence = 5",
            [tenant.pk],
        )
        cursor.execute(
            "UPDATE audit_auditsequence SET last_value = 4 WHERE organization_id = %s AND category = 'project'",
            [tenant.pk],
        )
    with django_capture_on_commit_callbacks(execute=True):
        audit_seal()
    assert audit_verify().ok is True

    returncode, output = _anchor_check(tenant)

    assert returncode == 1
    assert output == (
        f"{tenant.slug}: DIFFERS (4 copies compared, 0 not copied yet)\n"
        "  Checkpoint project through #5 is in the bucket but not in the database: it was removed from the "
        "database.\n"
    )


def test_the_anchor_check_names_a_rewritten_checkpoint_and_one_never_copied(
    copied_trail, settings, django_capture_on_commit_callbacks
):
    tenant = copied_trail
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            "UPDATE audit_auditcheckpoint SET head = %s WHERE organization_id = %s AND category = 'data_access'",
            ["e" * 64, tenant.pk],
        )
    audit_record(action="project.update", metadata={"i": 5})
    with django_capture_on_commit_callbacks(execute=False):
        audit_seal()  # sealed, but its copy never leaves (the task is not run)
    old = AuditCheckpoint.objects.get(category="project", last_sequence=6)
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            "UPDATE audit_auditcheckpoint SET sealed_at = sealed_at - interval '1 hour' WHERE id = %s", [old.pk]
        )

    returncode, output = _anchor_check(tenant)

    assert returncode == 1
    assert output == (
        f"{tenant.slug}: DIFFERS (3 copies compared, 0 not copied yet)\n"
        "  Checkpoint data_access through #1 differs between the database and the bucket in head.\n"
        "  Checkpoint project through #6 is in the database but not in the bucket.\n"
    )


def test_a_checkpoint_sealed_moments_ago_is_not_copied_yet(copied_trail, django_capture_on_commit_callbacks):
    audit_record(action="project.update", metadata={"i": 5})
    with django_capture_on_commit_callbacks(execute=False):
        audit_seal()

    assert _anchor_check(copied_trail) == (0, f"{copied_trail.slug}: ok (3 copies compared, 1 not copied yet)\n")


def test_the_anchor_check_needs_a_bucket(tenant, settings):
    settings.AUDIT_CHECKPOINT_BUCKET = ""

    with pytest.raises(CommandError, match="AUDIT_CHECKPOINT_BUCKET is not set"):
        call_command("audit_anchor_verify", "--organization", tenant.slug)
