"""Benchmark: sealing (and verifying) one organization's audit trail, against the target of 5,000 events/s.

Runs in-process against a dedicated PostgreSQL database (`annotate_bench`), acting as the app role so that
row-level security is paid for exactly as in production. The events are written in batched INSERT ... SELECTs,
each with its MAC (what is measured is sealing, not recording), then sealed and verified. Prints a table.

    python -m bench.audit_seal --events 200000
"""

import argparse
import hashlib
import os
import resource
import sys
import time
import uuid
from typing import Any

TARGET_EVENTS_PER_S = 5000.0


def create_events(organization_id: int, count: int, category: str = "project") -> None:
    """`count` realistic events in one category of the organization in context, numbered on from its counter, each
    with the MAC the platform makes as it records one (the sealer refuses an event without), written in batches of
    INSERT ... SELECT FROM unnest()."""
    import json
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from audit.macs import event_mac_for
    from audit.models import AuditEvent, AuditSequence

    events, counters = AuditEvent._meta.db_table, AuditSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {counters} (organization_id, category, last_value) VALUES (%s, %s, 0) "  # noqa: S608
            "ON CONFLICT (organization_id, category) DO NOTHING",
            [organization_id, category],
        )
        cursor.execute(
            f"UPDATE {counters} SET last_value = last_value + %s "  # noqa: S608
            "WHERE organization_id = %s AND category = %s RETURNING last_value",
            [count, organization_id, category],
        )
        row = cursor.fetchone()
        assert row is not None
        first = int(row[0]) - count + 1
        now = timezone.now()
        for start in range(first, first + count, 10_000):
            batch = [
                AuditEvent(
                    organization_id=organization_id,
                    category=category,
                    sequence=s,
                    occurred_at=now - timedelta(milliseconds=first + count - s),
                    action=f"{category}.update",
                    outcome="success",
                    actor_user_id=None,
                    actor_label=f"annotator{s % 50}@lab.test",
                    actor_token_prefix=f"ak_{s % 97:06d}",
                    ip=f"192.0.2.{s % 250}",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64)",
                    request_id=hashlib.md5(str(s).encode()).hexdigest(),  # noqa: S324 - filler, not security
                    target_type="projects.task",
                    target_id=hashlib.md5(f"t{s}".encode()).hexdigest(),  # noqa: S324 - filler, not security
                    changes={"state": ["queued", "active"]},
                    metadata={"project": f"p{s % 7}", "lease": s},
                )
                for s in range(start, min(start + 10_000, first + count))
            ]
            columns: list[list[Any]] = [
                [e.sequence for e in batch],
                [e.occurred_at for e in batch],
                [e.actor_label for e in batch],
                [e.actor_token_prefix for e in batch],
                [e.ip for e in batch],
                [e.request_id for e in batch],
                [e.target_id for e in batch],
                [json.dumps(e.changes) for e in batch],
                [json.dumps(e.metadata) for e in batch],
                [event_mac_for(e) for e in batch],
            ]
            cursor.execute(
                f"INSERT INTO {events} (organization_id, sequence, occurred_at, action, category, outcome, "  # noqa: S608
                "actor_user_id, actor_label, actor_token_prefix, ip, user_agent, request_id, target_type, target_id, "
                "changes, metadata, mac) "
                "SELECT %s, s, t, %s, %s, 'success', NULL, label, prefix, ip, 'Mozilla/5.0 (X11; Linux x86_64)', "
                "request, 'projects.task', target, changes, metadata, mac "
                "FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[], %s::text[], %s::inet[], %s::text[], "
                "%s::text[], %s::jsonb[], %s::jsonb[], %s::text[]) "
                "AS e(s, t, label, prefix, ip, request, target, changes, metadata, mac)",
                [organization_id, f"{category}.update", category, *columns],
            )


def setup_django(database: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
    os.environ["DATABASE_URL"] = f"{base.rstrip('/')}/{database}"
    import django

    django.setup()


def run(events: int) -> dict[str, Any]:
    from django.db import transaction

    from audit.services.sealing import audit_seal
    from audit.services.verification import audit_verify
    from core.context import organization_context
    from tenancy.models import Organization

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    # Platform scope: the organization registry is not tenant-owned.
    organization = Organization.objects.create(name="Bench audit", slug=slug)
    started = time.perf_counter()
    with organization_context(organization.pk):
        create_events(organization.pk, events)
    created = time.perf_counter() - started
    started = time.perf_counter()
    with organization_context(organization.pk):
        sealed = audit_seal()
    seal_s = time.perf_counter() - started
    assert sealed.events == events, sealed
    started = time.perf_counter()
    with organization_context(organization.pk), transaction.atomic():
        report = audit_verify()
    verify_s = time.perf_counter() - started
    assert report.ok, report.problems[:1]
    assert report.events_checked == events, report
    return {
        "created": created,
        "seal": seal_s,
        "checkpoints": sealed.checkpoints,
        "verify": verify_s,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    from bench.bulk_tasks import become_app_role, prepare_database

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--database", default="annotate_bench")
    args = parser.parse_args(argv)
    setup_django(args.database)
    prepare_database(args.database)
    become_app_role()
    result = run(args.events)
    print(f"\naudit seal and verify, {args.events} events in one category of one organization ({os.cpu_count()} cores)")
    print(f"{'step':>8} | {'seconds':>9} | {'events/s':>10} | {'target events/s':>15} | {'ratio':>6}")
    print("-" * 61)
    for step in ("seal", "verify"):
        rate = args.events / result[step]
        print(
            f"{step:>8} | {result[step]:>9.3f} | {rate:>10.0f} | {TARGET_EVENTS_PER_S:>15.0f} | "
            f"{rate / TARGET_EVENTS_PER_S:>5.1f}x"
        )
    print("-" * 61)
    print(
        f"{result['checkpoints']} checkpoints; events written in {result['created']:.3f} s (not timed above); "
        f"peak RSS {result['rss_mb']:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
