"""Benchmark: exporting 100,000 annotated tasks as JSONL and as CSV through the `projects.export_run` task (the
function a worker runs), against Label Studio's synchronous export, which did not finish within 120 s for the same
number of tasks on this machine.

Runs in-process against a dedicated PostgreSQL database (`annotate_bench_exports`), acting as the app role so that
row-level security is paid for as in production; the file goes to the local object store in a temporary folder.
After the load, the tables' statistics are refreshed (ANALYZE, as autovacuum would) before anything is timed.
Prints a table: wall and CPU seconds of this process per run (the database's own work is in the wall time only).

    python -m bench.exports --tasks 100000 --repeat 3
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from typing import Any

from bench.bulk_tasks import TEXT, become_app_role, prepare_database, setup_django

ANCHOR_SECONDS = 120.0  # Label Studio's synchronous export of 100,000 tasks had not finished after this long
BATCH = 5000
ANNOTATORS = 5
SCHEMA = {
    "fields": [
        {"name": "label", "type": "choices", "options": ["relevant", "irrelevant", "unsure"]},
        {"name": "confidence", "type": "rating", "min": 1, "max": 5},
        {"name": "comment", "type": "text", "required": False},
    ]
}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def populate(tasks: int) -> tuple[Any, Any, Any]:
    """An organization with a project of `tasks` tasks, each with one annotation, written batch by batch."""
    from annotation.models import Annotation
    from projects import services
    from projects.models import Task
    from tenancy import services as tenancy_services
    from tenancy.context import organization_context
    from tenancy.models import Organization, Role, User

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    organization = Organization.objects.create(name="Bench exports", slug=slug)
    with organization_context(organization.pk):
        owner_user = User.objects.create_user(f"{slug}@bench.local", None)
        owner = tenancy_services.membership_add(
            organization=organization, user=owner_user, role=Role.OWNER, via="bench"
        )
        annotators = [
            tenancy_services.membership_add(
                organization=organization,
                user=User.objects.create_user(f"{slug}-{i}@bench.local", None),
                role=Role.ANNOTATOR,
                via="bench",
            )
            for i in range(ANNOTATORS)
        ]
        project = services.project_create(actor=owner, name="bench export", label_schema=SCHEMA)
    labels = SCHEMA["fields"][0]["options"]  # type: ignore[index]
    for start in range(0, tasks, BATCH):
        with organization_context(organization.pk):
            items = [
                services.TaskInput(
                    external_id=f"t{i}", data={"text": TEXT}, priority=0, required_skills={}, language="",
                    gold_answer=None, qualification=False,
                )
                for i in range(start, min(start + BATCH, tasks))
            ]  # fmt: skip
            services._insert_tasks(project, items)
            ids = list(
                Task.objects.filter(project=project, external_id__in=[t.external_id for t in items]).values_list(
                    "pk", flat=True
                )
            )
            Annotation.objects.bulk_create(
                [
                    Annotation(
                        organization_id=organization.pk,
                        project=project,
                        task_id=task_id,
                        annotator=annotators[n % ANNOTATORS],
                        result={
                            "label": labels[n % 3],
                            "confidence": 1 + n % 5,
                            "comment": "=SUM(A1)" if n % 7 else "",
                        },
                        schema_version=1,
                        guidelines_version=1,
                        time_spent_ms=1000 + n % 9000,
                    )
                    for n, task_id in enumerate(ids)
                ],
                batch_size=BATCH,
            )
    return organization, project, owner


def analyze_tables() -> None:
    """Refresh the planner's statistics of the tables just loaded, as autovacuum does after a load this size (within
    a minute or so); the exports are then planned as they would be on a live system, not on an empty table's
    guesses. Runs as the tables' owner (the app role may not), then acts as the app role again."""
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("ANALYZE projects_task, annotation_annotation, annotation_review, tenancy_membership")
        cursor.execute(f"SET ROLE {connection.ops.quote_name(settings.DATABASE_APP_ROLE)}")


def export_once(organization: Any, project: Any, owner: Any, export_format: str) -> dict[str, Any]:
    from config.celery import app
    from projects.exports.filters import ExportFilters
    from projects.exports.services import export_create
    from projects.models import ExportJob
    from tenancy.context import organization_context
    from workers import enqueue

    send = enqueue._send
    enqueue._send = lambda task_name, args: None  # the run below is timed on its own, not at commit
    try:
        with organization_context(organization.pk):
            job = export_create(actor=owner, project=project, export_format=export_format, filters=ExportFilters())
    finally:
        enqueue._send = send
    started, cpu = time.perf_counter(), time.process_time()
    state = app.tasks["projects.export_run"](organization.pk, job.pk)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    with organization_context(organization.pk):
        job = ExportJob.objects.get(pk=job.pk)
    assert state == "succeeded", job.message
    return {
        "format": export_format,
        "elapsed": elapsed,
        "cpu": cpu,
        "rows": job.rows,
        "bytes": job.file_size,
        "rss": _peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="annotate_bench_exports")
    args = parser.parse_args(argv)
    setup_django(args.database)
    prepare_database(args.database)
    become_app_role()
    from django.conf import settings

    settings.OBJECT_STORAGE_BUCKET = ""
    settings.OBJECT_STORAGE_ROOT = tempfile.mkdtemp(prefix="annotate-bench-exports-")
    started = time.perf_counter()
    organization, project, owner = populate(args.tasks)
    populated = time.perf_counter() - started
    analyze_tables()
    rss_before = _peak_rss_mb()
    results: dict[str, list[dict[str, Any]]] = {"jsonl": [], "csv": []}
    for _ in range(args.repeat):
        for export_format in results:
            results[export_format].append(export_once(organization, project, owner, export_format))
    print(
        f"\nexport of {args.tasks} annotated tasks (one annotation each) through projects.export_run, "
        f"{args.repeat} runs per format ({os.cpu_count()} cores); data written in {populated:.1f} s"
    )
    header = f"{'format':>6} | {'run':>3} | {'wall s':>7} | {'cpu s':>6} | {'rows':>7} | {'rows/s':>8} | "
    print(header + f"{'file MB':>8} | {'peak RSS MB':>11}")
    print("-" * 79)
    for export_format, runs in results.items():
        for i, r in enumerate(runs, 1):
            rate = r["rows"] / r["elapsed"]
            print(
                f"{export_format:>6} | {i:>3} | {r['elapsed']:>7.2f} | {r['cpu']:>6.2f} | {r['rows']:>7} | "
                f"{rate:>8.0f} | {r['bytes'] / 1e6:>8.1f} | {r['rss']:>11.1f}"
            )
    print("-" * 79)
    for export_format, runs in results.items():
        median = statistics.median(r["elapsed"] for r in runs)
        print(
            f"{export_format}: median {median:.2f} s = {runs[0]['rows'] / median:.0f} rows/s; anchor: Label Studio "
            f"unfinished after {ANCHOR_SECONDS:.0f} s, so this is at least {ANCHOR_SECONDS / median:.0f}x faster"
        )
    print(f"peak RSS before the exports {rss_before:.1f} MB, after {_peak_rss_mb():.1f} MB")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
