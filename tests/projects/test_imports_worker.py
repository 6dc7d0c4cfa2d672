"""A real Celery worker killed with SIGKILL in the middle of an import: the broker hands the task back (late
acknowledgement, rejected when the worker is lost), the new worker process resumes at the last committed batch,
and the project ends up with every row exactly once."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from django.db import connection

from projects.imports.services import import_create_upload
from projects.models import ImportJob, ImportRow, Task
from tenancy.context import organization_context
from tenancy.models import Role
from tests.factories import MembershipFactory, OrganizationFactory, ProjectFactory
from tests.projects.imports_support import jsonl, rows_of
from workers import enqueue

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server")
ROWS = 60_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own, so no other suite's worker or purge can touch its queue."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on PATH")
    port = _free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False

    _wait_for(answers, 20, "redis-server to answer")
    client.close()
    yield url
    process.kill()
    process.wait(10)


@pytest.fixture
def worker(broker: str, tmp_path: Path, settings: Any) -> Iterator[subprocess.Popen[bytes]]:
    """`celery worker` with a prefork pool of one process, as the app role, sharing this test's object store."""
    settings.OBJECT_STORAGE_BUCKET = ""
    settings.OBJECT_STORAGE_ROOT = tmp_path / "objects"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{settings.DATABASE_APP_ROLE}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "TEST_REDIS_URL": broker,
        "OBJECT_STORAGE_ROOT": str(tmp_path / "objects"),
        "LOG_LEVEL": "INFO",
    }
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork", "--concurrency=1"),
            *("--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    yield process
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def send_to_broker(broker: str, monkeypatch: Any) -> Iterator[None]:
    """Messages queued on commit go to this test's broker."""
    producer = Celery("imports-kill", broker=broker, set_as_current=False)
    monkeypatch.setattr(enqueue, "_send", lambda name, args: producer.send_task(name, args=list(args)))
    yield
    producer.close()


def _pool_child(worker: subprocess.Popen[bytes]) -> int | None:
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
    pids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
    return pids[0] if pids else None


def _job(job: ImportJob) -> ImportJob:
    with organization_context(job.organization_id):
        return ImportJob.objects.get(pk=job.pk)


def test_a_worker_killed_mid_import_is_replaced_and_the_import_finishes_exactly_once(worker, send_to_broker, tmp_path):
    organization = OrganizationFactory()
    content_path = tmp_path / "rows.jsonl"
    content_path.write_bytes(jsonl(rows_of(ROWS)))
    with organization_context(organization.pk):
        manager = MembershipFactory(organization=organization, role=Role.MANAGER)
        project = ProjectFactory()
        with content_path.open("rb") as upload:
            job = import_create_upload(
                actor=manager, project=project, upload=upload, size=content_path.stat().st_size, fmt="jsonl"
            )
    # Committed: the message is on the broker now. Wait until two batches are in, then kill the pool process.
    _wait_for(lambda: _job(job).rows_read >= 10_000, 240, "the first batches to be staged")
    child = _wait_for(lambda: _pool_child(worker), 10, "the pool process")
    before = _job(job)
    os.kill(child, 9)

    done = _wait_for(lambda: _job(job).state in ("succeeded", "failed"), 300, "the import to finish")
    job = _job(job)

    log = (tmp_path / "worker.log").read_text(errors="replace")
    assert done, log[-3000:]
    assert job.state == "succeeded", log[-3000:]
    assert before.state == "running"
    assert before.rows_read < ROWS
    assert "WorkerLostError" in log or "SIGKILL" in log, log[-3000:]
    assert job.checkpoint["runs"] >= 2  # the redelivered task resumed; it did not start over
    assert (job.rows_read, job.created_count, job.unchanged_count, job.error_count) == (ROWS, ROWS, 0, 0)
    with organization_context(organization.pk):
        assert Task.objects.filter(project=project).count() == ROWS
        assert Task.objects.filter(project=project).values("external_id").distinct().count() == ROWS
        # The staging rows go in the transaction right after the job's last one.
        _wait_for(lambda: not ImportRow.objects.exists(), 30, "the staging rows to be deleted")
