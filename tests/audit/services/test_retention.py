"""Retention removes whole sealed ranges past their category's retention, as the owner only, and the rest verifies."""

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import ProgrammingError, connection, transaction

from audit.models import AuditCheckpoint, AuditEvent, AuditSeal, AuditSubject
from audit.services.retention import Expired, audit_expire, retention_days, retention_for
from audit.services.sealing import audit_seal
from audit.services.verification import audit_verify
from core.audit.record import audit_record
from tests.audit.tamper import remac
from tests.isolation.routes import as_table_owner

APP_ROLE = settings.DATABASE_APP_ROLE


def _record(action: str, count: int) -> None:
    for index in range(count):
        audit_record(action=action, metadata={"index": index})


def _backdate(organization_id: int, category: str, sequences: list[int], days: int) -> None:
    """Age events as the owner with the append-only triggers off (replica mode), before they are sealed, and give
    them the MACs their new time calls for."""
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE audit_auditevent SET occurred_at = now() - make_interval(days => %s) "
            "WHERE organization_id = %s AND category = %s AND sequence = ANY(%s)",
            [days, organization_id, category, sequences],
        )
        cursor.execute("SET session_replication_role = origin")
        cursor.execute(f"SET ROLE {connection.ops.quote_name(APP_ROLE)}")
    # As if recorded back then: with the MACs the platform would have made (a rewritten event without one is a
    # forgery, which the sealer refuses).
    remac(organization_id, category, sequences)


def _sequences(model: Any, category: str) -> list[int]:
    return list(model.objects.filter(category=category).order_by("sequence").values_list("sequence", flat=True))


@pytest.fixture
def aged_trail(tenant, settings):
    """data_access: 1..5 old and sealed (checkpoint 1), 6..8 old + 9 new (checkpoint 2), 10 old and unsealed.
    project: 1..2 old and sealed, with no retention of its own and no default."""
    settings.AUDIT_RETENTION_DAYS = {"data_access": "365"}
    _record("data_access.task_view", 5)
    _record("project.update", 2)
    _backdate(tenant.pk, "data_access", [1, 2, 3, 4, 5], 400)
    _backdate(tenant.pk, "project", [1, 2], 4000)
    assert audit_seal().checkpoints == 2
    _record("data_access.task_view", 4)
    _backdate(tenant.pk, "data_access", [6, 7, 8], 400)
    assert audit_seal().checkpoints == 1
    _record("data_access.task_view", 1)
    _backdate(tenant.pk, "data_access", [10], 400)
    return tenant


def test_expiry_drops_only_whole_old_sealed_ranges_and_the_trail_still_verifies(aged_trail):
    with as_table_owner():
        results = audit_expire()

    assert results == [Expired(category="data_access", through_sequence=5, events=5)]
    assert _sequences(AuditEvent, "data_access") == [6, 7, 8, 9, 10]
    assert _sequences(AuditSeal, "data_access") == [6, 7, 8, 9]
    assert list(
        AuditCheckpoint.objects.filter(category="data_access")
        .values_list("first_sequence", "last_sequence")
        .order_by("first_sequence")
    ) == [(1, 5), (6, 9)]
    assert _sequences(AuditEvent, "project") == [1, 2]
    expiry = AuditEvent.objects.get(action="audit.expire")
    assert (expiry.category, expiry.target_id, expiry.metadata) == (
        "audit",
        "data_access",
        {"category": "data_access", "through_sequence": 5, "events": 5},
    )
    assert expiry.actor_label == ""
    report = audit_verify()
    assert report.ok, report.problems
    # data_access 6..9 and project 1..2 are checked against their seals; data_access #10 and the expiry event wait.
    assert (report.events_checked, report.unsealed_events) == (6, 2)
    assert audit_seal().events == 2
    report = audit_verify()
    assert report.ok, report.problems
    assert (report.events_checked, report.unsealed_events) == (8, 0)  # data_access 6..10, project 1..2, audit 1


def test_expiry_removes_the_subject_rows_of_the_expired_events_and_no_others(tenant, settings):
    settings.AUDIT_RETENTION_DAYS = {"data_access": "365"}
    listed = audit_record(
        action="data_access.task_list", target_type="projects.project", target_id="p-1", metadata={"task_ids": ["t-1"]}
    )
    audit_record(action="data_access.task_view", target_type="projects.task", target_id="t-1")
    _backdate(tenant.pk, "data_access", [1, 2], 400)
    audit_seal()
    kept = audit_record(action="data_access.task_view", target_type="projects.task", target_id="t-1")
    on_the_project = audit_record(action="project.update", target_type="projects.project", target_id="p-1")

    with as_table_owner():
        assert audit_expire() == [Expired(category="data_access", through_sequence=2, events=2)]

    assert sorted(AuditSubject.objects.values_list("subject_id", "event_id")) == [
        ("data_access", AuditEvent.objects.get(action="audit.expire").pk),
        ("p-1", on_the_project.pk),
        ("t-1", kept.pk),
    ]
    assert listed.pk not in set(AuditEvent.objects.values_list("id", flat=True))


