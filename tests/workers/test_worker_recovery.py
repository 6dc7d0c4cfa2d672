"""Real Celery workers on a redis-server of the test's own, with the visibility timeout shortened through the
environment (CELERY_VISIBILITY_TIMEOUT_SECONDS), as an operator would set it:

- a delayed message held by a worker killed with SIGKILL is run by another worker within the visibility timeout
  (not the 30 minutes it used to wait);
- a long import whose message is delivered again while its first worker still runs it is left to that worker
  (its job lease is held and beating), and runs once."""

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery

from annotation.models import ProjectAgreement
from core import enqueue
from core.context import organization_context
from projects.imports.services import import_create_upload
from projects.models import ImportJob, Task
from tenancy.models import Role
from tests.factories import MembershipFactory, OrganizationFactory, ProjectFactory
from tests.projects.imports_support import jsonl, rows_of
from tests.worker_support import ROOT, redis_broker, wait_for, worker_argv, worker_environment

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT = 4
JOB_LEASE = 6
ROWS = 100_000


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    with redis_broker(tmp_path) as url:
        yield url


@pytest.fixture
def start_worker(broker: str, tmp_path: Path, settings: Any) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Start `celery worker` (prefork, one process) as the app role, in a session of its own so that the test can
    kill the whole worker, pool and all; its log goes to <name>.log. Every one still alive is stopped afterwards."""
    env = worker_environment(
        broker,
        tmp_path,
        settings,
        CELERY_VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY_TIMEOUT),
        WORKER_JOB_LEASE_SECONDS=str(JOB_LEASE),
    )
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                worker_argv("--hostname", f"{name}@%h"),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def producer(broker: str, monkeypatch: Any) -> Iterator[Celery]:
    """A client of this test's broker; messages queued on commit go to it too."""
    client = Celery("recovery", broker=broker, set_as_current=False)
    sent: list[str] = []

    def send(name: str, args: tuple[Any, ...]) -> None:
        sent.append(client.send_task(name, args=list(args)).id)

    monkeypatch.setattr(enqueue, "_send", send)
    client.sent = sent  # type: ignore[attr-defined]
    yield client
    client.close()


def _log(tmp_path: Path, name: str) -> str:
    return (tmp_path / f"{name}.log").read_text(errors="replace")


def test_a_delayed_message_held_by_a_killed_worker_runs_on_another_within_the_visibility_timeout(
    broker, start_worker, producer, tmp_path
):
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        project = ProjectFactory()
    first = start_worker("first")
    # An agreement recompute, delayed as project_agreement_soon delays it; the first worker takes it and holds it,
    # unacknowledged, until its countdown is over.
    producer.send_task("quality.project_agreement", args=[organization.pk, project.pk], countdown=3)
    queue = redis.Redis.from_url(broker)
    wait_for(lambda: queue.hlen("unacked") == 1 and queue.llen("celery") == 0, 60, "the first worker to take it")

    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    killed_at = time.monotonic()
    start_worker("second")

    def recomputed() -> bool:
        with organization_context(organization.pk):
            return ProjectAgreement.objects.filter(project=project).exists()

    wait_for(recomputed, VISIBILITY_TIMEOUT + 60, "the recompute to run on the second worker")
    waited = time.monotonic() - killed_at

    # The visibility timeout, the second worker's sweep (every second here) and its start-up, not 30 minutes.
    assert waited < VISIBILITY_TIMEOUT + 30, waited
    assert "succeeded" not in _log(tmp_path, "first")
    wait_for(lambda: "succeeded" in _log(tmp_path, "second"), 10, "the second worker to log the run")
    assert _log(tmp_path, "second").count("Task quality.project_agreement[") == 2  # received, succeeded: once


def test_a_long_import_delivered_again_while_its_worker_runs_it_is_left_to_that_worker(
    broker, start_worker, producer, tmp_path
):
    for name in ("first", "second"):
        start_worker(name)
    for name in ("first", "second"):
        wait_for(lambda name=name: f"{name}@" in _log(tmp_path, name) and "ready." in _log(tmp_path, name), 60, name)
    organization = OrganizationFactory()
    content = tmp_path / "rows.jsonl"
    content.write_bytes(jsonl(rows_of(ROWS)))
    with organization_context(organization.pk):
        manager = MembershipFactory(organization=organization, role=Role.MANAGER)
        project = ProjectFactory()
        with content.open("rb") as upload:
            job = import_create_upload(
                actor=manager, project=project, upload=upload, size=content.stat().st_size, fmt="jsonl"
            )

    def running() -> ImportJob | None:
        with organization_context(organization.pk):
            found = ImportJob.objects.get(pk=job.pk)
        return found if found.state == "running" and found.rows_read > 0 else None

    wait_for(running, 240, "a worker to be importing")
    # What the broker does with a message unacknowledged past the visibility timeout (as it also does on its own
    # here, should the import outlast it): the same message, task id and all, on the queue again, for the other
    # worker, idle, to take.
    producer.send_task("projects.import_run", args=[organization.pk, job.pk], task_id=producer.sent[0])

    def finished() -> ImportJob | None:
        with organization_context(organization.pk):
            found = ImportJob.objects.get(pk=job.pk)
        return found if found.state in ("succeeded", "failed") else None

    done = wait_for(finished, 300, "the import to finish")

    logs = _log(tmp_path, "first") + _log(tmp_path, "second")
    assert done.state == "succeeded", logs[-3000:]
    assert done.checkpoint["runs"] == 1, logs[-3000:]  # never taken over, never started again
    assert (done.rows_read, done.created_count, done.error_count) == (ROWS, ROWS, 0)
    assert "job.lease_held" in logs
    with organization_context(organization.pk):
        assert Task.objects.filter(project=project).count() == ROWS
