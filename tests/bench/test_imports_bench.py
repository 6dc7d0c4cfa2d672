"""A short run of the import benchmark (a real worker, every step of the full run), so it cannot rot unnoticed."""

import re

import pytest

from tests.bench.runner import run_bench


@pytest.mark.slow
def test_imports_benchmark_runs_and_prints_its_table():
    result = run_bench("imports", "--tasks", "300", "--formats", "jsonl")

    lines = result.stdout.splitlines()
    assert any(line.startswith("import, 300 tasks of 196 chars per file") for line in lines), result.stdout
    [row] = [line for line in lines if re.match(r"^\s+jsonl \|", line)]
    cells = [cell.strip() for cell in row.split("|")]
    assert cells[0] == "jsonl", row
    assert float(cells[2]) > 0, row  # wall seconds
    assert cells[4].endswith("x"), row  # the ratio to the anchor
    assert re.search(r"anchor: Label Studio, 100000 tasks in one JSON request: 34.7 s = 2900 tasks/s", result.stdout)
