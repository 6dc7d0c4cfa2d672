"""A short run of the audit sealing benchmark, so that `make bench` cannot rot unnoticed."""

import re

import pytest

from tests.bench.runner import run_bench


@pytest.mark.slow
def test_audit_seal_benchmark_runs_and_prints_its_table():
    result = run_bench("audit_seal", "--events", "2000")
    lines = result.stdout.splitlines()
    assert any(line.startswith("audit seal and verify, 2000 events") for line in lines), result.stdout
    steps = [line.split("|")[0].strip() for line in lines if re.match(r"^\s+(seal|verify) \|", line)]
    assert steps == ["seal", "verify"]
    assert re.search(r"^\s+seal \|\s+[\d.]+ \|\s+\d+ \|\s+5000 \|\s+[\d.]+x$", result.stdout, re.MULTILINE)
    assert re.search(r"^1 checkpoints; events written in", result.stdout, re.MULTILINE)
