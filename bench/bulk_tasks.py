"""Benchmark: bulk task creation through the API (one request of N tasks), with and without audit recording
off the table — the audit event is one row per request, so it is always on here.

Runs in-process against a dedicated PostgreSQL database (`annotate_bench`), acting as the app role so that
row-level security is paid for exactly as in production. Prints a table.

    python -m bench.bulk_tasks --tasks 10000 --repeat 3
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time
import uuid
from typing import Any

# ~200 characters of text per task, as in the anchor measurement.
TEXT = (
    "Patient presents with intermittent chest pain radiating to the left arm, worse on exertion, relieved by "
    "rest; history of hypertension and type 2 diabetes; non-smoker; family history of early CAD. "
)[:200]
ANCHOR_TASKS_PER_S = 2900.0  # Label Studio 1.23.2, 100,000 tasks of ~200 chars in one JSON request, same machine


def setup_django(database: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
    os.environ["DATABASE_URL"] = f"{base.rstrip('/')}/{database}"
    import django

    django.setup()


def prepare_database(database: str) -> None:
    """A fresh database every run: numbers never depend on what an earlier run or schema left behind. Made by the
    deployment's own roles script and migrated as its owner role, like the suite's and production's."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from psycopg.conninfo import make_conninfo

    from config.database import DatabaseRoles, connection_as, database_drop, database_provision

    s = connection.settings_dict
    admin = make_conninfo(host=s["HOST"], port=s["PORT"] or None, user=s["USER"], password=s["PASSWORD"] or None)
    admin = make_conninfo(admin, dbname="postgres")
    connection.close()
    database_drop(admin, database)
    roles = DatabaseRoles(name=database, owner=settings.DATABASE_OWNER_ROLE, app=settings.DATABASE_APP_ROLE)
    database_provision(admin, roles)
    with connection_as(s, roles.owner, connection.close):
        call_command("migrate", verbosity=0)


def become_app_role() -> None:
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {connection.ops.quote_name(settings.DATABASE_APP_ROLE)}")


def bench_organization(name: str, *, annotators: int, lead: str = "owner") -> tuple[Any, Any, list[Any]]:
    """An organization with one member of role `lead` and `annotators` annotators, added as members are."""
    from core.context import organization_context
    from tenancy.models import Organization, Role, User
    from tenancy.services.members import membership_add

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    organization = Organization.objects.create(name=name, slug=slug)
    with organization_context(organization.pk):
        leader = membership_add(
            organization=organization,
            user=User.objects.create_user(f"{slug}@bench.local", None),
            role=Role(lead),
            via="bench",
        )
        members = [
            membership_add(
                organization=organization, user=User.objects.create_user(f"{slug}-{i}@bench.local", None),
                role=Role.ANNOTATOR, via="bench",
            )
            for i in range(annotators)
        ]  # fmt: skip
    return organization, leader, members


def make_client() -> tuple[Any, Any]:
    from rest_framework.test import APIClient

    from core.context import organization_context
    from tenancy.models import Organization, Role, User
    from tenancy.services.members import membership_add
    from tenancy.services.tokens import api_token_create

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    organization = Organization.objects.create(name="Bench", slug=slug)
    with organization_context(organization.pk):
        user = User.objects.create_user(f"{slug}@bench.local", None)
        membership = membership_add(organization=organization, user=user, role=Role.OWNER, via="bench")
        issued = api_token_create(actor=membership, name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    return client, organization


def run(tasks: int, repeat: int) -> list[dict[str, Any]]:
    client, _ = make_client()
    rows = []
    for attempt in range(repeat):
        project = client.post("/api/v1/projects/", {"name": f"bench {attempt}"}, format="json").json()["id"]
        body = json.dumps([{"external_id": f"t{i}", "data": {"text": TEXT}} for i in range(tasks)])
        started = time.perf_counter()
        response = client.post(f"/api/v1/projects/{project}/tasks/", body, content_type="application/json")
        elapsed = time.perf_counter() - started
        assert response.status_code == 201, response.content[:500]
        assert response.json()["created"] == tasks
        started = time.perf_counter()
        again = client.post(f"/api/v1/projects/{project}/tasks/", body, content_type="application/json")
        retry = time.perf_counter() - started
        assert again.json()["created"] == 0
        rows.append(
            {"elapsed": elapsed, "retry": retry, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="annotate_bench")
    args = parser.parse_args(argv)
    setup_django(args.database)
    prepare_database(args.database)
    become_app_role()
    rows = run(args.tasks, args.repeat)
    median = statistics.median(r["elapsed"] for r in rows)
    rate = args.tasks / median
    print(
        f"\nbulk task create, {args.tasks} tasks of {len(TEXT)} chars per request, {args.repeat} runs "
        f"({os.cpu_count()} cores)"
    )
    print(f"{'run':>4} | {'create s':>9} | {'tasks/s':>9} | {'idempotent re-post s':>20} | {'peak RSS MB':>12}")
    print("-" * 68)
    for i, r in enumerate(rows, 1):
        print(
            f"{i:>4} | {r['elapsed']:>9.3f} | {args.tasks / r['elapsed']:>9.0f} | {r['retry']:>20.3f} | "
            f"{r['rss_mb']:>12.1f}"
        )
    print("-" * 68)
    print(
        f"median {median:.3f} s = {rate:.0f} tasks/s; anchor {ANCHOR_TASKS_PER_S:.0f} tasks/s "
        f"(ratio {rate / ANCHOR_TASKS_PER_S:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
