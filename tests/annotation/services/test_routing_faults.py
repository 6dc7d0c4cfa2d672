"""Routing survives its workers and its broker dying: a real Celery worker is killed (SIGKILL) in the middle of
dispatching, and the broker's Redis is killed and restarted; PostgreSQL stays the truth, so afterwards nothing is
lost (every slot the dispatcher should fill is filled, every lapsed lease expired) and nothing is doubled.

The worker is started as in tests/workers/test_worker_process.py: the suite's settings, the test database as the
app role, not eager. Its broker is a redis-server of our own on a free loopback port (the machine's Redis on 6379
is shared and never restarted), so the messages of other suites running at the same time cannot mix with ours.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from annotation import config as routing_config
from annotation.models import AnnotatorProgress, Assignment, AssignmentState
from audit.models import AuditEvent
from core.context import organization_context
from tests.annotation.conftest import CHOICE_SCHEMA
from tests.annotation.routing_support import (
    NO_VIOLATIONS,
    AnnotatorProgressFactory,
    annotators_create,
    claim_as,
    routing_violations,
)
from tests.factories import OrganizationFactory, ProjectFactory, TaskFactory
from tests.worker_support import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = REPO_ROOT
REDIS_SERVER = shutil.which("redis-server")
ANNOTATORS = 50  # active on every project
IDLE = 20  # each leaves one lapsed lease per project, and is not active (the dispatcher ignores them)
TASKS = 190  # per project: 20 lapsed leases + 150 queued (50 x 3) + 20 spare
QUEUE = routing_config.dispatch_queue_size()


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
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class RedisServer:
    """A redis-server of our own, its data appended to disk on every write so that a restart keeps the queue."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        _wait_for(lambda: self._answers(client), 20, "redis-server to answer")
        client.close()

    @staticmethod
    def _answers(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False

    def backlog(self) -> tuple[int, int]:
        """(messages waiting, messages delivered but not acknowledged) on the default queue."""
        client = redis.Redis.from_url(self.url)
        try:
            return int(client.llen("celery")), int(client.hlen("unacked"))
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL, by our own pid: no shutdown save, exactly like a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on PATH: these tests need a Redis of their own to kill and restart")
    server = RedisServer(tmp_path / "redis")
    server.folder.mkdir()
    server.start()
    yield server
    server.kill()


@dataclass
class Workers:
    """Celery workers started against the test database and our broker; each is stopped by its own pid."""

    broker_url: str
    log_folder: Path
    started: list[subprocess.Popen[bytes]]

    def start(self) -> subprocess.Popen[bytes]:
        db = connection.settings_dict
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{settings.DATABASE_APP_ROLE}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "TEST_REDIS_URL": self.broker_url,  # broker and cache of the worker both on our Redis
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
        log = (self.log_folder / f"worker-{len(self.started)}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.started.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.log_folder.glob("worker-*.log")))

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def workers(broker: RedisServer, tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(broker_url=broker.url, log_folder=tmp_path, started=[])
    yield pool
    pool.stop_all()


@pytest.fixture
def send(broker: RedisServer) -> Iterator[Callable[..., None]]:
    """Send a task by name to our broker, as the web process or beat would."""
    producer = Celery("routing-faults", broker=broker.url, set_as_current=False)
    producer.conf.broker_connection_retry_on_startup = True

    def send_task(name: str, *args: Any) -> None:
        producer.send_task(name, args=list(args))

    yield send_task
    producer.close()


@dataclass
class BusyOrganization:
    organization_id: int
    project_ids: list[int]
    annotator_ids: list[int]


def _busy_organization(projects: int) -> BusyOrganization:
    """Projects with many active annotators and, on each, lapsed leases of annotators who went away."""
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        made = [ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1) for _ in range(projects)]
        for project in made:
            TaskFactory.create_batch(TASKS, project=project)
        active = annotators_create(ANNOTATORS)
        idle = annotators_create(IDLE)
    for project in made:
        for member in idle:
            assert claim_as(member, project).created is True
    with organization_context(organization.pk):
        long_ago = timezone.now() - timedelta(hours=2)
        Assignment.objects.filter(project__in=made).update(lease_expires_at=timezone.now() - timedelta(minutes=5))
        AnnotatorProgress.objects.filter(project__in=made).update(last_seen_at=long_ago)
        for project in made:
            for member in active:
                AnnotatorProgressFactory(project=project, annotator=member)
    return BusyOrganization(organization.pk, [p.pk for p in made], [m.pk for m in active])


def _queued_per_project(busy: BusyOrganization) -> dict[int, int]:
    with organization_context(busy.organization_id):
        counted = dict(
            Assignment.objects.filter(project_id__in=busy.project_ids, state=AssignmentState.QUEUED)
            .values_list("project_id")
            .annotate(n=Count("id"))
        )
    return {pk: counted.get(pk, 0) for pk in busy.project_ids}


def _expired(busy: BusyOrganization) -> int:
    with organization_context(busy.organization_id):
        return Assignment.objects.filter(project_id__in=busy.project_ids, state=AssignmentState.EXPIRED).count()


def _assert_settled(busy: BusyOrganization) -> None:
    """The end state: every queue full exactly once, every lapsed lease expired exactly once, invariants hold."""
    with organization_context(busy.organization_id):
        assert routing_violations(busy.project_ids) == NO_VIOLATIONS
        live = (
            Assignment.objects.filter(project_id__in=busy.project_ids, state=AssignmentState.QUEUED)
            .values_list("project_id", "annotator_id")
            .annotate(n=Count("id"))
        )
        assert {(project, member, n) for project, member, n in live} == {
            (project, member, QUEUE) for project in busy.project_ids for member in busy.annotator_ids
        }
        states = dict(
            Assignment.objects.filter(project_id__in=busy.project_ids).values_list("state").annotate(n=Count("id"))
        )
        expected_queued = len(busy.project_ids) * ANNOTATORS * QUEUE
        assert states == {
            AssignmentState.QUEUED: expected_queued,
            AssignmentState.EXPIRED: len(busy.project_ids) * IDLE,
        }
        recorded = sum(e.metadata["count"] for e in AuditEvent.objects.filter(action="assignment.expire"))
        assert recorded == len(busy.project_ids) * IDLE


def test_a_worker_killed_mid_dispatch_loses_nothing_and_doubles_nothing(workers, send, broker):
    busy = _busy_organization(projects=4)
    full = ANNOTATORS * QUEUE
    first = workers.start()
    send("routing.reap", busy.organization_id)
    for project_id in busy.project_ids:
        send("routing.dispatch", busy.organization_id, project_id)

    # The first dispatch has committed: the worker is now inside the next one (one transaction per project).
    _wait_for(lambda: any(_queued_per_project(busy).values()), 120, "the first dispatch to commit")
    first.kill()
    first.wait(10)
    stranded = broker.backlog()[1]  # the message the killed worker held (if it died inside a task)
    assert stranded in (0, 1)

    after_kill = _queued_per_project(busy)
    assert set(after_kill.values()) <= {0, full}, "a dispatch must commit whole or not at all"
    assert full in after_kill.values()
    assert _expired(busy) == 4 * IDLE
    with organization_context(busy.organization_id):
        assert routing_violations(busy.project_ids) == NO_VIOLATIONS

    # A new worker takes the messages still queued; the one in flight when the worker died stays unacknowledged
    # on Redis (redelivered only after the visibility timeout), so beat's periodic fan-outs bring its work back.
    workers.start()
    send("routing.dispatch_all")
    send("routing.reap_all")
    _wait_for(lambda: set(_queued_per_project(busy).values()) == {full}, 120, "every project to be dispatched")
    # Then every message has run, the re-sent dispatches of projects already full included: they change nothing.
    _wait_for(lambda: broker.backlog() == (0, stranded), 60, "the worker to drain the queue")

    _assert_settled(busy)
    assert _queued_per_project(busy) == dict.fromkeys(busy.project_ids, full)


def test_dispatch_completes_after_the_brokers_redis_is_killed_and_restarted(workers, send, broker):
    busy = _busy_organization(projects=3)
    full = ANNOTATORS * QUEUE
    worker = workers.start()
    for project_id in busy.project_ids:
        send("routing.dispatch", busy.organization_id, project_id)

    _wait_for(lambda: any(_queued_per_project(busy).values()), 120, "the first dispatch to commit")
    broker.kill()
    time.sleep(1.0)
    broker.start()

    # Messages written before the crash survive it (append-only file); the worker reconnects and goes on.
    _wait_for(lambda: set(_queued_per_project(busy).values()) == {full}, 120, "every project to be dispatched")
    assert worker.poll() is None, workers.logs()
    assert "Connection to broker lost" in workers.logs()  # the worker did see its broker die, and came back
    assert _expired(busy) == 0
    send("routing.reap", busy.organization_id)  # proves the reconnected worker still consumes new messages
    _wait_for(lambda: _expired(busy) == 3 * IDLE, 60, "the reaper to run after the restart")
    _wait_for(lambda: broker.backlog()[0] == 0, 60, "the worker to drain the queue")

    _assert_settled(busy)
