"""A short run of the import benchmark (a real worker, the COPY reference, every step of the full run), so it
cannot rot unnoticed."""

import re

import pytest

from tests.bench.runner import run_bench


@pytest.mark.slow
def test_imports_benchmark_runs_and_prints_its_table():
    result = run_bench("imports", "--tasks", "300", "--tasks", "500", "--formats", "jsonl")

    lines = result.stdout.splitlines()
    assert any(line.startswith("import through the API + one celery worker") for line in lines), result.stdout
    assert re.search(r"load average mean \d+\.\d\d, max \d+\.\d\d\)", result.stdout), result.stdout
    rows = [line for line in lines if re.match(r"^\s+jsonl \|", line)]
    assert [row.split("|")[1].strip() for row in rows] == ["300", "500"], result.stdout
    for row in rows:
        cells = [cell.strip() for cell in row.split("|")]
        assert float(cells[3]) > 0, row  # wall seconds
        assert float(cells[5]) > 0, row  # the COPY reference's seconds
        assert cells[6].endswith("x"), row  # the ratio to COPY
        assert cells[7].endswith("x"), row  # the ratio to the anchor
        assert 0 < float(cells[11]) < 1000, row  # the worker's peak resident memory, MB
    assert re.search(r"anchor: Label Studio, 100000 tasks in one JSON request: 34.7 s = 2900 tasks/s", result.stdout)
