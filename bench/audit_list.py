"""Benchmark: the audit search endpoint over one organization holding N events (default 10 million).

Fills the trail with SQL `generate_series` as the app role (row-level security and every index paid for as in
production; several actors, actions, categories, outcomes and targets; task lists naming their tasks; the subject
rows `audit_record` writes with each event), sets the sequence counters, then times GET /api/v1/audit/events/
in-process (DRF APIClient) for a set of filters, on the first page and on a deep cursor page. Prints p50/p95 per
filter against the 100 ms target.

    python -m bench.audit_list --events 10000000 --repeat 20
"""

import argparse
import base64
import os
import statistics
import sys
import time
import uuid
from typing import Any

from bench.bulk_tasks import become_app_role, make_client, prepare_database, setup_django

TARGET_MS = 100.0
CHUNK = 1_000_000
TASKS = 100_000
PROJECTS = 50
ACTORS = 20
# One slot per (category, action, outcome); event g takes slot g % len(SLOTS), so each category's events are
# numbered without gaps by arithmetic alone.
SLOTS = [
    ("data_access", "data_access.task_view", "success"),
    ("data_access", "data_access.task_view", "success"),
    ("data_access", "data_access.task_view", "success"),
    ("data_access", "data_access.task_list", "success"),
    ("project", "project.update", "success"),
    ("task", "task.bulk_create", "success"),
    ("member", "member.update", "success"),
    ("data_access", "data_access.task_view", "success"),
    ("access", "access.not_found", "denied"),
    ("export", "export.create", "success"),
]


def _slot_arrays() -> dict[str, list[Any]]:
    counts: dict[str, int] = {}
    index_in_category = []
    for category, _, _ in SLOTS:
        index_in_category.append(counts.get(category, 0))
        counts[category] = counts.get(category, 0) + 1
    return {
        "categories": [c for c, _, _ in SLOTS],
        "actions": [a for _, a, _ in SLOTS],
        "outcomes": [o for _, _, o in SLOTS],
        "index": index_in_category,
        "per_round": [counts[c] for c, _, _ in SLOTS],
    }


FILL_SQL = """
WITH slots AS (
    SELECT %(categories)s::text[] AS categories, %(actions)s::text[] AS actions, %(outcomes)s::text[] AS outcomes,
           %(index)s::int[] AS idx, %(per_round)s::int[] AS per_round, %(base)s::bigint[] AS base
), g AS (
    SELECT n, (n %% %(slots)s) + 1 AS s FROM generate_series(%(start)s::bigint, %(stop)s::bigint) AS n
), recorded AS (
INSERT INTO audit_auditevent (organization_id, sequence, occurred_at, action, category, outcome, actor_user_id,
    actor_label, actor_token_prefix, ip, user_agent, request_id, target_type, target_id, changes, metadata)
SELECT %(organization)s,
       slots.base[g.s] + (g.n / %(slots)s) * slots.per_round[g.s] + slots.idx[g.s] + 1,
       %(now)s::timestamptz - make_interval(secs => (%(total)s - g.n) * 2),
       slots.actions[g.s], slots.categories[g.s], slots.outcomes[g.s], NULL,
       'actor' || ((g.n * 7) %% %(actors)s) || '@bench.local', '', '10.0.0.1', 'bench', '',
       CASE WHEN slots.actions[g.s] = 'data_access.task_view' THEN 'projects.task'
            WHEN slots.categories[g.s] IN ('data_access', 'project', 'task', 'export') THEN 'projects.project'
            ELSE 'api.route' END,
       CASE WHEN slots.actions[g.s] = 'data_access.task_view' THEN md5('task' || (g.n %% %(tasks)s))::uuid::text
            WHEN slots.categories[g.s] IN ('data_access', 'project', 'task', 'export')
                THEN md5('project' || (g.n %% %(projects)s))::uuid::text
            ELSE '' END,
       '{}'::jsonb,
       CASE WHEN slots.actions[g.s] = 'data_access.task_view'
                THEN jsonb_build_object('project', md5('project' || (g.n %% %(projects)s))::uuid::text)
            WHEN slots.actions[g.s] = 'data_access.task_list'
                THEN jsonb_build_object('count', 3, 'task_ids', jsonb_build_array(
                    md5('task' || ((g.n + 1) %% %(tasks)s))::uuid::text,
                    md5('task' || ((g.n + 2) %% %(tasks)s))::uuid::text,
                    md5('task' || ((g.n + 3) %% %(tasks)s))::uuid::text))
            ELSE '{}'::jsonb END
FROM g, slots
RETURNING id, organization_id, occurred_at, target_id, metadata
)
-- What audit_record writes with each event: its own target and the tasks a task list served, as subjects.
INSERT INTO audit_auditsubject (organization_id, subject_id, occurred_at, event_id)
SELECT organization_id, target_id, occurred_at, id FROM recorded WHERE target_id <> ''
UNION ALL
SELECT recorded.organization_id, listed.subject_id, recorded.occurred_at, recorded.id
FROM recorded, jsonb_array_elements_text(recorded.metadata -> 'task_ids') AS listed(subject_id)
"""


def task_uuid(n: int) -> str:
    import hashlib

    return str(uuid.UUID(hashlib.md5(f"task{n}".encode()).hexdigest()))  # noqa: S324 - an id, as the SQL makes it


