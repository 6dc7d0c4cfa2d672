"""A short run of the audit search benchmark, so that `make bench` cannot rot unnoticed."""

import re

import pytest

from tests.bench.runner import run_bench


@pytest.mark.slow
def test_audit_list_benchmark_runs_and_prints_its_table():
    result = run_bench("audit_list", "--events", "20000", "--repeat", "3")
    lines = result.stdout.splitlines()
    assert any(line.startswith("audit search, 20,000 events in one organization") for line in lines), result.stdout
    rows = [line for line in lines if re.match(r"^\S.* \| +\d+ \| +[\d.]+ \| +[\d.]+ \| +(ok|SLOW)$", line)]
    assert [row.split("|")[0].strip() for row in rows] == [
        "none, first page",
        "none, deep cursor (middle)",
        "category:data_access",
        "category:data_access, deep",
        "action:project.update",
        "action:export.*",
        "actor:actor3@bench.local",
        "actor + category, deep",
        "outcome:denied",
        "target:<task> (who saw it)",
        "target:<project>, deep",
        "project:<uuid>",
        "created: last hour",
        "created: a day, mid-trail",
    ]
    # Every filter but "who saw it" (one task's few readers) fills a page of 100.
    partial = [row.split("|")[0].strip() for row in rows if int(row.split("|")[1]) != 100]
    assert partial == ["target:<task> (who saw it)"]
    assert re.search(r"worst p95 [\d.]+ ms; target 100 ms", result.stdout)