def test_expiry_is_idempotent_and_waits_for_the_whole_range(aged_trail):
    with as_table_owner():
        assert [r.through_sequence for r in audit_expire()] == [5]
        assert audit_expire() == []
    assert _sequences(AuditEvent, "data_access") == [6, 7, 8, 9, 10]


def test_an_unsealed_old_event_is_never_deleted(tenant, settings):
    settings.AUDIT_RETENTION_DAYS = {"default": "30"}
    _record("project.update", 3)
    _backdate(tenant.pk, "project", [1, 2, 3], 90)
    with as_table_owner():
        assert audit_expire() == []
    assert _sequences(AuditEvent, "project") == [1, 2, 3]


def test_default_retention_applies_to_unlisted_categories_but_never_to_the_audit_category(tenant, settings):
    settings.AUDIT_RETENTION_DAYS = {"default": "30", "member": "0"}
    _record("project.update", 2)
    _record("member.add", 2)
    _record("audit.stream_configure", 1)
    for category, count in (("project", 2), ("member", 2), ("audit", 1)):
        _backdate(tenant.pk, category, list(range(1, count + 1)), 90)
    audit_seal()
    with as_table_owner():
        assert audit_expire() == [Expired(category="project", through_sequence=2, events=2)]
    assert _sequences(AuditEvent, "member") == [1, 2]
    assert _sequences(AuditEvent, "audit") == [1, 2]  # the old event, and the expiry record
    assert audit_verify().ok


def test_the_app_role_cannot_delete_events_at_all(aged_trail):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() == (APP_ROLE,)
    with pytest.raises(ProgrammingError, match="permission denied for table audit_auditevent"), transaction.atomic():
        audit_expire()
    assert _sequences(AuditEvent, "data_access") == list(range(1, 11))


def test_the_owner_cannot_delete_without_the_expiry_flag(aged_trail):
    refused = pytest.raises(ProgrammingError, match="audit_auditevent is append-only: DELETE refused")
    with refused, as_table_owner(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE category = 'data_access' AND sequence = 1")
    assert _sequences(AuditEvent, "data_access") == list(range(1, 11))


def test_command_refuses_the_app_role(aged_trail):
    with pytest.raises(CommandError, match="must run as the database owner"):
        call_command("audit_expire")
    assert _sequences(AuditEvent, "data_access") == list(range(1, 11))


def test_command_expires_as_the_owner_and_dry_run_changes_nothing(aged_trail):
    out = StringIO()
    with as_table_owner():
        call_command("audit_expire", "--dry-run", "--organization", aged_trail.slug, stdout=out)
        assert _sequences(AuditEvent, "data_access") == list(range(1, 11))
        call_command("audit_expire", "--organization", aged_trail.slug, stdout=out)
    assert out.getvalue().splitlines() == [
        f"{aged_trail.slug}: would expire data_access through #5 (5 events)",
        f"{aged_trail.slug}: expired data_access through #5 (5 events)",
    ]
    assert _sequences(AuditEvent, "data_access") == [6, 7, 8, 9, 10]
    assert AuditEvent.objects.get(action="audit.expire").actor_label == "operator:audit_expire"


def test_retention_setting_is_parsed_and_validated(settings):
    settings.AUDIT_RETENTION_DAYS = {"data_access": "365", "default": "2555"}
    assert retention_days() == {"data_access": 365, "default": 2555}
    assert (retention_for("data_access"), retention_for("project")) == (365, 2555)
    settings.AUDIT_RETENTION_DAYS = {}
    assert retention_for("project") == 0
    settings.AUDIT_RETENTION_DAYS = {"data_access": "a year"}
    with pytest.raises(ImproperlyConfigured, match="data_access='a year' is not a number of days"):
        retention_days()
    settings.AUDIT_RETENTION_DAYS = {"data_access": "-1"}
    with pytest.raises(ImproperlyConfigured, match="must be 0"):
        retention_days()


def test_a_retention_for_a_category_that_does_not_exist_is_refused_naming_the_closest(settings):
    settings.AUDIT_RETENTION_DAYS = {"data_acess": "365", "default": "2555"}

    with pytest.raises(ImproperlyConfigured) as refused:
        retention_days()

    assert str(refused.value) == (
        "AUDIT_RETENTION_DAYS: 'data_acess' is not an audit category (docs/audit.md lists them); "
        "did you mean 'data_access'?"
    )


def test_cutoff_is_measured_from_now(aged_trail):
    # Events 400 days old, a 365-day retention: 40 days earlier none of them had expired yet.
    from django.utils import timezone

    with as_table_owner():
        assert audit_expire(now=timezone.now() - timedelta(days=40)) == []
