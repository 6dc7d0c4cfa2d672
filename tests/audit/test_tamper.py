"""Tampering as the database owner, each way an intruder could: the verifier, through both the command and the
API, names the exact event (or checkpoint) that no longer matches, and an untouched trail verifies."""

# ruff: noqa: S608 - the SQL built with f-strings only interpolates our own table names

import base64
import io
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from audit import chain
from audit.models import AuditCheckpoint, AuditEvent, AuditSeal
from audit.services.sealing import audit_seal, event_document, events_from
from core.audit.record import audit_record
from tenancy.models import Role
from tests.audit.tamper import as_owner_without_triggers

EVENTS, SEALS, CHECKPOINTS = (m._meta.db_table for m in (AuditEvent, AuditSeal, AuditCheckpoint))


def _trail(organization: Any) -> None:
    """project #1..5 and data_access #1..3 sealed (one checkpoint each); project #6..7 recorded, not yet sealed."""
    for i in range(5):
        audit_record(action="project.update", target_id=f"p{i}", metadata={"i": i})
    for i in range(3):
        audit_record(action="data_access.task_view", target_id=f"t{i}")
    assert audit_seal().events == 8
    for i in range(5, 7):
        audit_record(action="project.update", target_id=f"p{i}", metadata={"i": i})


def _problem(category: str, kind: str, sequence: int, message: str) -> dict[str, Any]:
    return {"category": category, "kind": kind, "sequence": sequence, "message": message}


def verdicts(organization: Any, api_as: Any) -> tuple[Any, Any]:
    """The first problem (or None) as `manage.py audit_verify --json` and `POST /api/v1/audit/verify` report it."""
    out = io.StringIO()
    returncode = 0
    try:
        call_command("audit_verify", "--organization", organization.slug, "--json", stdout=out)
    except CommandError as exc:
        returncode = exc.returncode
    assert returncode in {0, 1}
    failed = returncode == 1
    document = json.loads(out.getvalue())
    assert document["ok"] is not failed
    from_command = document["organizations"][organization.slug]["first_problem"]
    response = api_as(organization, Role.ADMIN).post("/api/v1/audit/verify", {}, format="json")
    assert response.status_code == 200, response.content
    from_api = response.json()["first_problem"]
    assert response.json()["ok"] is (from_api is None)
    return from_command, from_api


def _assert_named(organization: Any, api_as: Any, expected: dict[str, Any]) -> None:
    assert verdicts(organization, api_as) == (expected, expected)


def _reseal(organization: Any, category: str, first: int, last: int) -> None:
    """Recompute seals first..last from the (tampered) events, as an intruder covering their tracks would."""
    previous = AuditSeal.objects.filter(category=category, sequence=first - 1).first()
    head = previous.event_hash if previous else chain.GENESIS
    forged = []
    for row in events_from(category, first, last):
        head = chain.event_hash(head, event_document(str(organization.uuid), row))
        forged.append((row["sequence"], head))
    with as_owner_without_triggers() as cursor:
        for sequence, digest in forged:
            cursor.execute(
                f"UPDATE {SEALS} SET event_hash = %s WHERE organization_id = %s AND category = %s AND sequence = %s",
                [digest, organization.pk, category, sequence],
            )


def test_an_untouched_trail_verifies_on_both_surfaces(tenant, api_as):
    _trail(tenant)

    assert verdicts(tenant, api_as) == (None, None)
    out = io.StringIO()
    call_command("audit_verify", "--organization", tenant.slug, stdout=out)
    # The API's own audit.verify records are unsealed events too, recorded by the call above.
    assert out.getvalue() == f"{tenant.slug}: ok (8 sealed events, 2 checkpoints, 3 not yet sealed)\n"


def test_a_rewritten_field_names_the_event(tenant, api_as):
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            f"UPDATE {EVENTS} SET actor_label = 'mallory' WHERE organization_id = %s AND category = 'project' "
            "AND sequence = 3",
            [tenant.pk],
        )
    _assert_named(tenant, api_as, _problem("project", "altered", 3, "Event project #3 does not match its seal."))


def test_a_rewritten_unsealed_field_no_longer_carries_its_mac_and_is_never_sealed(tenant, api_as):
    # Before sealing, no seal vouches for an event, but its MAC does: made with a key the database never holds.
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            f"UPDATE {EVENTS} SET metadata = '{{\"i\": 99}}' WHERE organization_id = %s AND category = 'project' "
            "AND sequence = 6",
            [tenant.pk],
        )
    forged = _problem(
        "project",
        "forged",
        6,
        "Event project #6 does not carry the platform's MAC: it was written or changed outside the platform.",
    )
    _assert_named(tenant, api_as, forged)

    audit_seal()
    assert list(AuditCheckpoint.objects.filter(category="project").values_list("first_sequence", "last_sequence")) == [
        (1, 5)
    ]
    _assert_named(tenant, api_as, forged)


def test_a_deleted_sealed_event_is_missing_at_its_sequence(tenant, api_as):
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            f"DELETE FROM {EVENTS} WHERE organization_id = %s AND category = 'project' AND sequence = 4", [tenant.pk]
        )
    _assert_named(tenant, api_as, _problem("project", "missing", 4, "Event project #4 is missing."))


@pytest.mark.parametrize("sequence", [6, 7], ids=["middle", "newest"])
def test_a_deleted_unsealed_event_is_missing_at_its_sequence(tenant, api_as, sequence):
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            f"DELETE FROM {EVENTS} WHERE organization_id = %s AND category = 'project' AND sequence = %s",
            [tenant.pk, sequence],
        )
    _assert_named(tenant, api_as, _problem("project", "missing", sequence, f"Event project #{sequence} is missing."))


