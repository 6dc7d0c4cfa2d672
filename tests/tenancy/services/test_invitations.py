"""tenancy.services.invitations called directly: finding an invitation by its secret, purging old ones."""

from datetime import timedelta

from django.utils import timezone

from audit.models import AuditEvent
from core.context import no_organization
from tenancy.models import Invitation, Role
from tenancy.services.invitations import invitation_create, invitation_find, invitations_purge


def test_invitation_find_ignores_unknown_and_used_keys(tenant):
    issued = invitation_create(actor=None, organization=tenant, email="a@example.org", role=Role.ANNOTATOR)
    key = issued.secret

    with no_organization():
        found = invitation_find(key)
        unknown = invitation_find("nope")

    assert found.pk == issued.invitation.pk
    assert unknown is None


def test_invitations_purge_deletes_only_long_expired_ones(tenant, settings):
    settings.TENANCY_INVITATION_TTL_HOURS = 0
    old = invitation_create(actor=None, organization=tenant, email="old@example.org", role=Role.ANNOTATOR)
    Invitation.objects.filter(pk=old.invitation.pk).update(expires_at=timezone.now() - timedelta(days=40))
    settings.TENANCY_INVITATION_TTL_HOURS = 72
    fresh = invitation_create(actor=None, organization=tenant, email="new@example.org", role=Role.ANNOTATOR)

    deleted = invitations_purge(older_than=timedelta(days=30))

    assert deleted == 1
    assert list(Invitation.objects.values_list("pk", flat=True)) == [fresh.invitation.pk]
    assert AuditEvent.objects.get(action="invitation.purge").metadata["count"] == 1


def test_invitations_purge_with_nothing_stale_records_nothing(tenant):
    assert invitations_purge(older_than=timedelta(days=30)) == 0
    assert not AuditEvent.objects.filter(action="invitation.purge").exists()
