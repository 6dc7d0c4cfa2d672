"""tenancy.services.members called directly: adding members, their roles, removing them."""

import pytest

from audit.models import AuditEvent
from core.errors import Conflict
from tenancy.models import Membership, Role
from tenancy.services.members import membership_add, membership_remove, membership_update_role
from tests.factories import MembershipFactory, UserFactory


def test_membership_add_is_audited_with_its_route(tenant):
    user = UserFactory(email="added@example.org")

    membership = membership_add(organization=tenant, user=user, role=Role.REVIEWER, via="command")

    assert Membership.objects.get(pk=membership.pk).role == "reviewer"
    event = AuditEvent.objects.get(action="member.add")
    assert event.changes == {"role": [None, "reviewer"], "user": [None, "added@example.org"]}
    assert event.metadata == {"via": "command"}


def test_the_last_owner_cannot_be_removed_even_by_a_service_caller(tenant):
    owner = MembershipFactory(role=Role.OWNER)

    with pytest.raises(Conflict):
        membership_remove(actor=owner, membership=owner)

    assert Membership.objects.filter(pk=owner.pk).exists()


def test_an_owner_demotes_another_owner_while_one_remains(tenant):
    first, second = MembershipFactory(role=Role.OWNER), MembershipFactory(role=Role.OWNER)

    membership_update_role(actor=first, membership=second, role=Role.MANAGER)

    assert Membership.objects.get(pk=second.pk).role == "manager"
    assert AuditEvent.objects.get(action="member.update").changes == {"role": ["owner", "manager"]}
