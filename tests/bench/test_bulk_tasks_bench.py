"""A short run of the bulk-create benchmark, so that `make bench` cannot rot unnoticed."""

import re

import pytest

from tests.bench.runner import run_bench


@pytest.mark.slow
def test_bulk_tasks_benchmark_runs_and_prints_its_table():
    result = run_bench("bulk_tasks", "--tasks", "300", "--repeat", "2")
    lines = result.stdout.splitlines()
    assert any(line.startswith("bulk task create, 300 tasks") for line in lines), result.stdout
    runs = [line for line in lines if re.match(r"^\s+\d+ \|", line)]
    assert len(runs) == 2
    assert re.search(r"median [\d.]+ s = \d+ tasks/s; anchor 2900 tasks/s", result.stdout)
