"""A short run of the routing benchmark (gunicorn, a load process, next → submit), so `make bench` cannot rot."""

import re

import pytest

from tests.bench.runner import run_bench


@pytest.mark.slow
def test_routing_benchmark_runs_without_errors_and_prints_its_table():
    result = run_bench("routing", "--quick")
    lines = result.stdout.splitlines()
    assert any(line.startswith("routing next → submit over HTTP, gunicorn gthread 1 workers") for line in lines)
    rows = [line.split("|") for line in lines if re.match(r"^\s+2000 \|\s+1 \|\s+5 \|", line)]
    assert len(rows) == 1, result.stdout
    annotations, errors = int(rows[0][4]), int(rows[0][12])
    # Not timing: only that annotators got work, submitted it, and nothing failed or disagreed with the database.
    assert annotations > 0
    assert errors == 0, result.stdout
    assert re.search(r"^\s+2000 tasks, overlap 1: gunicorn [\d.]+, postgres [\d.]+, load process", result.stdout, re.M)
    assert re.search(r"next \d+ queries, submit \d+", result.stdout)
