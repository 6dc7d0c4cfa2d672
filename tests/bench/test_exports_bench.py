"""A short run of the export benchmark, so that it cannot rot unnoticed."""

import re

import pytest

from tests.bench.runner import run_bench


@pytest.mark.slow
def test_exports_benchmark_runs_and_prints_its_table():
    result = run_bench("exports", "--tasks", "500", "--repeat", "2")
    lines = result.stdout.splitlines()
    assert any(line.startswith("export of 500 annotated tasks") for line in lines), result.stdout
    runs = [line for line in lines if re.match(r"^\s+(jsonl|csv) \|\s+\d \|", line)]
    assert len(runs) == 4
    assert all(re.search(r"\|\s+500 \|", line) for line in runs), runs
    for export_format in ("jsonl", "csv"):
        assert re.search(
            rf"{export_format}: median [\d.]+ s = \d+ rows/s; anchor: Label Studio unfinished after 120 s, so this is "
            r"at least \d+x faster",
            result.stdout,
        )
