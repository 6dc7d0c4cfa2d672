"""Benchmark: exporting annotated tasks as JSONL and as CSV through the `projects.export_run` task (the function a
worker runs), against PostgreSQL's own `COPY (SELECT …) TO STDOUT` of the same rows: the same task and annotation
columns, chosen by the same conditions, in the same order. COPY is the floor: no export can read the rows faster.
The target is JSONL within 2x of COPY, in constant memory, at any size. The old anchor, Label Studio's synchronous
export of 100,000 tasks, had not finished after 120 s on this machine.

Runs in-process against a dedicated PostgreSQL database (`annotate_bench_exports`), acting as the app role so that
row-level security is paid for as in production; files go to the local object store in a temporary folder. Every
size asked for (`--rows`, one annotation per task) is a project of its own in the same tables, so the smaller
export is read out of tables that also hold the larger one. Fixture rows are written by SQL (INSERT … SELECT over
generate_series), then the statistics are refreshed (ANALYZE, as autovacuum would) before anything is timed.

Prints one line per format and size (medians of `--repeat` runs): seconds, rows per second, the ratio to COPY and
the peak resident memory of this process during the run.

    python -m bench.exports --rows 100000 --rows 1000000 --repeat 3
"""

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bulk_tasks import TEXT, become_app_role, bench_organization, prepare_database, setup_django

ANCHOR_SECONDS = 120.0  # Label Studio's synchronous export of 100,000 tasks had not finished after this long
TARGET_RATIO = 2.0  # JSONL export time / COPY time of the same rows
ANNOTATORS = 5
FORMATS = ("jsonl", "csv")
SCHEMA = {
    "fields": [
        {"name": "label", "type": "choices", "options": ["relevant", "irrelevant", "unsure"]},
        {"name": "confidence", "type": "rating", "min": 1, "max": 5},
        {"name": "comment", "type": "text", "required": False},
    ]
}

# The export's selection in one statement (projects/exports/records.py): a project's tasks that are not gold, with
# their annotations that are neither rejected nor the original of a correction nor superseded, and whether each
# is a reviewer's correction; ordered as the export reads them.
COPY_SQL = """
COPY (
    SELECT t.uuid, t.external_id, t.data, t.created_at,
           a.uuid, a.assignment_id, a.result, a.schema_version, a.guidelines_version, m.uuid, a.time_spent_ms,
           a.review_state, a.version, a.created_at,
           EXISTS (SELECT 1 FROM annotation_review r WHERE r.correction_id = a.id) AS is_correction
      FROM projects_task t
      JOIN annotation_annotation a ON a.task_id = t.id
      JOIN tenancy_membership m ON m.id = a.annotator_id
     WHERE t.project_id = %(project)s AND NOT t.is_gold
       AND a.review_state NOT IN ('rejected', 'corrected')
       AND NOT EXISTS (SELECT 1 FROM annotation_annotation s WHERE s.supersedes_id = a.id)
     ORDER BY t.id, a.assignment_id, a.version DESC, a.id DESC
) TO STDOUT
"""


def _reset_peak_rss() -> None:
    """Start a new high-water mark of resident memory (Linux), so that each run reports its own peak."""
    # Elsewhere the peak is the process's since it started, which can only overstate a run's.
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def populate(organization: Any, owner: Any, annotators: list[Any], rows: int) -> Any:
    """A project of `rows` tasks, each done once with one annotation, written by two INSERT … SELECT statements
    (the API's own bulk paths are measured by bench.bulk_tasks and bench.imports)."""
    from django.db import connection

    from core.context import organization_context
    from projects.services.projects import project_create

    with organization_context(organization.pk):
        project = project_create(actor=owner, name=f"bench export {rows}", label_schema=SCHEMA)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO projects_task (organization_id, uuid, created_at, project_id, external_id, data,
                                           priority, overlap, taken, done, required_skills, language, is_gold,
                                           qualification, gold_answer)
                SELECT %(organization)s, gen_random_uuid(), now(), %(project)s, 't' || n,
                       jsonb_build_object('text', %(text)s::text), 0, 1, 1, 1, '{}', '', false, false, NULL
                  FROM generate_series(0, %(rows)s - 1) AS n
                """,
                {"organization": organization.pk, "project": project.pk, "text": TEXT, "rows": rows},
            )
            cursor.execute(
                """
                INSERT INTO annotation_annotation (organization_id, uuid, created_at, project_id, task_id,
                                                   assignment_id, annotator_id, result, schema_version,
                                                   guidelines_version, time_spent_ms, version, supersedes_id,
                                                   is_gold, gold_score, review_state, review_level)
                SELECT %(organization)s, gen_random_uuid(), now(), %(project)s, t.id, NULL,
                       (%(annotators)s::bigint[])[1 + n %% %(count)s],
                       jsonb_build_object(
                           'label', (ARRAY['relevant', 'irrelevant', 'unsure'])[1 + n %% 3],
                           'confidence', 1 + n %% 5,
                           'comment', CASE WHEN n %% 7 = 0 THEN '' ELSE '=SUM(A1)' END),
                       1, 1, 1000 + n %% 9000, 1, NULL, false, NULL, 'none', 0
                  FROM (SELECT id, substr(external_id, 2)::int AS n FROM projects_task
                         WHERE project_id = %(project)s) AS t
                """,
                {
                    "organization": organization.pk,
                    "project": project.pk,
                    "annotators": [a.pk for a in annotators],
                    "count": len(annotators),
                },
            )
    return project


def analyze_tables() -> None:
    """Refresh the planner's statistics of the tables just loaded, as autovacuum does after a load this size (within
    a minute or so); the exports are then planned as they would be on a live system, not on an empty table's
    guesses. Runs as the tables' owner (the app role may not), then acts as the app role again. VACUUM also sets
    the visibility map, as autovacuum would, so that index-only reads are not penalised by a fresh load."""
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("VACUUM ANALYZE projects_task, annotation_annotation, annotation_review, tenancy_membership")
        cursor.execute(f"SET ROLE {connection.ops.quote_name(settings.DATABASE_APP_ROLE)}")


def copy_once(organization: Any, project: Any) -> dict[str, Any]:
    """COPY the export's rows to a temporary file, as the app role inside the tenant (row-level security on)."""
    from django.db import connection

    from core.context import organization_context

    _reset_peak_rss()
    started, cpu = time.perf_counter(), time.process_time()
    rows = size = 0
    with tempfile.TemporaryFile() as spool, organization_context(organization.pk):
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, cursor.copy(COPY_SQL, {"project": project.pk}) as copy:
            for block in copy:
                spool.write(block)
                rows += bytes(block).count(b"\n")
        size = spool.tell()
    return {
        "format": "COPY",
        "elapsed": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "rows": rows,
        "bytes": size,
        "rss": _peak_rss_mb(),
    }


