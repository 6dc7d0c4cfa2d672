"""Benchmark: what audit recording costs on the write path, recording on vs. off (a benchmark-only switch).

Two write paths, each run alternately with recording on and off so that machine noise hits both alike:
bulk task creation (one event per request of many rows) and single-row project updates (one event per request,
the shape of every small write such as a submit). Prints a table with the overhead against the 10% target.

    python -m bench.audit_overhead --rounds 5
"""

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bench.bulk_tasks import TEXT, become_app_role, make_client, prepare_database, setup_django

TARGET_OVERHEAD = 0.10


def _timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def scenarios(client: Any, bulk_size: int, updates: int) -> dict[str, Callable[[], None]]:
    counter = {"n": 0}

    def bulk() -> None:
        counter["n"] += 1
        project = client.post("/api/v1/projects/", {"name": f"bulk {counter['n']}"}, format="json").json()["id"]
        body = json.dumps([{"external_id": f"t{i}", "data": {"text": TEXT}} for i in range(bulk_size)])
        response = client.post(f"/api/v1/projects/{project}/tasks/", body, content_type="application/json")
        assert response.status_code == 201, response.content[:300]

    project = client.post("/api/v1/projects/", {"name": "updates"}, format="json").json()["id"]

    def small_writes() -> None:
        for i in range(updates):
            counter["n"] += 1
            response = client.patch(
                f"/api/v1/projects/{project}", {"description": f"rev {counter['n']} {i}"}, format="json"
            )
            assert response.status_code == 200, response.content[:300]

    return {f"bulk create ({bulk_size} tasks/request)": bulk, f"project update ({updates} requests)": small_writes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bulk-size", type=int, default=5000)
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--database", default="annotate_bench_audit")
    args = parser.parse_args(argv)
    setup_django(args.database)
    prepare_database(args.database)
    become_app_role()
    from core.audit.record import audit_recording_disabled_for_benchmark

    client, _ = make_client()
    results: dict[str, dict[str, list[float]]] = {}
    for name, action in scenarios(client, args.bulk_size, args.updates).items():
        action()  # warm up caches and connections once
        on: list[float] = []
        off: list[float] = []
        for _ in range(args.rounds):
            on.append(_timed(action))
            with audit_recording_disabled_for_benchmark():
                off.append(_timed(action))
        results[name] = {"on": on, "off": off}
    print(f"\naudit overhead on the write path, {args.rounds} alternating rounds, median seconds")
    print(f"{'path':<34} | {'recording on':>12} | {'off':>8} | {'overhead':>8} | {'target':>7}")
    print("-" * 82)
    worst = 0.0
    for name, runs in results.items():
        on_median, off_median = statistics.median(runs["on"]), statistics.median(runs["off"])
        overhead = on_median / off_median - 1
        worst = max(worst, overhead)
        print(f"{name:<34} | {on_median:>12.3f} | {off_median:>8.3f} | {overhead:>7.1%} | {'≤ 10%':>7}")
    print("-" * 82)
    print(f"worst overhead {worst:.1%} ({'within' if worst <= TARGET_OVERHEAD else 'ABOVE'} the 10% target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