def project_uuid(n: int) -> str:
    import hashlib

    return str(uuid.UUID(hashlib.md5(f"project{n}".encode()).hexdigest()))  # noqa: S324 - an id, as the SQL


def fill(organization_id: int, events: int) -> float:
    """Insert `events` events in chunks, each chunk its own transaction; set the counters. Returns seconds."""
    from django.db import connection
    from django.utils import timezone

    from audit.models import AuditSequence
    from core.context import organization_context

    arrays = _slot_arrays()
    # Setting up the bench's member already numbered a few events (member.add): continue after them.
    with organization_context(organization_id):
        issued = dict(AuditSequence.objects.values_list("category", "last_value"))
    arrays["base"] = [issued.get(category, 0) for category in arrays["categories"]]
    now = timezone.now()
    started = time.perf_counter()
    for start in range(0, events, CHUNK):
        stop = min(start + CHUNK, events) - 1
        with organization_context(organization_id), connection.cursor() as cursor:
            cursor.execute(
                FILL_SQL,
                {
                    **arrays,
                    "slots": len(SLOTS),
                    "start": start,
                    "stop": stop,
                    "organization": organization_id,
                    "now": now,
                    "total": events,
                    "actors": ACTORS,
                    "tasks": TASKS,
                    "projects": PROJECTS,
                },
            )
        if events > CHUNK:
            print(f"  filled {stop + 1:,} events ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    with organization_context(organization_id), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_auditsequence (organization_id, category, last_value) "
            "SELECT organization_id, category, max(sequence) FROM audit_auditevent WHERE organization_id = %s "
            "GROUP BY organization_id, category "
            "ON CONFLICT (organization_id, category) DO UPDATE SET last_value = EXCLUDED.last_value",
            [organization_id],
        )
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("ANALYZE audit_auditevent")
        cursor.execute("ANALYZE audit_auditsubject")
    become_app_role()
    return time.perf_counter() - started


def deep_cursor(position: Any) -> str:
    """The API's cursor for "older than `position`" (an EventPosition): DRF's format, base64 of a query string."""
    return base64.b64encode(f"p={position.token()}".encode()).decode()


def filters(events: int, organization_id: int) -> list[tuple[str, dict[str, str]]]:
    from audit.models import AuditEvent
    from audit.selectors.events import EventPosition
    from core.context import organization_context

    with organization_context(organization_id):
        newest = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        middle = AuditEvent.objects.filter(id__lte=newest - events // 2).order_by("-id").first()
    deep = deep_cursor(EventPosition.of(middle)) if middle else ""
    task = task_uuid(4242)
    return [
        ("none, first page", {}),
        ("none, deep cursor (middle)", {"cursor": deep}),
        ("category:data_access", {"q": "category:data_access"}),
        ("category:data_access, deep", {"q": "category:data_access", "cursor": deep}),
        ("action:project.update", {"q": "action:project.update"}),
        ("action:export.*", {"q": "action:export.*"}),
        ("actor:actor3@bench.local", {"q": "actor:actor3@bench.local"}),
        ("actor + category, deep", {"q": "actor:actor10@bench.local category:data_access", "cursor": deep}),
        ("outcome:denied", {"q": "outcome:denied"}),
        ("target:<task> (who saw it)", {"q": f"target:{task}"}),
        # Project 3 is the target of task lists (event n names project n % 50, and n % 10 == 3 is a task list).
        ("target:<project>, deep", {"q": f"target:{project_uuid(3)}", "cursor": deep}),
        ("project:<uuid>", {"q": f"project:{project_uuid(7)}"}),
        ("created: last hour", {"q": "created:>=" + _hour_ago()}),
        ("created: a day, mid-trail", {"q": "created:" + _day_mid(events)}),
    ]


def _hour_ago() -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day_mid(events: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(seconds=events)).strftime("%Y-%m-%d")


def measure(client: Any, params: dict[str, str], repeat: int) -> tuple[list[float], int]:
    times, rows = [], 0
    client.get("/api/v1/audit/events/", params)  # warm the plan and the cache once
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get("/api/v1/audit/events/", params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:500]
        rows = len(response.json()["results"])
    return times, rows


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database", default="annotate_bench_audit")
    args = parser.parse_args(argv)
    setup_django(args.database)
    prepare_database(args.database)
    become_app_role()
    client, organization = make_client()
    fill_seconds = fill(organization.pk, args.events)
    print(
        f"\naudit search, {args.events:,} events in one organization (filled in {fill_seconds:.1f} s), "
        f"page of 100, {args.repeat} runs each ({os.cpu_count()} cores)"
    )
    print(f"{'filter':<34} | {'rows':>4} | {'p50 ms':>8} | {'p95 ms':>8} | {'target':>6}")
    print("-" * 72)
    worst = 0.0
    for name, params in filters(args.events, organization.pk):
        times, rows = measure(client, params, args.repeat)
        p50, p95 = statistics.median(times), percentile(times, 0.95)
        worst = max(worst, p95)
        verdict = "ok" if p95 <= TARGET_MS else "SLOW"
        print(f"{name:<34} | {rows:>4} | {p50:>8.1f} | {p95:>8.1f} | {verdict:>6}")
    print("-" * 72)
    print(f"worst p95 {worst:.1f} ms; target {TARGET_MS:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
