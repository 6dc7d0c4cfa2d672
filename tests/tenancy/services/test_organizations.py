"""tenancy.services.organizations called directly: creating a tenant, changing it."""

import pytest

from audit.models import AuditEvent
from core.context import no_organization, organization_context
from core.errors import InvalidInput, NotAllowed
from tenancy import signals
from tenancy.models import Organization, Role
from tenancy.services.organizations import organization_create, organization_update
from tests.factories import MembershipFactory


def test_organization_create_records_its_first_event(db):
    with no_organization():
        organization = organization_create(actor=None, name="  New Lab ", slug="new-lab")

    assert (organization.name, organization.slug) == ("New Lab", "new-lab")
    with organization_context(organization.pk):
        event = AuditEvent.objects.get()
    assert (event.action, event.sequence) == ("organization.create", 1)
    assert event.changes == {"name": [None, "New Lab"], "slug": [None, "new-lab"]}
    assert event.metadata == {"by_staff": "operator"}


def test_organization_create_reports_every_problem(db, tenant):
    with no_organization(), pytest.raises(InvalidInput) as raised:
        organization_create(actor=None, name=" ", slug=tenant.slug)

    assert [(e.field, e.code) for e in raised.value.errors] == [("name", "blank"), ("slug", "unique")]
    assert Organization.objects.count() == 1


def test_organization_update_needs_admin(tenant):
    manager = MembershipFactory(role=Role.MANAGER)

    with pytest.raises(NotAllowed):
        organization_update(actor=manager, organization=tenant, name="Mine")


def test_a_setting_no_app_answers_for_is_refused_not_stored_as_sent(db, tenant):
    # As if the app that owns `audit_stream` were not installed: its token must never be stored unsealed.
    receivers = signals.organization_setting_clean.receivers
    signals.organization_setting_clean.receivers = []
    signals.organization_setting_clean.sender_receivers_cache.clear()
    owner = MembershipFactory(organization=tenant, role=Role.OWNER)
    stream = {"url": "https://siem.example/ingest", "token": "plain-secret"}
    try:
        with organization_context(tenant.pk), pytest.raises(InvalidInput) as raised:
            organization_update(actor=owner, organization=tenant, settings={"audit_stream": stream})
    finally:
        signals.organization_setting_clean.receivers = receivers
        signals.organization_setting_clean.sender_receivers_cache.clear()

    assert [(e.field, e.code) for e in raised.value.errors] == [("settings.audit_stream", "unknown_setting")]
    tenant.refresh_from_db()
    assert "audit_stream" not in (tenant.settings or {})
