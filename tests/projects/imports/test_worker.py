"""A real Celery worker killed with SIGKILL in the middle of an import: the broker hands the task back (late
acknowledgement, rejected when the worker is lost), the new worker process resumes at the last committed batch,
and the project ends up with every row exactly once."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from core import enqueue
from core.context import organization_context
from projects.imports.services import import_create_upload
from projects.models import ImportJob, ImportRow, Task
from tenancy.models import Role
from tests.factories import MembershipFactory, OrganizationFactory, ProjectFactory
from tests.projects.imports_support import jsonl, rows_of
from tests.worker_support import ROOT, redis_broker, wait_for, worker_argv, worker_environment

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROWS = 30_000
# Long enough for the heartbeat (every third of it) to keep a loaded machine's running import leased.
JOB_LEASE_SECONDS = 9


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    with redis_broker(tmp_path) as url:
        yield url


@pytest.fixture
def worker(broker: str, tmp_path: Path, settings: Any) -> Iterator[subprocess.Popen[bytes]]:
    """`celery worker` with a prefork pool of one process, as the app role, sharing this test's object store.

    The job's lease is short: the redelivered message finds the killed run's lease still unexpired, and waits it
    out (as it would for a live holder) before taking over. At the default 60 s that wait was most of the test;
    at JOB_LEASE_SECONDS the same hand-over happens, with the heartbeat still renewing every third of it."""
    env = worker_environment(broker, tmp_path, settings, WORKER_JOB_LEASE_SECONDS=str(JOB_LEASE_SECONDS))
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        worker_argv(),
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
    wait_for(lambda: _job(job).rows_read >= 10_000, 240, "the first batches to be staged")
    child = wait_for(lambda: _pool_child(worker), 10, "the pool process")
    before = _job(job)
    os.kill(child, 9)

    done = wait_for(lambda: _job(job).state in ("succeeded", "failed"), 300, "the import to finish")
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
        wait_for(lambda: not ImportRow.objects.exists(), 30, "the staging rows to be deleted")