def export_once(organization: Any, project: Any, owner: Any, export_format: str) -> dict[str, Any]:
    from annotation.exports.filters import ExportFilters
    from annotation.exports.services import export_create
    from config.celery import app
    from core import enqueue
    from core.context import organization_context
    from projects.models import ExportJob

    send = enqueue._send
    enqueue._send = lambda task_name, args: None  # the run below is timed on its own, not at commit
    try:
        with organization_context(organization.pk):
            job = export_create(actor=owner, project=project, export_format=export_format, filters=ExportFilters())
    finally:
        enqueue._send = send
    _reset_peak_rss()
    started, cpu = time.perf_counter(), time.process_time()
    state = app.tasks["projects.export_run"](organization.pk, job.pk)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    rss = _peak_rss_mb()
    with organization_context(organization.pk):
        job = ExportJob.objects.get(pk=job.pk)
    assert state == "succeeded", job.message
    return {
        "format": export_format,
        "elapsed": elapsed,
        "cpu": cpu,
        "rows": job.rows,
        "bytes": job.file_size,
        "rss": rss,
    }


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def report(results: dict[tuple[int, str], list[dict[str, Any]]], repeat: int, populated: float) -> None:
    sizes = sorted({size for size, _ in results})
    print(
        f"\nexport of {', '.join(f'{s}' for s in sizes)} annotated tasks (one annotation each, one project per size, "
        f"same tables) through projects.export_run, against COPY of the same rows; median of {repeat} runs "
        f"({os.cpu_count()} cores); data written in {populated:.1f} s"
    )
    header = (
        f"{'format':>6} | {'rows':>8} | {'seconds':>7} | {'cpu s':>6} | {'rows/s':>8} | {'x COPY':>6} | "
        f"{'file MB':>7} | {'peak RSS MB':>11}"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        reference = _median(results[(size, "COPY")], "elapsed")
        for name in ("COPY", *FORMATS):
            runs = results[(size, name)]
            seconds = _median(runs, "elapsed")
            rows = runs[0]["rows"]
            print(
                f"{name:>6} | {rows:>8} | {seconds:>7.2f} | {_median(runs, 'cpu'):>6.2f} | {rows / seconds:>8.0f} | "
                f"{seconds / reference:>6.2f} | {runs[0]['bytes'] / 1e6:>7.1f} | {max(r['rss'] for r in runs):>11.1f}"
            )
    print("-" * len(header))
    for size in sizes:
        ratio = _median(results[(size, "jsonl")], "elapsed") / _median(results[(size, "COPY")], "elapsed")
        verdict = "within" if ratio <= TARGET_RATIO else "NOT within"
        print(f"jsonl at {size} rows: {ratio:.2f}x COPY, {verdict} the {TARGET_RATIO:.0f}x target")
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        for name in ("COPY", *FORMATS):
            rate_small = results[(small, name)][0]["rows"] / _median(results[(small, name)], "elapsed")
            rate_large = results[(large, name)][0]["rows"] / _median(results[(large, name)], "elapsed")
            print(
                f"{name} scaling {small} -> {large} rows: rows/s {rate_large / rate_small:.2f} of the smaller size's "
                "(1.00 is linear)"
            )
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="annotations to export (repeat for several sizes)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="annotate_bench_exports")
    args = parser.parse_args(argv)
    sizes = sorted(set(args.rows or [100_000]))
    setup_django(args.database)
    prepare_database(args.database)
    become_app_role()
    from django.conf import settings

    settings.OBJECT_STORAGE_BUCKET = ""
    storage = tempfile.mkdtemp(prefix="annotate-bench-exports-")
    settings.OBJECT_STORAGE_ROOT = storage
    try:
        started = time.perf_counter()
        organization, owner, annotators = bench_organization("Bench exports", annotators=ANNOTATORS)
        projects = {size: populate(organization, owner, annotators, size) for size in sizes}
        populated = time.perf_counter() - started
        analyze_tables()
        results: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for size, project in projects.items():
            for _ in range(args.repeat):
                # Interleaved, so that a change in the machine's load falls on every format alike.
                results.setdefault((size, "COPY"), []).append(copy_once(organization, project))
                for export_format in FORMATS:
                    results.setdefault((size, export_format), []).append(
                        export_once(organization, project, owner, export_format)
                    )
    finally:
        shutil.rmtree(storage, ignore_errors=True)  # every export file written: gigabytes at 1M
    report(results, args.repeat, populated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
