"""An event forged in the database before it is sealed: the sealer never seals it (it stops there and raises an
integrity alert), every verifier names it, with or without the counter raised to match, and the organization's
next writes still succeed. Events written before MACs existed keep verifying."""

# ruff: noqa: S608 - the SQL built with f-strings only interpolates our own table names

import importlib
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from audit.macs import mac_since_mac
from audit.models import AuditCheckpoint, AuditEvent, AuditSequence
from audit.services import integrity
from audit.services.sealing import audit_seal
from core.audit.context import ActorContext, actor_context
from core.audit.record import audit_record
from core.context import organization_context
from tenancy.models import Role
from tests.audit.tamper import as_owner_without_triggers
from tests.audit.test_tamper import _assert_named, _problem, _trail
from tests.factories import ProjectFactory

EVENTS = AuditEvent._meta.db_table
COUNTERS = AuditSequence._meta.db_table
ALERT = "audit.integrity_alert"
NOT_THE_PLATFORMS = "does not carry the platform's MAC: it was written or changed outside the platform."


def _forge(cursor: Any, organization_id: int, *, sequence: int, source: int = 7, with_mac: bool = False) -> None:
    """A project event at `sequence`, copied from event `source` with other metadata (`with_mac`: an exact copy,
    MAC included, of a genuine event instead)."""
    metadata = "metadata" if with_mac else '\'{"i": "forged"}\'::jsonb'
    mac = "mac" if with_mac else "''"
    cursor.execute(
        f"INSERT INTO {EVENTS} (organization_id, sequence, occurred_at, action, category, outcome, actor_user_id, "
        "actor_label, actor_token_prefix, ip, user_agent, request_id, target_type, target_id, changes, metadata, mac) "
        "SELECT organization_id, %s, occurred_at, action, category, outcome, actor_user_id, actor_label, "
        f"actor_token_prefix, ip, user_agent, request_id, target_type, target_id, changes, {metadata}, {mac} "
        f"FROM {EVENTS} WHERE organization_id = %s AND category = 'project' AND sequence = %s",
        [sequence, organization_id, source],
    )


def _set_counter(cursor: Any, organization_id: int, category: str, **values: int) -> None:
    assignments = ", ".join(f"{column} = %s" for column in values)
    cursor.execute(
        f"UPDATE {COUNTERS} SET {assignments} WHERE organization_id = %s AND category = %s",
        [*values.values(), organization_id, category],
    )


def _project_checkpoints() -> list[tuple[int, int]]:
    return list(
        AuditCheckpoint.objects.filter(category="project")
        .order_by("first_sequence")
        .values_list("first_sequence", "last_sequence")
    )


def _alerts() -> list[tuple[str, str, str, dict[str, Any]]]:
    return list(
        AuditEvent.objects.filter(action=ALERT)
        .order_by("sequence")
        .values_list("outcome", "target_type", "target_id", "metadata")
    )


def _logged(caplog: Any, event: str) -> list[tuple[str, int, str]]:
    return [(r.category, r.sequence, getattr(r, "kind", "")) for r in caplog.records if r.msg == event]


def test_an_event_forged_at_the_next_number_is_never_sealed(tenant, api_as, caplog):
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        _forge(cursor, tenant.pk, sequence=8)

    with caplog.at_level(logging.ERROR, logger="audit.services.integrity"):
        audit_seal()
        audit_seal()

    # Sealed up to the forgery and no further, once alerted on the trail, and logged at every run.
    assert _project_checkpoints() == [(1, 5), (6, 7)]
    message = "Event project #8 was never issued by the sequence counter."
    assert _alerts() == [
        (
            "failure",
            "audit.event",
            "project:8",
            {"category": "project", "sequence": 8, "kind": "inserted", "problem": message, "detected_by": "sealer"},
        )
    ]
    assert _logged(caplog, ALERT) == [("project", 8, "inserted"), ("project", 8, "inserted")]
    _assert_named(tenant, api_as, _problem("project", "inserted", 8, message))


def test_an_event_forged_with_the_counter_raised_has_no_mac_and_is_never_sealed(tenant, api_as):
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        _forge(cursor, tenant.pk, sequence=8)
        _set_counter(cursor, tenant.pk, "project", last_value=8)

    audit_seal()

    assert _project_checkpoints() == [(1, 5), (6, 7)]
    assert [(target, metadata["kind"]) for _, _, target, metadata in _alerts()] == [("project:8", "forged")]
    _assert_named(tenant, api_as, _problem("project", "forged", 8, f"Event project #8 {NOT_THE_PLATFORMS}"))


@pytest.mark.parametrize("batch", [5000, 2], ids=["one-batch", "batches-of-two"])
@pytest.mark.parametrize("source", [3, 6], ids=["sealed-original", "unsealed-original"])
def test_a_genuine_event_copied_to_a_new_number_is_named_as_a_copy(tenant, api_as, monkeypatch, source, batch):
    # The copy carries a valid MAC (the MAC cannot cover the number): it is its MAC, seen twice, that gives it away,
    # whether the original was read in the copy's batch or looked up among the events numbered before it.
    monkeypatch.setattr(integrity, "_BATCH", batch)
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        _forge(cursor, tenant.pk, sequence=8, source=source, with_mac=True)
        _set_counter(cursor, tenant.pk, "project", last_value=8)

    audit_seal()

    assert _project_checkpoints() == [(1, 5), (6, 7)]
    message = f"Event project #8 is a copy of event project #{source}, made outside the platform."
    _assert_named(tenant, api_as, _problem("project", "forged", 8, message))
    assert AuditEvent.objects.get(category="project", sequence=source).sequence == source  # the original stays


