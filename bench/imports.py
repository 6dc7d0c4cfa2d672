"""Benchmark: importing N tasks of ~200 characters through the API and a real Celery worker, per format.

Each run uploads one file (multipart, through the API in this process), and a `celery worker` subprocess (solo
pool, acting as the app role, so row-level security is paid for as in production) runs the import job: stream,
check every row, stage in batches, merge into the tasks in one transaction. The clock runs from the upload's
first byte until the API reports the job succeeded (after one small unreported import, so the worker is warm).
The worker's resident memory is sampled throughout; its growth over the idle worker is the memory the import
cost. A second import of the same file (every row unchanged) shows the price of idempotence. A fresh database
every run (`annotate_bench_imports`).

    python -m bench.imports --tasks 100000
"""

import argparse
import csv
import gzip
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.bulk_tasks import TEXT, become_app_role, make_client, prepare_database, setup_django

ROOT = Path(__file__).resolve().parents[1]
# Label Studio 1.23.2, same machine: 100,000 tasks of ~200 characters in one JSON request.
ANCHOR_SECONDS = 34.7
ANCHOR_TASKS_PER_S = 2900.0
ANCHOR_RSS_MB = 300.0
FORMATS = ("json", "jsonl", "csv", "jsonl.gz")


def write_file(path: Path, fmt: str, tasks: int, tag: str) -> None:
    """N tasks in `fmt`, written a row at a time (the benchmark itself stays small in memory too)."""
    opener: Any = gzip.open if fmt.endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8", newline="") as out:
        if fmt == "csv":
            table = csv.writer(out)  # the text has commas: quoted as any CSV writer would
            table.writerow(["external_id", "data.text"])
            for i in range(tasks):
                table.writerow([f"{tag}-{i}", TEXT])
        elif fmt == "json":
            out.write("[")
            for i in range(tasks):
                out.write(("," if i else "") + json.dumps({"external_id": f"{tag}-{i}", "data": {"text": TEXT}}))
            out.write("]")
        else:
            for i in range(tasks):
                out.write(json.dumps({"external_id": f"{tag}-{i}", "data": {"text": TEXT}}) + "\n")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """The highest resident size a process reaches while the sampler runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def start_worker(database: str, objects: str, redis_url: str) -> subprocess.Popen[str]:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{settings.DATABASE_APP_ROLE}@{host}:{port}/{database}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "OBJECT_STORAGE_ROOT": objects,
        "TEST_REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_worker(process: subprocess.Popen[str], timeout: float = 60) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited: {process.stderr.read() if process.stderr else ''}")
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError("the worker did not start")


def import_once(client: Any, project_id: str, path: Path, fmt: str, worker: int) -> dict[str, Any]:
    idle = rss_mb(worker)
    with RssSampler(worker) as sampler:
        started = time.perf_counter()
        with path.open("rb") as upload:
            response = client.post(f"/api/v1/projects/{project_id}/imports/", {"file": upload}, format="multipart")
        assert response.status_code == 202, response.content[:500]
        job_id = response.json()["id"]
        while True:
            job = client.get(f"/api/v1/imports/{job_id}").json()
            if job["state"] not in ("pending", "running"):
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    assert job["state"] == "succeeded", job
    return {
        "format": fmt,
        "elapsed": elapsed,
        "created": job["created_count"],
        "unchanged": job["unchanged_count"],
        "rows": job["rows_read"],
        "rss_delta": sampler.peak - idle,
        "bytes": path.stat().st_size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--database", default="annotate_bench_imports")
    parser.add_argument(
        "--redis-db", type=int, default=11, help="Redis database of the broker (apart from the tests' one)"
    )
    args = parser.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    workdir = Path(tempfile.mkdtemp(prefix="bench-imports-"))
    objects = str(workdir / "objects")
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    os.environ["TEST_REDIS_URL"] = redis_url
    os.environ["OBJECT_STORAGE_ROOT"] = objects
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    setup_django(args.database)
    prepare_database(args.database)
    become_app_role()
    from django.db import connection

    from config.celery import app

    app.control.purge()
    client, _ = make_client()
    connection.close()  # the worker's connections and ours never share a transaction
    worker = start_worker(args.database, objects, redis_url)
    rows = []
    try:
        wait_for_worker(worker)
        become_app_role()
        # One small import first, unreported: every measured run meets a worker past its first-use costs.
        warmup = workdir / "warmup.jsonl"
        write_file(warmup, "jsonl", 1000, tag="warmup")
        project = client.post("/api/v1/projects/", {"name": "bench warm-up"}, format="json").json()["id"]
        import_once(client, project, warmup, "jsonl", worker.pid)
        for fmt in formats:
            path = workdir / f"tasks.{fmt}"
            write_file(path, fmt, args.tasks, tag=fmt)
            project = client.post("/api/v1/projects/", {"name": f"bench {fmt}"}, format="json").json()["id"]
            first = import_once(client, project, path, fmt, worker.pid)
            again = import_once(client, project, path, fmt, worker.pid)
            assert (first["created"], again["created"], again["unchanged"]) == (args.tasks, 0, args.tasks)
            rows.append((first, again))
            print(f"{fmt}: {first['elapsed']:.1f} s, re-run {again['elapsed']:.1f} s", file=sys.stderr, flush=True)
            path.unlink()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    print(
        f"\nimport, {args.tasks} tasks of {len(TEXT)} chars per file, upload through the API + one celery worker "
        f"(solo pool, app role) ({os.cpu_count()} cores)"
    )
    header = (
        f"{'format':>9} | {'file MB':>8} | {'wall s':>7} | {'tasks/s':>8} | {'vs anchor':>9} | "
        f"{'worker RSS +MB':>14} | {'re-run s (all unchanged)':>24}"
    )
    print(header)
    print("-" * len(header))
    for first, again in rows:
        rate = args.tasks / first["elapsed"]
        print(
            f"{first['format']:>9} | {first['bytes'] / 2**20:>8.1f} | {first['elapsed']:>7.2f} | {rate:>8.0f} | "
            f"{rate / ANCHOR_TASKS_PER_S:>8.1f}x | {first['rss_delta']:>14.1f} | {again['elapsed']:>24.2f}"
        )
    print("-" * len(header))
    print(
        f"anchor: Label Studio, {args.tasks if args.tasks == 100_000 else 100_000} tasks in one JSON request: "
        f"{ANCHOR_SECONDS} s = {ANCHOR_TASKS_PER_S:.0f} tasks/s, +{ANCHOR_RSS_MB:.0f} MB server memory"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
