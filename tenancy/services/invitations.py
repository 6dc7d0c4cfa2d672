"""Writes to invitations: issuing one (and mailing its link), revoking, accepting and purging them. Each records its
audit event."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import credentials
from core.audit.record import audit_record
from core.context import organization_context
from core.db import GUC_INVITATION_HASH, lookup_scope
from core.enqueue import enqueue_on_commit
from core.errors import Conflict, ErrorList, FieldError, InvalidInput
from tenancy import config, permissions
from tenancy.models import Invitation, Membership, Organization, Role, User
from tenancy.services.members import membership_add

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedInvitation:
    """A new invitation and its secret, for the mail and, where mail stays on this machine, its admins; never for
    an API response or a log line."""

    invitation: Invitation
    secret: str

    @property
    def accept_url(self) -> str:
        return invitation_accept_url(self.secret)


def invitation_accept_url(raw: str) -> str:
    """The link mailed to the invitee. The secret rides in the fragment, which browsers never send to a server, so
    that no access log, proxy or Referer header ever holds it; the page's script posts it (tenancy.pages.access)."""
    return f"{config.public_url()}/invitations/accept#{raw}"


def invitation_mail_send(*, invitation_id: int, raw: str) -> bool:
    """Mail the invitation link to the invitee; False when it was revoked or accepted before the mail went out."""
    invitation = Invitation.objects.select_related("organization").filter(pk=invitation_id).first()
    if invitation is None or invitation.status != "pending":
        return False
    send_mail(
        subject=f"You are invited to {invitation.organization.name}",
        message=(
            f"You have been invited to join {invitation.organization.name} as {invitation.role}.\n\n"
            f"Accept the invitation: {invitation_accept_url(raw)}\n\n"
            f"The link expires at {invitation.expires_at:%Y-%m-%d %H:%M} UTC."
        ),
        from_email=None,
        recipient_list=[invitation.email],
    )
    logger.info("invitation.sent", extra={"invitation": str(invitation.uuid)})
    return True


def invitation_create(
    *, actor: Membership | None, organization: Organization, email: str, role: Role
) -> IssuedInvitation:
    """Invite an email address to a role. Admins invite up to manager; owners (and operators) anyone.

    Whether the address has an account anywhere is not looked at: the answer is the same either way, and only the
    mailbox's owner, holding the link, can decide what becomes of the invitation.
    """
    email = email.strip().lower()
    if actor is not None:
        permissions.check(permissions.invitation_create(actor, role))
    if Membership.objects.filter(user__email=email).exists():
        raise Conflict(f"{email} is already a member.")
    now = timezone.now()
    if Invitation.objects.filter(email=email, accepted_at=None, revoked_at=None, expires_at__gt=now).exists():
        raise Conflict(f"{email} already has a pending invitation; revoke it to send a new one.")
    key = credentials.issue_invitation_key()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            key_hash=key.digest,
            invited_by=actor.user if actor else None,
            expires_at=now + config.invitation_ttl(),
        )
        audit_record(
            action="invitation.create", target=invitation, changes={"email": [None, email], "role": [None, role.value]}
        )
        enqueue_on_commit(
            "tenancy.invitation_send", organization.pk, invitation.pk, credentials.seal_for_broker(key.raw)
        )
    return IssuedInvitation(invitation=invitation, secret=key.raw)


def invitation_revoke(*, actor: Membership, invitation: Invitation) -> Invitation:
    """Withdraw a pending invitation: its link stops working."""
    permissions.check(permissions.invitation_revoke(actor))
    if invitation.status != "pending":
        raise Conflict(f"The invitation is {invitation.status} and can no longer be revoked.")
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(action="invitation.revoke", target=invitation, metadata={"email": invitation.email})
    return invitation


class InvitationLinkInvalid(InvalidInput):
    """No pending invitation has this secret: a failed credential, which callers count as a failed sign-in."""

    def __init__(self) -> None:
        super().__init__("This invitation link is invalid, expired or already used.")


def invitation_find(raw_key: str) -> Invitation | None:
    """The pending invitation a link's secret opens, from any organization; None if unknown or used up."""
    key_hash = credentials.digest(raw_key)
    with lookup_scope(GUC_INVITATION_HASH, key_hash):
        # Pre-tenant lookup: the policy admits only the row whose hash matches the secret presented.
        invitation = Invitation.objects.unscoped().select_related("organization").filter(key_hash=key_hash).first()
    if invitation is None or invitation.status != "pending":
        return None
    return invitation


def _sign_in_required(email: str) -> InvalidInput:
    return InvalidInput(
        "The invitation could not be accepted.",
        errors=[
            FieldError(
                "token",
                f"{email} already has an account: sign in as it, then accept the invitation.",
                "sign_in_required",
            )
        ],
    )


def invitation_accept(*, raw_key: str, user: User | None, name: str = "", password: str = "") -> Membership:
    """Join the inviting organization, as the signed-in account of the invited address or as a new account for it.

    Holding the link proves the mailbox, which is what binds a new account to its address. An address that already
    has an account joins only as that account, signed in: a password given here is never checked (that would be a
    guessing oracle beside the sign-in's lockout) nor set (that would hand the account to whoever holds the link).
    """
    invitation = invitation_find(raw_key)
    if invitation is None:
        raise InvitationLinkInvalid()
    errors = ErrorList()
    if user is not None:
        if user.email != invitation.email:
            errors.add("token", f"This invitation is for {invitation.email}; sign in with that account.", "wrong_user")
    elif User.objects.filter(email=invitation.email).exists():
        raise _sign_in_required(invitation.email)
    else:
        try:
            validate_password(password, User(email=invitation.email, name=name))
        except DjangoValidationError as exc:
            for message in exc.messages:
                errors.add("password", message, "weak_password")
        if not name.strip():
            errors.add("name", "Tell us your name.", "required")
    errors.raise_if_any("The invitation could not be accepted.")
    with organization_context(invitation.organization_id):
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status != "pending":  # accepted concurrently
            raise InvitationLinkInvalid()
        if user is None:
            try:
                with transaction.atomic():
                    user = User.objects.create_user(invitation.email, password, name=name.strip())
            except IntegrityError as exc:  # the address's account was created meanwhile, by another invitation
                raise _sign_in_required(invitation.email) from exc
        if Membership.objects.filter(user=user).exists():
            raise Conflict("You are already a member of this organization.")
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit_record(action="invitation.accept", target=invitation, metadata={"email": user.email})
        return membership_add(
            organization=invitation.organization, user=user, role=Role(invitation.role), via="invitation"
        )


def invitations_purge(*, older_than: timedelta) -> int:
    """Delete invitations that expired or were revoked long ago, for the organization in context."""
    cutoff = timezone.now() - older_than
    stale = Invitation.objects.filter(accepted_at=None, expires_at__lt=cutoff)
    with transaction.atomic():
        emails = list(stale.values_list("email", flat=True))
        if not emails:
            return 0
        count, _ = stale.delete()
        audit_record(
            action="invitation.purge",
            target_type="tenancy.invitation",
            metadata={"count": len(emails), "expired_before": cutoff.isoformat()},
        )
    return count
