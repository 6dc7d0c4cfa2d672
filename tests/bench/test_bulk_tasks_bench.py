"""A short run of the bulk-create benchmark, so that `make bench` cannot rot unnoticed."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bulk_tasks_benchmark_runs_and_prints_its_table():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bulk_tasks",
            "--tasks",
            "300",
            "--repeat",
            "2",
            "--database",
            "annotate_bench_smoke",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert any(line.startswith("bulk task create, 300 tasks") for line in lines), result.stdout
    runs = [line for line in lines if re.match(r"^\s+\d+ \|", line)]
    assert len(runs) == 2
    assert re.search(r"median [\d.]+ s = \d+ tasks/s; anchor 2900 tasks/s", result.stdout)
