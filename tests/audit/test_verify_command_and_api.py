"""The verification surfaces: `manage.py audit_verify` / `audit_seal`, and the integrity API."""

import io
import json

import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from audit import chain, signing
from audit.models import AuditCheckpoint, AuditEvent
from audit.services.sealing import audit_seal
from core.audit.record import audit_record
from core.context import organization_context
from tenancy.models import Role
from tests.audit.tamper import as_owner_without_triggers
from tests.factories import OrganizationFactory


def _record(organization_id: int, action: str, count: int) -> None:
    with organization_context(organization_id):
        for i in range(count):
            audit_record(action=action, metadata={"i": i})


def _run(*args: str) -> tuple[str, int]:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc.returncode
    return out.getvalue(), 0


def test_command_summarises_every_organization_and_fails_on_any_problem(db):
    acme, bravo = OrganizationFactory(slug="acme"), OrganizationFactory(slug="bravo")
    _record(acme.pk, "project.update", 3)
    _record(bravo.pk, "project.update", 2)
    assert _run("audit_seal") == (
        "acme: sealed 3 events in 1 checkpoints\nbravo: sealed 2 events in 1 checkpoints\n",
        0,
    )
    _record(bravo.pk, "data_access.task_view", 1)

    assert _run("audit_verify") == (
        "acme: ok (3 sealed events, 1 checkpoints, 0 not yet sealed)\n"
        "bravo: ok (2 sealed events, 1 checkpoints, 1 not yet sealed)\n",
        0,
    )

    with organization_context(bravo.pk), as_owner_without_triggers() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET request_id = 'x' WHERE organization_id = %s AND sequence = 2 "
            "AND category = 'project'",
            [bravo.pk],
        )
    assert _run("audit_verify") == (
        "acme: ok (3 sealed events, 1 checkpoints, 0 not yet sealed)\n"
        "bravo: FAILED (2 sealed events, 1 checkpoints, 1 not yet sealed); first problem: category=project "
        "sequence=2 kind=altered: Event project #2 does not match its seal.\n",
        1,
    )
    # One organization, one category: the other is not looked at.
    assert _run("audit_verify", "--organization", "acme") == (
        "acme: ok (3 sealed events, 1 checkpoints, 0 not yet sealed)\n",
        0,
    )
    out, code = _run("audit_verify", "--organization", "bravo", "--category", "data_access", "--json")
    assert (json.loads(out)["ok"], json.loads(out)["organizations"]["bravo"]["unsealed_events"], code) == (True, 1, 0)


def test_command_refuses_an_unknown_organization(db):
    OrganizationFactory(slug="acme")
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        call_command("audit_verify", "--organization", "acme", "--organization", "nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="No organization with slug 'nope'"):
        call_command("audit_seal", "--organization", "nope", stdout=io.StringIO())


def test_seal_endpoint_seals_now_and_records_who_asked(tenant, api_as):
    _record(tenant.pk, "project.update", 2)
    client = api_as(tenant, Role.ADMIN)

    response = client.post("/api/v1/audit/seal", {}, format="json")

    assert (response.status_code, response.json()) == (200, {"events": 2, "checkpoints": 1})
    event = AuditEvent.objects.get(action="audit.seal")
    assert (event.metadata, event.outcome) == ({"events": 2, "checkpoints": 1}, "success")
    response = client.post("/api/v1/audit/seal")
    assert (response.status_code, response.json()) == (200, {"events": 1, "checkpoints": 1})  # the record above


def test_verify_endpoint_reports_counts_and_records_success(tenant, api_as):
    _record(tenant.pk, "project.update", 2)
    audit_seal()

    response = api_as(tenant, Role.OWNER).post("/api/v1/audit/verify")

    assert (response.status_code, response.json()) == (
        200,
        {
            "ok": True,
            "events_checked": 2,
            "checkpoints_checked": 1,
            "unsealed_events": 0,
            "problems": [],
            "first_problem": None,
        },
    )
    event = AuditEvent.objects.get(action="audit.verify")
    assert (event.outcome, event.metadata["ok"], event.metadata["category"]) == ("success", True, None)


def test_verify_endpoint_refuses_unknown_fields(tenant, api_as):
    response = api_as(tenant, Role.ADMIN).post("/api/v1/audit/verify", {"organization": "x"}, format="json")
    assert response.status_code == 400
    assert {"field": "organization", "message": "Unknown field.", "code": "unknown_field"} in response.json()["errors"]


def test_checkpoint_list_is_the_signed_documents_filtered_and_paginated(tenant, api_as):
    _record(tenant.pk, "project.update", 2)
    _record(tenant.pk, "data_access.task_view", 1)
    audit_seal()
    _record(tenant.pk, "project.update", 1)
    audit_seal()
    client = api_as(tenant, Role.ADMIN)

    page = client.get("/api/v1/audit/checkpoints/", {"category": "project", "page_size": 1}).json()
    second = client.get(page["next"]).json()

    rows = page["results"] + second["results"]
    assert [(r["category"], r["first_sequence"], r["last_sequence"]) for r in rows] == [
        ("project", 1, 2),
        ("project", 3, 3),
    ]
    assert second["next"] is None
    stored = AuditCheckpoint.objects.get(category="project", first_sequence=3)
    assert rows[1]["previous_digest"] == rows[0]["digest"]
    assert rows[1]["organization"] == str(tenant.uuid)
    document = {k: v for k, v in rows[1].items() if k != "digest"}
    assert chain.verify_signature(signing.public_key_raw(), document) is True
    assert chain.checkpoint_digest(document) == stored.digest == rows[1]["digest"]
    everything = client.get("/api/v1/audit/checkpoints/").json()["results"]
    assert sorted(r["category"] for r in everything) == ["data_access", "project", "project"]


def test_public_key_is_served_to_anyone_and_verifies_the_checkpoints(tenant):
    response = APIClient().get("/api/v1/audit/public-key")

    assert response.status_code == 200
    body = response.json()
    assert (body["algorithm"], body["key_id"]) == ("Ed25519", signing.current_key_id())
    loaded = serialization.load_pem_public_key(body["public_key_pem"].encode())
    raw = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw == signing.public_key_raw()
    assert chain.key_id(raw) == body["key_id"]
