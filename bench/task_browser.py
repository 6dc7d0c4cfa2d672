"""Benchmark: the data browser's pages on a big project, served whole (the page view, its queries, its audit event
and the template) through Django's test client, as a signed-in manager.

The project holds `--tasks` tasks (a million by default), half of them annotated once, with the rare sets a manager
looks for: one annotation in a thousand rejected, one task in a thousand disputed, one in five thousand skipped, a
rare word in one task in ten thousand. Fixture rows are written by SQL (INSERT … SELECT over generate_series), then
the statistics are refreshed (VACUUM ANALYZE, as autovacuum would) before anything is timed. Every page is requested
as the app role, so that row-level security is paid for as in production.

Prints one line per view: the median and the slowest of `--repeat` requests, in milliseconds, and the rows shown.
The target is every view under 500 ms at a million tasks on this 2-core machine.

    python -m bench.task_browser --tasks 1000000 --repeat 5
"""

import argparse
import statistics
import sys
import time
from typing import Any

from bench.bulk_tasks import become_app_role, bench_organization, prepare_database, setup_django

TARGET_MS = 500.0
ANNOTATORS = 5
SCHEMA = {"fields": [{"name": "label", "type": "choices", "options": ["relevant", "irrelevant", "unsure"]}]}
WORDS = ("cardiology", "contract", "compiler", "tenancy", "protein", "appeal", "kernel", "dosage")

# Tasks, then one annotation for every other task, its review outcome every so often; the rare sets follow.
FIXTURE = (
    """
    INSERT INTO projects_task (organization_id, uuid, created_at, project_id, external_id, data, priority, overlap,
                               taken, done, required_skills, language, is_gold, qualification, gold_answer)
    SELECT %(organization)s, gen_random_uuid(), now() - (%(tasks)s - n) * interval '1 second', %(project)s,
           'item-' || lpad(n::text, 8, '0'),
           jsonb_build_object(
               'text', 'Case ' || n || ' about ' || (%(words)s::text[])[1 + n %% 8]
                       || CASE WHEN n %% 10000 = 7 THEN ' with a zeugma' ELSE '' END || ', for an expert to read.'),
           n %% 10, 1, (n %% 2 = 0)::int, (n %% 2 = 0)::int, '{}', '', false, false, NULL
      FROM generate_series(0, %(tasks)s - 1) AS n
    """,
    """
    INSERT INTO annotation_annotation (organization_id, uuid, created_at, project_id, task_id, assignment_id,
                                       annotator_id, result, schema_version, guidelines_version, time_spent_ms,
                                       version, supersedes_id, is_gold, gold_score, review_state, review_level)
    SELECT %(organization)s, gen_random_uuid(), now(), %(project)s, t.id, NULL,
           (%(annotators)s::bigint[])[1 + t.n %% %(count)s],
           jsonb_build_object('label', (ARRAY['relevant', 'irrelevant', 'unsure'])[1 + t.n %% 3]),
           1, 1, 1000 + t.n %% 9000, 1, NULL, false, NULL,
           CASE WHEN t.n %% 2000 = 0 THEN 'rejected' WHEN t.n %% 10 = 0 THEN 'accepted' ELSE 'none' END, 1
      FROM (SELECT id, substr(external_id, 6)::int AS n FROM projects_task WHERE project_id = %(project)s) AS t
     WHERE t.n %% 2 = 0
    """,
    """
    INSERT INTO annotation_taskagreement (organization_id, uuid, created_at, project_id, task_id, annotations,
                                          fields, score, consensus, needs_adjudication, computed_at)
    SELECT %(organization)s, gen_random_uuid(), now(), %(project)s, id, 2, '{"label": 0.2}', 0.2, '{}', true, now()
      FROM projects_task WHERE project_id = %(project)s AND substr(external_id, 6)::int %% 1000 = 3
    """,
    """
    INSERT INTO annotation_assignment (organization_id, uuid, created_at, project_id, task_id, annotator_id, state,
                                       source, is_gold, lease_token, lease_expires_at, claimed_at, finished_at,
                                       assigned_by_id, reason)
    SELECT %(organization)s, gen_random_uuid(), now(), %(project)s, id, (%(annotators)s::bigint[])[1], 'skipped',
           'pool', false, NULL, NULL, now(), now(), NULL, 'unclear'
      FROM projects_task WHERE project_id = %(project)s AND substr(external_id, 6)::int %% 5000 = 11
    """,
)


