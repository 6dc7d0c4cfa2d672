"""Celery entry points. Each is thin: take ids, enter the tenant, call one service."""

import logging
from datetime import timedelta

from django.core.mail import send_mail

from tenancy import credentials
from tenancy.models import Invitation, Organization
from tenancy.services import invitation_accept_url, invitations_purge
from workers.base import platform_task, tenant_task
from workers.enqueue import enqueue_on_commit

logger = logging.getLogger(__name__)

INVITATION_RETENTION = timedelta(days=30)


@tenant_task("tenancy.invitation_send")
def invitation_send(invitation_id: int, sealed_key: str) -> None:
    """Email an invitation link. The secret arrives encrypted: the broker never holds it in clear."""
    invitation = Invitation.objects.select_related("organization").filter(pk=invitation_id).first()
    if invitation is None or invitation.status != "pending":
        return  # revoked or accepted before the mail went out; nothing to send
    link = invitation_accept_url(credentials.unseal_from_broker(sealed_key))
    send_mail(
        subject=f"You are invited to {invitation.organization.name}",
        message=(
            f"You have been invited to join {invitation.organization.name} as {invitation.role}.\n\n"
            f"Accept the invitation: {link}\n\nThe link expires at {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    logger.info("invitation.sent", extra={"invitation": str(invitation.uuid)})


@tenant_task("tenancy.invitations_purge")
def invitations_purge_one(days: int) -> int:
    return invitations_purge(older_than=timedelta(days=days))


@platform_task("tenancy.invitations_expire")
def invitations_expire() -> None:
    """Beat: fan out one purge per organization, each running in its own tenant."""
    # Platform scope: Organization is the tenant registry itself, not a tenant-owned table.
    for organization_id in Organization.objects.values_list("pk", flat=True):
        enqueue_on_commit("tenancy.invitations_purge", organization_id, INVITATION_RETENTION.days)
