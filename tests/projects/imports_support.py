"""Shared by the import tests: a local object store per test, jobs created as the API creates them, full runs."""

import gzip
import io
import json
from collections.abc import Iterable
from typing import Any

import pytest

from projects.imports.runner import import_run
from projects.imports.services import import_create_upload
from projects.models import ImportJob, Project, Task
from tenancy.models import Role
from tests.factories import MembershipFactory, ProjectFactory


@pytest.fixture
def store(settings: Any, tmp_path: Any) -> Any:
    """The platform's object store on local disk under the test's own folder."""
    settings.OBJECT_STORAGE_BUCKET = ""
    settings.OBJECT_STORAGE_ROOT = tmp_path / "objects"
    return tmp_path / "objects"


@pytest.fixture
def manager(tenant: Any) -> Any:
    return MembershipFactory(organization=tenant, role=Role.MANAGER)


@pytest.fixture
def project(tenant: Any) -> Project:
    return ProjectFactory()


def jsonl(rows: Iterable[Any]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def json_array(rows: Iterable[Any]) -> bytes:
    return json.dumps(list(rows)).encode()


def gz(content: bytes) -> bytes:
    return gzip.compress(content)


def rows_of(n: int, start: int = 0, prefix: str = "ext") -> list[dict[str, Any]]:
    return [{"external_id": f"{prefix}-{i}", "data": {"text": f"item {i}"}} for i in range(start, start + n)]


def upload_job(
    manager: Any, project: Project, content: bytes, fmt: str = "jsonl", *, skip: bool = False, update: bool = False
) -> ImportJob:
    return import_create_upload(
        actor=manager,
        project=project,
        upload=io.BytesIO(content),
        size=len(content),
        fmt=fmt,
        skip_bad_rows=skip,
        update_existing=update,
    )


def run_to_end(job: ImportJob, *, max_runs: int = 1000) -> ImportJob:
    """Run the job slice after slice until it ends, as the task's continuations would; the job, refreshed."""
    for _ in range(max_runs):
        if import_run(job).finished:
            break
    else:
        raise AssertionError("the import never finished")
    return ImportJob.objects.get(pk=job.pk)


def imported(project: Project) -> list[tuple[str, Any]]:
    return list(Task.objects.filter(project=project).order_by("id").values_list("external_id", "data"))


def counts(job: ImportJob) -> dict[str, Any]:
    return {
        "state": job.state,
        "rows_read": job.rows_read,
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "errors": job.error_count,
    }


# --- S3 on loopback (moto's server), as the storage connections reach it ---

S3_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Any:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def loopback_allowed(settings: Any) -> None:
    """The SSRF guard refuses loopback; the suite's S3 server lives there, so this network is allow-listed."""
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def bucket(s3_endpoint: str, loopback_allowed: None) -> Any:
    """A fresh bucket on the loopback S3 server; returns (boto3 client, bucket name)."""
    import uuid

    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, **S3_CREDENTIALS)
    name = f"lab-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return client, name


def connection_for(admin: Any, s3_endpoint: str, bucket_name: str, **fields: Any) -> Any:
    from projects.services.storage import storage_connection_create

    return storage_connection_create(
        actor=admin,
        name=fields.pop("name", f"conn {bucket_name}"),
        bucket=bucket_name,
        endpoint_url=s3_endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
        **fields,
    )
