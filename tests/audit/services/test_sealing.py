"""Sealing: idempotent, one chain per category, checkpoints linked, large trails in bounded checkpoints, and
never in a writer's way."""

import threading
from typing import Any

import pytest
from django.db import connection, connections

from audit import chain, signing
from audit.models import AuditCheckpoint, AuditEvent, AuditSeal
from audit.services.sealing import audit_seal
from audit.services.verification import audit_verify
from bench.audit_seal import create_events
from core import enqueue
from core.audit.record import audit_record
from core.context import organization_context
from tests.audit.tamper import as_owner_without_triggers
from tests.factories import OrganizationFactory
from workers.tasks import audit_seal_all


def _record(action: str, count: int) -> None:
    for i in range(count):
        audit_record(action=action, metadata={"i": i})


def _checkpoints() -> list[tuple[str, int, int]]:
    return list(
        AuditCheckpoint.objects.order_by("category", "first_sequence").values_list(
            "category", "first_sequence", "last_sequence"
        )
    )


def test_no_events_no_checkpoint(tenant):
    assert AuditEvent.objects.count() == 0

    result = audit_seal()

    assert (result.events, result.checkpoints) == (0, 0)
    assert (AuditCheckpoint.objects.count(), AuditSeal.objects.count()) == (0, 0)


def test_sealing_again_with_nothing_new_changes_nothing(tenant):
    _record("project.update", 4)
    assert (audit_seal().events, audit_seal().events) == (4, 0)
    assert _checkpoints() == [("project", 1, 4)]
    assert AuditSeal.objects.count() == 4


def test_each_category_is_its_own_chain(tenant):
    _record("project.update", 3)
    _record("data_access.task_view", 2)

    result = audit_seal()

    assert (result.events, result.checkpoints) == (5, 2)
    assert _checkpoints() == [("data_access", 1, 2), ("project", 1, 3)]
    for checkpoint in AuditCheckpoint.objects.all():
        assert (checkpoint.prev_head, checkpoint.previous_digest, checkpoint.key_id) == (
            chain.GENESIS,
            "",
            signing.current_key_id(),
        )
        last_seal = AuditSeal.objects.get(category=checkpoint.category, sequence=checkpoint.last_sequence)
        assert checkpoint.head == last_seal.event_hash
    assert sorted(AuditSeal.objects.values_list("category", "sequence")) == [
        ("data_access", 1),
        ("data_access", 2),
        ("project", 1),
        ("project", 2),
        ("project", 3),
    ]


def test_checkpoints_link_to_the_one_before(tenant):
    _record("project.update", 5)
    audit_seal()
    _record("project.update", 2)

    assert audit_seal().checkpoints == 1

    first, second = AuditCheckpoint.objects.order_by("first_sequence")
    assert (second.first_sequence, second.last_sequence) == (6, 7)
    assert (second.previous_digest, second.prev_head) == (first.digest, first.head)
    document = {
        "organization": str(tenant.uuid),
        "category": "project",
        "first_sequence": 6,
        "last_sequence": 7,
        "prev_head": first.head,
        "head": second.head,
        "previous_digest": first.digest,
        "sealed_at": chain.format_time(second.sealed_at),
        "key_id": second.key_id,
        "signature": second.signature,
    }
    assert chain.verify_signature(signing.public_key_raw(), document) is True
    assert chain.checkpoint_digest(document) == second.digest


def test_a_large_trail_is_sealed_in_checkpoints_of_bounded_size(tenant):
    create_events(tenant.pk, 20_000)

    result = audit_seal(limit=7_000)

    assert (result.events, result.checkpoints) == (20_000, 3)
    assert _checkpoints() == [("project", 1, 7_000), ("project", 7_001, 14_000), ("project", 14_001, 20_000)]
    report = audit_verify()
    assert (report.ok, report.events_checked, report.checkpoints_checked, report.unsealed_events) == (
        True,
        20_000,
        3,
        0,
    )


def test_the_sealer_stops_before_a_gap_and_seals_nothing_past_it(tenant):
    _record("project.update", 5)
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            "DELETE FROM audit_auditevent WHERE organization_id = %s AND category = 'project' AND sequence = 3",
            [tenant.pk],
        )

    assert audit_seal().events == 2

    assert _checkpoints() == [("project", 1, 2)]
    assert audit_verify().problems[0].kind == "missing"


def test_the_beat_fans_out_one_seal_per_organization(db, monkeypatch, django_capture_on_commit_callbacks):
    organizations = OrganizationFactory.create_batch(3)
    sent: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(enqueue, "_send", lambda name, args: sent.append((name, args)))

    with django_capture_on_commit_callbacks(execute=True):
        audit_seal_all()

    assert sorted(sent) == sorted(("audit.seal", (o.pk,)) for o in organizations)


@pytest.mark.django_db(transaction=True)
def test_sealing_never_waits_for_a_writer_and_picks_its_event_up_next_time():
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        _record("project.update", 3)
    recorded, release, writer_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        # Holds the category counter's row lock, with event #4 recorded but not committed, until released.
        try:
            with organization_context(organization.pk):
                audit_record(action="project.update", metadata={"i": "slow"})
                recorded.set()
                assert release.wait(30)
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)
        finally:
            writer_done.set()
            connections["default"].close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert recorded.wait(10)
        outcome: dict[str, Any] = {}

        def sealer() -> None:
            try:
                with organization_context(organization.pk):
                    outcome["result"] = audit_seal()
            finally:
                connections["default"].close()

        sealing = threading.Thread(target=sealer)
        sealing.start()
        sealing.join(timeout=20)
        # The sealer finished while the writer still held its transaction open.
        assert not sealing.is_alive()
        assert not writer_done.is_set()
        assert (outcome["result"].events, outcome["result"].checkpoints) == (3, 1)
    finally:
        release.set()
        thread.join(timeout=30)
    assert errors == []
    with organization_context(organization.pk):
        result = audit_seal()
        assert (result.events, result.checkpoints) == (1, 1)
        assert _checkpoints() == [("project", 1, 3), ("project", 4, 4)]
        assert audit_verify().ok
    connection.close()
