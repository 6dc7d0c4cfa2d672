"""A short run of the data browser benchmark, so that it cannot rot unnoticed."""

import re

import pytest

from tests.bench.runner import run_bench

VIEWS = (
    "first page",
    "a page halfway (keyset)",
    "newest first",
    "external id, Z to A",
    "priority order",
    "rejected",
    "disputed",
    "skipped",
    "one annotator",
    "complete",
    "agreement below 0.5",
    "search a rare word",
    "search a common word",
    "label value",
    "one task, whole",
)


@pytest.mark.slow
def test_task_browser_benchmark_runs_and_prints_its_table():
    result = run_bench("task_browser", "--tasks", "20000", "--repeat", "1")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("data browser at 20,000 tasks"), result.stdout
    rows = {m["view"]: int(m["rows"]) for m in map(_row, lines) if m}
    # The fixture's rare sets, exactly: 1 rejected in 2,000 tasks, 1 disputed in 1,000, 1 skipped in 5,000, one
    # task in 10,000 with the rare word; the other views fill their page.
    assert rows == {
        **dict.fromkeys(VIEWS, 50),
        "rejected": 10,
        "disputed": 20,
        "skipped": 4,
        "agreement below 0.5": 20,
        "search a rare word": 2,
        "one task, whole": 1,
    }
    assert re.search(r"^slowest view: .+ at [\d.]+ ms, (NOT )?within the 500 ms target$", result.stdout, re.M)


def _row(line: str) -> dict[str, str] | None:
    match = re.match(r"^(?P<view>[a-z].*?)\s+\|\s+[\d.]+ \|\s+[\d.]+ \|\s+(?P<rows>\d+)$", line)
    return match.groupdict() if match else None
