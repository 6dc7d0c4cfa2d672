"""Benchmark: importing N tasks (rows of ~300 bytes) through the API and a real Celery worker, per format,
against PostgreSQL's own COPY of the same rows into the same table.

Each run uploads one file (multipart, through the API in this process), and a `celery worker` subprocess (solo
pool, acting as the app role, so row-level security is paid for as in production) runs the import job: stream,
check every row, stage in batches, merge into the tasks in one transaction. The clock runs from the upload's
first byte until the API reports the job succeeded (after one small unreported import, so the worker is warm).
The worker's resident memory is sampled throughout (its peak, and its growth over the idle worker). A second
import of the same file (every row unchanged) shows the price of idempotence.

The reference, measured in the same run before each size: `COPY projects_task (...) FROM STDIN` of the very rows
the import stores (data, external ids, everything), into a fresh project of the same, empty table, committed, as
the table owner (COPY is refused under row-level security). That is the floor of writing those rows there; the
task table is emptied again before the import, so both start from the same table. A fresh database every run
(`annotate_bench_imports`).

    python -m bench.imports --tasks 100000 --tasks 1000000 --formats jsonl
"""

import argparse
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Self

from bench.bulk_tasks import become_app_role, make_client, prepare_database, setup_django

ROOT = Path(__file__).resolve().parents[1]
# Label Studio 1.23.2, same machine: 100,000 tasks of ~200 characters in one JSON request.
ANCHOR_SECONDS = 34.7
ANCHOR_TASKS_PER_S = 2900.0
ANCHOR_RSS_MB = 300.0
FORMATS = ("json", "jsonl", "csv", "jsonl.gz")
# With its external id ("jsonl-123456"), a JSON Lines row of this text is 300 bytes.
TEXT = (
    "Patient presents with intermittent chest pain radiating to the left arm, worse on exertion, relieved by "
    "rest; history of hypertension and type 2 diabetes; non-smoker; family history of early CAD. Resting ECG "
    "shows minor ST changes; troponin pending; review in clinic."
)[:248]
COPY_COLUMNS = (
    "organization_id, project_id, created_at, overlap, uuid, external_id, data, priority, required_skills, "
    "language, is_gold, qualification, gold_answer"
)


def task_item(tag: str, i: int) -> dict[str, Any]:
    return {"external_id": f"{tag}-{i}", "data": {"text": TEXT}}


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
                out.write(("," if i else "") + json.dumps(task_item(tag, i)))
            out.write("]")
        else:
            for i in range(tasks):
                out.write(json.dumps(task_item(tag, i)) + "\n")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """Calls `sample()` every `interval` seconds in a thread while the `with` block runs (and once at each end)."""

    interval = 1.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                self.sample()
                return

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class RssSampler(Sampler):
    """The highest resident size a process reaches while the sampler runs."""

    interval = 0.02

    def __init__(self, pid: int) -> None:
        super().__init__()
        self.pid = pid
        self.peak = rss_mb(pid)

    def sample(self) -> None:
        self.peak = max(self.peak, rss_mb(self.pid))


class LoadSampler(Sampler):
    """The machine's 1-minute load average while the benchmark runs (its mean and its highest)."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[float] = []

    def sample(self) -> None:
        self.samples.append(os.getloadavg()[0])

    def summary(self) -> str:
        if not self.samples:
            return "n/a"
        return f"mean {sum(self.samples) / len(self.samples):.2f}, max {max(self.samples):.2f}"


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
        uploaded = time.perf_counter() - started
        job_id = response.json()["id"]
        merging = None  # when the job was first seen merging (every row read and staged), as the API reports it
        while True:
            job = client.get(f"/api/v1/imports/{job_id}").json()
            if merging is None and job["state"] == "running" and job["progress"] >= 0.99:
                merging = time.perf_counter() - started
            if job["state"] not in ("pending", "running"):
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
    assert job["state"] == "succeeded", job
    return {
        "format": fmt,
        "elapsed": elapsed,
        "upload": uploaded,
        "merging": merging,
        "created": job["created_count"],
        "unchanged": job["unchanged_count"],
        "rows": job["rows_read"],
        "rss_peak": sampler.peak,
        "rss_delta": sampler.peak - idle,
        "bytes": path.stat().st_size,
    }


def _span(start: float | None, end: float | None) -> str:
    """Seconds between two moments, or '-' when the job went by too fast for the polling to see one."""
    return "-" if start is None or end is None else f"{end - start:.2f}"


def _copy_field(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def write_copy_file(path: Path, tasks: int, tag: str, organization_id: int, project_id: int) -> None:
    """The rows an import of `tasks` rows stores, in COPY's text format (prepared beforehand, off the clock)."""
    data = _copy_field(json.dumps({"text": TEXT}, ensure_ascii=False))
    with path.open("w", encoding="utf-8") as out:
        for i in range(tasks):
            out.write(
                f"{organization_id}\t{project_id}\t2026-01-01 00:00:00+00\t1\t{uuid.uuid4()}\t{tag}-{i}\t{data}"
                "\t0\t{}\t\tf\tf\t\\N\n"
            )