def _insert_copy(cursor: Any, organization_id: int, source: int, sequence: int, metadata: str) -> None:
    cursor.execute(
        f"INSERT INTO {EVENTS} (organization_id, sequence, occurred_at, action, category, outcome, actor_user_id, "
        "actor_label, actor_token_prefix, ip, user_agent, request_id, target_type, target_id, changes, metadata) "
        "SELECT organization_id, %s, occurred_at, action, category, outcome, actor_user_id, actor_label, "
        "actor_token_prefix, ip, user_agent, request_id, target_type, target_id, changes, %s::jsonb "
        f"FROM {EVENTS} WHERE organization_id = %s AND category = 'project' AND sequence = %s",
        [sequence, metadata, organization_id, source],
    )


def test_an_event_beyond_the_counter_is_inserted(tenant, api_as):
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        _insert_copy(cursor, tenant.pk, source=7, sequence=8, metadata='{"i": 7}')
    _assert_named(
        tenant,
        api_as,
        _problem("project", "inserted", 8, "Event project #8 was never issued by the sequence counter."),
    )


def test_a_forged_replacement_of_a_sealed_event_is_altered(tenant, api_as):
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            f"DELETE FROM {EVENTS} WHERE organization_id = %s AND category = 'project' AND sequence = 2", [tenant.pk]
        )
        _insert_copy(cursor, tenant.pk, source=1, sequence=2, metadata='{"i": 1}')
    _assert_named(tenant, api_as, _problem("project", "altered", 2, "Event project #2 does not match its seal."))


@pytest.mark.parametrize("sequence", [5, 3], ids=["last-of-checkpoint", "middle-and-all-after"])
def test_seals_rewritten_to_match_a_rewritten_event_break_the_signed_head(tenant, api_as, sequence):
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            f"UPDATE {EVENTS} SET target_id = 'elsewhere' WHERE organization_id = %s AND category = 'project' "
            "AND sequence = %s",
            [tenant.pk, sequence],
        )
    _reseal(tenant, "project", sequence, 5)
    _assert_named(
        tenant,
        api_as,
        _problem("project", "checkpoint", 5, "Seals of checkpoint 1..5 do not lead to its signed head."),
    )


def _resign(organization: Any, category: str, key: Ed25519PrivateKey, key_id: str, head: str) -> None:
    checkpoint = AuditCheckpoint.objects.get(category=category)
    document = {
        "organization": str(organization.uuid),
        "category": category,
        "first_sequence": checkpoint.first_sequence,
        "last_sequence": checkpoint.last_sequence,
        "prev_head": checkpoint.prev_head,
        "head": head,
        "previous_digest": checkpoint.previous_digest,
        "sealed_at": chain.format_time(checkpoint.sealed_at),
        "key_id": key_id,
    }
    signature = base64.b64encode(key.sign(chain.checkpoint_payload(document))).decode()
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            f"UPDATE {CHECKPOINTS} SET head = %s, key_id = %s, signature = %s, digest = %s WHERE id = %s",
            [head, key_id, signature, chain.checkpoint_digest(document), checkpoint.pk],
        )


@pytest.mark.parametrize("claimed", ["own-key-id", "trusted-key-id"])
def test_a_checkpoint_re_signed_with_another_key_is_refused(tenant, api_as, claimed):
    # The intruder rewrites event 2, reseals 2..3 and signs a new head with a key of their own.
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            f"UPDATE {EVENTS} SET outcome = 'denied' WHERE organization_id = %s AND category = 'data_access' "
            "AND sequence = 2",
            [tenant.pk],
        )
    _reseal(tenant, "data_access", 2, 3)
    intruder = Ed25519PrivateKey.generate()
    raw = intruder.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    trusted_id = AuditCheckpoint.objects.get(category="data_access").key_id
    key_id = chain.key_id(raw) if claimed == "own-key-id" else trusted_id
    head = AuditSeal.objects.get(category="data_access", sequence=3).event_hash
    _resign(tenant, "data_access", intruder, key_id, head)

    _assert_named(
        tenant,
        api_as,
        _problem("data_access", "checkpoint", 1, "checkpoint 1..3 has no valid signature from a trusted key."),
    )


def test_a_deleted_checkpoint_breaks_the_link_of_the_next(tenant, api_as):
    _trail(tenant)
    assert audit_seal().checkpoints == 1  # project 6..7
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            f"DELETE FROM {CHECKPOINTS} WHERE organization_id = %s AND category = 'project' AND last_sequence = 5",
            [tenant.pk],
        )
    _assert_named(
        tenant,
        api_as,
        _problem("project", "checkpoint", 6, "checkpoint 6..7 does not follow the checkpoint before it."),
    )


def test_a_failed_verification_is_itself_on_the_record(tenant, api_as):
    _trail(tenant)
    with as_owner_without_triggers() as cursor:
        cursor.execute(
            f"UPDATE {EVENTS} SET action = 'project.nothing' WHERE organization_id = %s AND category = 'project' "
            "AND sequence = 1",
            [tenant.pk],
        )
    response = api_as(tenant, Role.OWNER).post("/api/v1/audit/verify", {"category": "project"}, format="json")

    assert (response.status_code, response.json()["ok"]) == (200, False)
    event = AuditEvent.objects.get(action="audit.verify")
    assert (event.outcome, event.category, event.sequence) == ("failure", "audit", 1)
    assert event.metadata == {
        "category": "project",
        "ok": False,
        "events_checked": 1,
        "checkpoints_checked": 1,
        "unsealed_events": 0,
        "first_problem": _problem("project", "altered", 1, "Event project #1 does not match its seal."),
    }
