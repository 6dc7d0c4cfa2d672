"""Celery entry points. Each is thin: take ids, enter the tenant, call one service."""

import logging
from datetime import timedelta

from django.core.mail import send_mail

from audit.models import AuditCheckpoint
from audit.sealing import audit_seal
from audit.storage import checkpoint_export
from audit.streaming import audit_stream_organization, organizations_to_stream
from tenancy import credentials
from tenancy.models import Invitation, Organization
from tenancy.services import invitation_accept_url, invitations_purge
from workers.base import platform_task, tenant_task
from workers.enqueue import enqueue_on_commit

logger = logging.getLogger(__name__)

INVITATION_RETENTION = timedelta(days=30)


@tenant_task("audit.seal", soft_time_limit=600)
def audit_seal_one() -> int:
    """Seal the organization's new events; safe to run twice at once (the second skips each locked chain)."""
    return audit_seal().events


@tenant_task("audit.checkpoint_export")
def audit_checkpoint_export(checkpoint_id: int) -> str:
    """Copy one new checkpoint to the checkpoint bucket (enqueued by the sealer when a bucket is configured)."""
    checkpoint = AuditCheckpoint.objects.select_related("organization").get(pk=checkpoint_id)
    return checkpoint_export(organization=checkpoint.organization, checkpoint=checkpoint)


@platform_task("audit.seal_all")
def audit_seal_all() -> None:
    """Beat: one sealing task per organization, each in its own tenant."""
    # Platform scope: Organization is the tenant registry itself, not a tenant-owned table.
    for organization_id in Organization.objects.values_list("pk", flat=True):
        enqueue_on_commit("audit.seal", organization_id)


# A platform task although it acts for one organization: the streamer enters the tenant once per batch, so each
# acknowledged batch commits its cursor at once; tenant_task would hold one transaction (and resend everything on
# a late failure) for the whole run. The organization id still arrives explicitly, never inherited.
@platform_task("audit.stream", soft_time_limit=600)
def audit_stream_one(organization_id: int) -> int:
    """Deliver up to 200 batches of the organization's new events to its SIEM; the next run continues."""
    return audit_stream_organization(organization_id=organization_id, max_batches=200).events


@platform_task("audit.stream_all")
def audit_stream_all() -> None:
    """Beat: one streaming task per organization that has a destination."""
    for organization_id in organizations_to_stream():
        enqueue_on_commit("audit.stream", organization_id)


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
