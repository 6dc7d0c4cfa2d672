"""audit.permissions: who reads and checks the trail and who decides where it goes, as the services enforce it."""

import pytest

from audit import permissions
from audit.models import AuditEvent
from audit.services.sealing import audit_seal_recorded
from audit.services.streaming import audit_stream_configure
from audit.services.verification import audit_verify_recorded
from core.errors import NotAllowed
from tenancy.models import Membership, Role
from tests.factories import MembershipFactory


@pytest.mark.parametrize("role", list(Role))
def test_owners_and_admins_verify_and_seal_the_trail(role):
    actor = Membership(pk=1, role=role.value)
    expected = None if role in (Role.OWNER, Role.ADMIN) else "This action needs the admin role or higher."

    assert permissions.audit_trail_verify(actor) == expected
    assert permissions.audit_trail_seal(actor) == expected


@pytest.mark.parametrize("role", list(Role))
def test_only_owners_choose_where_the_trail_is_streamed(role):
    refusal = permissions.audit_stream_configure(Membership(pk=1, role=role.value))

    assert refusal == (None if role is Role.OWNER else "Only owners may change where the audit trail is streamed.")


def test_the_services_refuse_a_manager_called_directly_and_record_nothing(tenant):
    manager = MembershipFactory(role=Role.MANAGER)

    with pytest.raises(NotAllowed, match="needs the admin role"):
        audit_verify_recorded(actor=manager)
    with pytest.raises(NotAllowed, match="needs the admin role"):
        audit_seal_recorded(actor=manager)
    with pytest.raises(NotAllowed, match="Only owners"):
        audit_stream_configure(actor=MembershipFactory(role=Role.ADMIN), organization=tenant, config=None)

    assert not AuditEvent.objects.filter(action__in=["audit.verify", "audit.seal", "audit.stream_configure"]).exists()