def populate(tasks: int) -> tuple[Any, Any, Any, list[Any]]:
    from django.db import connection

    from core.context import organization_context
    from projects.services.projects import project_create

    organization, manager, annotators = bench_organization("Bench browser", annotators=ANNOTATORS, lead="manager")
    with organization_context(organization.pk):
        project = project_create(actor=manager, name="Bench browser", label_schema=SCHEMA)
        params: dict[str, Any] = {
            "organization": organization.pk,
            "project": project.pk,
            "tasks": tasks,
            "words": list(WORDS),
            "annotators": [a.pk for a in annotators],
            "count": len(annotators),
        }
        with connection.cursor() as cursor:
            for statement in FIXTURE:
                cursor.execute(statement, params)
    return organization, project, manager, annotators


def views(project: Any, annotators: list[Any], tasks: int) -> list[tuple[str, str]]:
    """(name, path) of each view timed: the pages a manager walks through, deep pages and the rare sets."""
    from core.context import organization_context
    from projects.models import Task

    base = f"/projects/{project.uuid}/tasks"
    with organization_context(project.organization_id):
        middle = Task.objects.filter(project=project, external_id=f"item-{tasks // 2:08d}").values_list("uuid")[0][0]
        some = Task.objects.filter(project=project, external_id=f"item-{tasks // 3 * 2:08d}").values_list("uuid")[0][0]
    return [
        ("first page", base),
        ("a page halfway (keyset)", f"{base}?after={middle}"),
        ("newest first", f"{base}?sort=-imported"),
        ("external id, Z to A", f"{base}?sort=-external_id"),
        ("priority order", f"{base}?sort=priority"),
        ("rejected", f"{base}?review=rejected"),
        ("disputed", f"{base}?disputed=on"),
        ("skipped", f"{base}?skipped=on"),
        ("one annotator", f"{base}?annotator={annotators[1].uuid}"),
        ("complete", f"{base}?state=complete"),
        ("agreement below 0.5", f"{base}?agreement_below=0.5"),
        ("search a rare word", f"{base}?q=zeugma"),
        ("search a common word", f"{base}?q=cardio"),
        ("label value", f"{base}?field=label&value=unsure"),
        ("one task, whole", f"{base}/{some}"),
    ]


def time_views(manager: Any, paths: list[tuple[str, str]], repeat: int) -> list[dict[str, Any]]:
    from django.test import Client

    client = Client()
    client.force_login(manager.user)
    client.get(paths[0][1])  # the first request of a process loads templates and URLconf: not a page's cost
    results = []
    for name, path in paths:
        timings = []
        rows = 0
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{name}: {path} answered {response.status_code}")
            rows = response.content.count(b'name="tasks"')
        results.append({"view": name, "median": statistics.median(timings), "max": max(timings), "rows": rows})
    return results


def report(results: list[dict[str, Any]], tasks: int, populated: float) -> None:
    print(f"data browser at {tasks:,} tasks (fixture written in {populated:.1f} s); target {TARGET_MS:.0f} ms a view")
    print(f"{'view':<28} | {'median ms':>9} | {'max ms':>8} | {'rows':>4}")
    for r in results:
        print(f"{r['view']:<28} | {r['median']:>9.1f} | {r['max']:>8.1f} | {r['rows']:>4}")
    slowest = max(results, key=lambda r: r["median"])
    within = "within" if slowest["median"] <= TARGET_MS else "NOT within"
    print(f"slowest view: {slowest['view']} at {slowest['median']:.1f} ms, {within} the {TARGET_MS:.0f} ms target")
    try:
        with open("/proc/loadavg") as f:
            print("load average (1, 5, 15 min) at the end: " + " ".join(f.read().split()[:3]))
    except OSError:
        pass


def analyze_tables() -> None:
    """Refresh the statistics and visibility maps of the tables just loaded, as autovacuum would after a load this
    size, as their owner; then act as the app role again."""
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute(
            "VACUUM ANALYZE projects_task, annotation_annotation, annotation_taskagreement, annotation_assignment,"
            " tenancy_membership"
        )
        cursor.execute(f"SET ROLE {connection.ops.quote_name(settings.DATABASE_APP_ROLE)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", default="annotate_bench_task_browser")
    args = parser.parse_args(argv)
    setup_django(args.database)
    prepare_database(args.database)
    become_app_role()
    started = time.perf_counter()
    _organization, project, manager, annotators = populate(args.tasks)
    populated = time.perf_counter() - started
    analyze_tables()
    paths = views(project, annotators, args.tasks)
    report(time_views(manager, paths, args.repeat), args.tasks, populated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