def test_a_forged_row_does_not_turn_the_organizations_next_write_into_an_error(tenant, api_as, caplog):
    _trail(tenant)
    project = ProjectFactory()
    with as_owner_without_triggers() as cursor:
        _forge(cursor, tenant.pk, sequence=8)
    client = api_as(tenant, Role.ADMIN)

    with caplog.at_level(logging.ERROR, logger="audit.services.recording"):
        response = client.patch(f"/api/v1/projects/{project.uuid}", {"description": "after"}, format="json")

    assert response.status_code == 200, response.content
    update = AuditEvent.objects.get(action="project.update", target_id=str(project.uuid))
    assert update.sequence == 9
    assert AuditSequence.objects.get(category="project").last_value == 9
    problem = (
        "Event project #8 was in place before the platform numbered it: it was written outside the platform. "
        "The event being recorded took the next free number."
    )
    assert _alerts() == [
        (
            "failure",
            "audit.event",
            "project:8",
            {"category": "project", "sequence": 8, "kind": "sequence_taken", "problem": problem},
        )
    ]
    assert _logged(caplog, "audit.sequence_taken") == [("project", 8, "")]
    # The forged row stays where it is: issued now, but without the platform's MAC.
    audit_seal()
    assert _project_checkpoints() == [(1, 5), (6, 7)]
    _assert_named(tenant, api_as, _problem("project", "forged", 8, f"Event project #8 {NOT_THE_PLATFORMS}"))


def _upgrade(organization_id: int) -> None:
    """Migration 0007 as it runs on a trail recorded before MACs existed (it sets each tenant itself)."""
    migration = importlib.import_module("audit.migrations.0007_event_macs")
    migration.forward(apps, SimpleNamespace(connection=connection))


@pytest.fixture
def trail_from_before_macs(tenant):
    """project #1..3 and data_access #1 recorded (#1..2 sealed) by a release without MACs, then the upgrade."""
    for i in range(2):
        audit_record(action="project.update", metadata={"i": i})
    assert audit_seal().events == 2
    audit_record(action="project.update", metadata={"i": 2})
    audit_record(action="data_access.task_view")
    with as_owner_without_triggers() as cursor:
        cursor.execute(f"UPDATE {EVENTS} SET mac = '' WHERE organization_id = %s", [tenant.pk])
    _upgrade(tenant.pk)
    with organization_context(tenant.pk):
        yield tenant


def test_events_recorded_before_macs_are_vouched_for_by_mac_since_then_sealed(trail_from_before_macs, api_as):
    tenant = trail_from_before_macs
    counters = dict(AuditSequence.objects.values_list("category", "mac_since"))
    assert counters == {"project": 4, "data_access": 2}
    audit_record(action="project.update", metadata={"i": 3})

    assert audit_seal().events == 3

    assert _project_checkpoints() == [(1, 2), (3, 4)]
    assert AuditEvent.objects.get(category="project", sequence=3).mac == ""
    assert AuditEvent.objects.get(category="project", sequence=4).mac != ""
    assert _alerts() == []
    _assert_named(tenant, api_as, None)


def test_a_raised_mac_since_vouches_for_nothing(trail_from_before_macs, api_as):
    tenant = trail_from_before_macs
    with as_owner_without_triggers() as cursor:
        _forge(cursor, tenant.pk, sequence=4, source=3)
        _set_counter(cursor, tenant.pk, "project", last_value=4, mac_since=5)

    audit_seal()

    # Its own MAC no longer holds, so mac_since says nothing: the genuine #3 too now needs a MAC it never had.
    assert _project_checkpoints() == [(1, 2)]
    _assert_named(tenant, api_as, _problem("project", "forged", 3, f"Event project #3 {NOT_THE_PLATFORMS}"))


def test_a_mac_since_made_with_the_key_vouches_only_below_it(trail_from_before_macs, api_as):
    tenant = trail_from_before_macs
    with as_owner_without_triggers() as cursor:
        _forge(cursor, tenant.pk, sequence=4, source=3)
        _set_counter(cursor, tenant.pk, "project", last_value=4)

    audit_seal()

    assert _project_checkpoints() == [(1, 2), (3, 3)]
    assert AuditSequence.objects.get(category="project").mac_since_mac == mac_since_mac(tenant.pk, "project", 4)
    _assert_named(tenant, api_as, _problem("project", "forged", 4, f"Event project #4 {NOT_THE_PLATFORMS}"))


def test_numbers_and_addresses_read_back_otherwise_than_written_still_match_their_mac(tenant, api_as):
    # jsonb keeps numbers as decimals (1e+16 comes back as an integer, -0.0 as 0.0) and inet has its own text form.
    with actor_context(ActorContext(user_label="alice@lab.example", ip="::ffff:192.0.2.7")):
        audit_record(
            action="project.update",
            changes={"big": 1e16, "huge": 1.2345e20, "negative_zero": -0.0, "tiny": 1e-05, "pair": (1, 2.5)},
            metadata={7: "an integer key", "nested": [{"x": 1.0}]},
        )
    with actor_context(ActorContext(user_label="bob@lab.example", ip="2001:DB8:0:0::1")):
        audit_record(action="project.update")

    assert audit_seal().events == 2

    _assert_named(tenant, api_as, None)