def copy_reference(path: Path) -> float:
    """Seconds to COPY the prepared rows into the task table and commit, as the table owner."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    try:
        started = time.perf_counter()
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            path.open("rb") as source,
            cursor.cursor.copy(f"COPY projects_task ({COPY_COLUMNS}) FROM STDIN") as copy,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        return time.perf_counter() - started
    finally:
        become_app_role()


def empty_task_table() -> None:
    """Every task goes (this database is the benchmark's own), so each measurement meets the same table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("TRUNCATE projects_task CASCADE")
        cursor.execute("CHECKPOINT")
    become_app_role()


def new_project(client: Any, organization_id: int, name: str) -> tuple[str, int]:
    """A project through the API: its public id, and its internal id (which the COPY rows carry)."""
    from core.context import organization_context
    from projects.models import Project

    public_id = client.post("/api/v1/projects/", {"name": name}, format="json").json()["id"]
    with organization_context(organization_id):
        return public_id, Project.objects.get(uuid=public_id).pk


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, action="append", help="tasks per file; repeat for several sizes")
    parser.add_argument("--formats", default="jsonl")
    parser.add_argument("--no-reference", action="store_true", help="skip the COPY reference")
    parser.add_argument("--database", default="annotate_bench_imports")
    parser.add_argument(
        "--redis-db", type=int, default=11, help="Redis database of the broker (apart from the tests' one)"
    )
    args = parser.parse_args(argv)
    sizes = args.tasks or [100_000]
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
    client, organization = make_client()
    organization_id = organization.pk
    connection.close()  # the worker's connections and ours never share a transaction
    worker = start_worker(args.database, objects, redis_url)
    rows = []
    load = LoadSampler()
    try:
        wait_for_worker(worker)
        become_app_role()
        # One small import first, unreported: every measured run meets a worker past its first-use costs.
        warmup = workdir / "warmup.jsonl"
        write_file(warmup, "jsonl", 1000, tag="warmup")
        project, _ = new_project(client, organization_id, "bench warm-up")
        import_once(client, project, warmup, "jsonl", worker.pid)
        with load:
            for tasks in sizes:
                for fmt in formats:
                    reference = None
                    if not args.no_reference:
                        _, project_pk = new_project(client, organization_id, f"bench COPY {fmt} {tasks}")
                        copy_file = workdir / "tasks.copy"
                        write_copy_file(copy_file, tasks, fmt, organization_id, project_pk)
                        empty_task_table()
                        reference = copy_reference(copy_file)
                        copy_file.unlink()
                        print(f"{fmt} {tasks}: COPY {reference:.1f} s", file=sys.stderr, flush=True)
                    empty_task_table()
                    path = workdir / f"tasks.{fmt}"
                    write_file(path, fmt, tasks, tag=fmt)
                    project, _ = new_project(client, organization_id, f"bench {fmt} {tasks}")
                    first = import_once(client, project, path, fmt, worker.pid)
                    again = import_once(client, project, path, fmt, worker.pid)
                    assert (first["created"], again["created"], again["unchanged"]) == (tasks, 0, tasks)
                    rows.append((tasks, first, again, reference))
                    print(
                        f"{fmt} {tasks}: {first['elapsed']:.1f} s, re-run {again['elapsed']:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    path.unlink()
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        shutil.rmtree(workdir, ignore_errors=True)  # the uploads the object store kept: gigabytes at 1M
    out = io.StringIO()
    print(
        f"\nimport through the API + one celery worker (solo pool, app role), rows of ~300 bytes, "
        f"vs COPY of the same rows into the same table ({os.cpu_count()} cores; load average {load.summary()})",
        file=out,
    )
    header = (
        f"{'format':>9} | {'tasks':>8} | {'file MB':>8} | {'wall s':>7} | {'tasks/s':>8} | {'COPY s':>7} | "
        f"{'vs COPY':>7} | {'vs anchor':>9} | {'upload s':>8} | {'read+stage s':>12} | {'merge s':>7} | "
        f"{'worker peak RSS MB':>18} | "
        f"{'RSS +MB':>7} | {'re-run s':>8}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for tasks, first, again, reference in rows:
        rate = tasks / first["elapsed"]
        copy_s = f"{reference:>7.2f}" if reference else f"{'-':>7}"
        ratio = f"{first['elapsed'] / reference:>6.2f}x" if reference else f"{'-':>7}"
        print(
            f"{first['format']:>9} | {tasks:>8} | {first['bytes'] / 2**20:>8.1f} | {first['elapsed']:>7.2f} | "
            f"{rate:>8.0f} | {copy_s} | {ratio} | {rate / ANCHOR_TASKS_PER_S:>8.1f}x | {first['upload']:>8.2f} | "
            f"{_span(first['upload'], first['merging']):>12} | {_span(first['merging'], first['elapsed']):>7} | "
            f"{first['rss_peak']:>18.1f} | {first['rss_delta']:>7.1f} | "
            f"{again['elapsed']:>8.2f}",
            file=out,
        )
    print("-" * len(header), file=out)
    print(
        f"anchor: Label Studio, 100000 tasks in one JSON request: {ANCHOR_SECONDS} s = {ANCHOR_TASKS_PER_S:.0f} "
        f"tasks/s, +{ANCHOR_RSS_MB:.0f} MB server memory. vs COPY: the import's wall time over COPY's; upload s: "
        "until the API answered 202; read+stage s: from then until the API showed the job merging (every row read, "
        "checked and staged); merge s: from then until it showed the job succeeded.",
        file=out,
    )
    print(out.getvalue(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
