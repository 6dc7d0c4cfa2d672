"""AuditSubject: what each event names, written with it, append-only, and what `target:` searches read."""

# ruff: noqa: S608 - the SQL built with f-strings only interpolates our own table names

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import ProgrammingError, connection, transaction
from django.db.utils import InternalError

from audit.models import AuditEvent, AuditSubject
from audit.selectors.events import EventPosition, audit_event_page
from audit.selectors.query import AuditQuery, parse_search
from audit.services.recording import subject_ids
from core.audit.record import audit_record
from core.context import organization_context
from tests.isolation.routes import as_table_owner

APP_ROLE = settings.DATABASE_APP_ROLE
TABLE = AuditSubject._meta.db_table
MIGRATION = importlib.import_module("audit.migrations.0005_subjects_and_time_ordered_indexes")


def subjects() -> list[tuple[str, int]]:
    return list(AuditSubject.objects.order_by("event_id", "id").values_list("subject_id", "event_id"))


def task_list(project: str, *task_ids: Any) -> AuditEvent:
    return audit_record(
        action="data_access.task_list",
        target_type="projects.project",
        target_id=project,
        metadata={"count": len(task_ids), "task_ids": list(task_ids)},
    )


# --- written with the event ---


def test_an_event_names_its_target_and_every_task_its_list_served_once_each(tenant):
    viewed = audit_record(action="data_access.task_view", target_type="projects.task", target_id="t-1")
    listed = task_list("p-1", "t-1", "t-2", "t-1")
    untargeted = audit_record(action="auth.login_failed", outcome="denied", metadata={"reason": "password"})

    assert subjects() == [("t-1", viewed.pk), ("p-1", listed.pk), ("t-1", listed.pk), ("t-2", listed.pk)]
    assert untargeted.pk not in {event_id for _, event_id in subjects()}
    # Each row carries its event's own time, to the microsecond.
    times = dict(AuditEvent.objects.values_list("id", "occurred_at"))
    assert {(row.event_id, row.occurred_at) for row in AuditSubject.objects.all()} == {
        (viewed.pk, times[viewed.pk]),
        (listed.pk, times[listed.pk]),
    }


def test_ids_that_no_search_could_name_are_left_out():
    event = AuditEvent(target_id="p-1", metadata={"task_ids": ["t-1", "", "x" * 65, None, {"id": 1}, 7]})

    assert subject_ids(event) == ["p-1", "t-1"]
    assert subject_ids(AuditEvent(target_id="", metadata={"task_ids": "t-1"})) == []


def test_a_subject_row_for_another_organization_is_never_visible(tenant, other_tenant):
    task_list("p-1", "t-1")

    with organization_context(other_tenant.pk):
        assert AuditSubject.objects.count() == 0
        assert audit_event_page(parse_search("target:t-1")).events == []
    assert AuditSubject.objects.count() == 2


# --- append-only in the database ---


def refused(sql: str, params: Any = None) -> Exception:
    with pytest.raises((ProgrammingError, InternalError)) as caught, transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)
    return caught.value


def test_app_role_may_only_add_and_read_subject_rows(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p, has_table_privilege(current_user, %s, p) FROM unnest(%s::text[]) AS p",
            [TABLE, ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]],
        )
        granted = sorted(p for p, ok in cursor.fetchall() if ok)
    assert granted == ["INSERT", "SELECT"]


def test_table_owner_is_refused_update_delete_and_truncate_of_subject_rows(tenant):
    task_list("p-1", "t-1")
    before = subjects()
    with as_table_owner():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for sql, operation in (
            (f"UPDATE {TABLE} SET subject_id = 'forged' WHERE organization_id = %s", "UPDATE"),
            (f"DELETE FROM {TABLE} WHERE organization_id = %s", "DELETE"),
            (f"TRUNCATE {TABLE}", "TRUNCATE"),
        ):
            error = refused(sql, [tenant.pk] if "%s" in sql else None)
            assert error.__cause__.sqlstate == "42501"
            assert f"{TABLE} is append-only: {operation} refused" in str(error)
    assert subjects() == before


# --- what `target:` reads ---


def test_who_saw_a_task_pages_through_the_subject_rows_in_the_list_order(tenant, monkeypatch):
    field = AuditEvent._meta.get_field("occurred_at")
    noon = datetime(2026, 11, 5, 12, tzinfo=UTC)
    expected: list[int] = []
    for hours in (3, 1, 2, 2, 0):
        monkeypatch.setattr(field, "_get_default", lambda hours=hours: noon + timedelta(hours=hours))
        expected.append(task_list("p-1", "t-1", "t-9").pk)
        audit_record(action="data_access.task_view", target_type="projects.task", target_id="t-other")
    newest_first = sorted(expected, key=lambda pk: (AuditEvent.objects.get(pk=pk).occurred_at, pk), reverse=True)

    walked: list[int] = []
    page = audit_event_page(parse_search("target:t-1"), limit=2)
    walked += [e.pk for e in page.events]
    while page.next_before is not None:
        page = audit_event_page(parse_search("target:t-1"), before=page.next_before, limit=2)
        walked += [e.pk for e in page.events]
    window = audit_event_page(parse_search("target:t-1 created:2026-11-05T14:00:00Z..2026-11-05T14:00:00Z"))

    assert walked == newest_first
    assert [e.pk for e in window.events] == [expected[3], expected[2]]
    assert audit_event_page(AuditQuery(target_id="t-1"), before=EventPosition(noon, 0)).events == []


def test_a_typed_target_keeps_its_own_events_and_the_lists_that_named_it(tenant):
    viewed = audit_record(action="data_access.task_view", target_type="projects.task", target_id="t-1")
    listed = task_list("p-1", "t-1")
    audit_record(action="member.update", target_type="tenancy.membership", target_id="t-1")

    found = audit_event_page(parse_search("target:projects.task:t-1")).events
    on_the_project = audit_event_page(parse_search("target:projects.project:p-1")).events

    assert [e.pk for e in found] == [listed.pk, viewed.pk]
    assert [e.pk for e in on_the_project] == [listed.pk]


# --- filled from the events already recorded ---


def test_the_migration_fills_the_subjects_of_events_recorded_before_it(tenant):
    task_list("p-1", "t-1", "t-2", "t-1")
    audit_record(action="data_access.task_view", target_type="projects.task", target_id="t-1")
    audit_record(action="data_access.task_list", target_id="p-2", metadata={"task_ids": {"not": "a list"}})
    task_list("p-3", 42, "t-3", "x" * 65)
    recorded = sorted(AuditSubject.objects.values_list("subject_id", "occurred_at", "event_id"))
    with as_table_owner(), connection.cursor() as cursor:
        # As before the migration: no subject rows (the append-only triggers are off in replica mode).
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(f"DELETE FROM {TABLE} WHERE organization_id = %s", [tenant.pk])
        cursor.execute("SET session_replication_role = origin")
        cursor.execute(MIGRATION.BACKFILL, [tenant.pk, tenant.pk])

    assert sorted(AuditSubject.objects.values_list("subject_id", "occurred_at", "event_id")) == recorded
