"""A short run of the audit-overhead benchmark, so that `make bench` cannot rot unnoticed."""

import re

import pytest

from tests.bench.runner import run_bench


@pytest.mark.slow
def test_audit_overhead_benchmark_runs_and_prints_its_table():
    result = run_bench("audit_overhead", "--rounds", "1", "--bulk-size", "200", "--updates", "10")
    rows = [line for line in result.stdout.splitlines() if re.match(r"^(bulk create|project update) ", line)]
    assert len(rows) == 2, result.stdout
    assert re.search(r"worst overhead -?[\d.]+% \((within|ABOVE) the 10% target\)", result.stdout)


def test_the_switch_turns_recording_off_only_inside_its_block(tenant):
    from audit.models import AuditEvent
    from core.audit.record import audit_record, audit_recording_disabled_for_benchmark

    with audit_recording_disabled_for_benchmark():
        audit_record(action="project.update")
    audit_record(action="project.update")

    assert list(AuditEvent.objects.values_list("action", "sequence")) == [("project.update", 1)]
