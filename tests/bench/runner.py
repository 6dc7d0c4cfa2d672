"""Runs a benchmark the way `make bench` does, at a small size, in a throwaway database of its own."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bench.<module> <args>`; fails the test unless it exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args, "--database", f"annotate_bench_{module}_smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result
