"""tenancy.services.organizations called directly: creating a tenant, changing it."""

import pytest

from audit.models import AuditEvent
from core.context import no_organization, organization_context
from core.errors import InvalidInput, NotAllowed
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
