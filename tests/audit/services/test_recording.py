"""audit_record: secrets redacted, a gapless sequence per organization and category, never without a tenant."""

import pytest
from django.db import transaction

from audit.models import AuditEvent
from core.audit.context import ActorContext, actor_context
from core.audit.record import REDACTED, audit_record, audit_record_denied, redact
from core.context import TenantContextMissing, no_organization, organization_context
from tests.factories import ProjectFactory


def sequences(organization) -> list[int]:
    with organization_context(organization.pk):
        return list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))


# --- redaction ---


def test_secret_like_keys_are_redacted_at_any_depth():
    value = {
        "password": "hunter2",
        "Client_Secret": "s",
        "api_key": "k",
        "key_hash": "abc",
        "refresh_token": "t",
        "credentials": {"user": "u"},
        "nested": {"deeper": [{"token": "t2", "name": "kept"}]},
        "name": "kept",
    }

    assert redact(value) == {
        "password": REDACTED,
        "Client_Secret": REDACTED,
        "api_key": REDACTED,
        "key_hash": REDACTED,
        "refresh_token": REDACTED,
        "credentials": REDACTED,
        "nested": {"deeper": [{"token": REDACTED, "name": "kept"}]},
        "name": "kept",
    }


def test_a_change_pair_under_a_secret_key_is_redacted_whole():
    assert redact({"password": ["old", "new"]}) == {"password": REDACTED}


def test_counts_flags_and_nulls_under_secret_like_keys_are_kept():
    assert redact({"tokens_revoked": 2, "password_changed": True, "secret": None}) == {
        "tokens_revoked": 2,
        "password_changed": True,
        "secret": None,
    }


def test_redaction_does_not_change_the_input():
    value = {"password": "x"}

    redact(value)

    assert value == {"password": "x"}


def test_recorded_events_are_redacted(tenant):
    event = audit_record(
        action="storage.update", changes={"secret_key": ["a", "b"], "url": ["x", "y"]}, metadata={"token": "raw"}
    )

    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.changes == {"secret_key": REDACTED, "url": ["x", "y"]}
    assert stored.metadata == {"token": REDACTED}


# --- sequence ---


def test_the_sequence_is_gapless_and_independent_per_organization(tenant, other_tenant):
    for _ in range(3):
        audit_record(action="project.update")
    with organization_context(other_tenant.pk):
        audit_record(action="project.update")
        audit_record(action="project.update")
    audit_record(action="project.delete")

    assert sequences(tenant) == [1, 2, 3, 4]
    assert sequences(other_tenant) == [1, 2]


def test_a_rolled_back_event_leaves_no_gap(tenant):
    def record_then_fail() -> None:
        with transaction.atomic():
            audit_record(action="project.delete")
            raise RuntimeError("roll back")

    audit_record(action="project.update")
    with pytest.raises(RuntimeError):
        record_then_fail()
    audit_record(action="project.update")

    assert sequences(tenant) == [1, 2]
    assert list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True)) == ["project.update"] * 2


def test_a_denied_event_takes_the_next_number_of_its_category(tenant):
    audit_record(action="access.not_found", outcome="denied")
    audit_record(action="project.update")

    audit_record_denied(organization_id=tenant.pk, action="access.forbidden", metadata={"path": "/x"})

    event = AuditEvent.objects.get(action="access.forbidden")
    assert (event.sequence, event.outcome, event.category) == (2, "denied", "access")


def test_each_category_counts_on_its_own(tenant):
    for action in ("project.create", "task.bulk_create", "project.update", "member.add", "project.delete"):
        audit_record(action=action)

    numbered = AuditEvent.objects.order_by("id").values_list("category", "sequence")
    assert list(numbered) == [("project", 1), ("task", 1), ("project", 2), ("member", 1), ("project", 3)]


# --- shape and context ---


def test_an_event_records_target_and_actor(tenant):
    project = ProjectFactory()
    actor = ActorContext(user_id=7, user_label="ada@example.org", token_prefix="abcd1234", ip="192.0.2.1")

    with actor_context(actor):
        event = audit_record(action="project.update", target=project, changes={"name": ["a", "b"]})

    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.category, stored.target_type, stored.target_id) == ("project", "projects.project", str(project.uuid))
    assert (stored.actor_user_id, stored.actor_label, stored.actor_token_prefix) == (7, "ada@example.org", "abcd1234")
    assert stored.ip == "192.0.2.1"
    assert stored.organization_id == tenant.pk


@pytest.mark.parametrize("action", ["noverb", ".verb", "category.", ""])
def test_an_action_must_be_category_dot_verb(tenant, action):
    with pytest.raises(ValueError, match=r"category\.verb"):
        audit_record(action=action)

    assert AuditEvent.objects.count() == 0


def test_audit_record_requires_a_tenant_context(tenant):
    with no_organization(), pytest.raises(TenantContextMissing):
        audit_record(action="project.update")

    assert AuditEvent.objects.count() == 0
