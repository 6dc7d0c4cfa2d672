"""Real Celery workers for the tests that need one (kill -9, redelivery, resumption): a redis-server of the test's
own as the broker, and the worker's command line and environment as the app role."""

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = shutil.which("redis-server")


# The repository: where a started worker or command runs from, whatever folder its test file sits in.
REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextmanager
def redis_broker(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own, so no other suite's worker or purge can touch its queue; its URL."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on PATH")
    port = free_port()
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

    try:
        wait_for(answers, 20, "redis-server to answer")
        client.close()
        yield url
    finally:
        process.kill()
        process.wait(10)


def worker_environment(broker: str, tmp_path: Path, settings: Any, **extra: str) -> dict[str, str]:
    """A worker's environment: the app role on the test database, this test's broker and object store, logs at
    INFO. Points the test process's own object store at the same folder."""
    settings.OBJECT_STORAGE_BUCKET = ""
    settings.OBJECT_STORAGE_ROOT = tmp_path / "objects"
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{settings.DATABASE_APP_ROLE}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "TEST_REDIS_URL": broker,
        "OBJECT_STORAGE_ROOT": str(tmp_path / "objects"),
        "LOG_LEVEL": "INFO",
        **extra,
    }


def worker_argv(*extra: str) -> list[str]:
    """`celery worker` with a prefork pool of one process, talking to nobody but its broker."""
    return [
        *(sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=prefork", "--concurrency=1"),
        *("--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"),
        *extra,
    ]
