"""A short run of the export benchmark, so that it cannot rot unnoticed."""

import re

import pytest

from tests.bench.runner import run_bench


@pytest.mark.slow
def test_exports_benchmark_runs_and_prints_its_table():
    result = run_bench("exports", "--rows", "300", "--rows", "500", "--repeat", "2")
    lines = result.stdout.splitlines()
    assert any(line.startswith("export of 300, 500 annotated tasks") for line in lines), result.stdout
    runs = [line for line in lines if re.match(r"^\s+(COPY|jsonl|csv) \|\s+\d+ \|", line)]
    assert [re.split(r"\s*\|\s*", line.strip())[:2] for line in runs] == [
        [name, size] for size in ("300", "500") for name in ("COPY", "jsonl", "csv")
    ]
    # COPY is the reference of its own size: its ratio is 1.
    assert all(re.search(r"\|\s+1\.00 \|", line) for line in runs if line.strip().startswith("COPY")), runs
    for size in ("300", "500"):
        assert re.search(rf"^jsonl at {size} rows: [\d.]+x COPY, (NOT )?within the 2x target$", result.stdout, re.M)
    for name in ("COPY", "jsonl", "csv"):
        assert re.search(rf"^{name} scaling 300 -> 500 rows: rows/s [\d.]+ of the smaller size's", result.stdout, re.M)
    assert re.search(r"^load average \(1, 5, 15 min\) at the end: ", result.stdout, re.M)
