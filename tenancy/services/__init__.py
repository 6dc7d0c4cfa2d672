"""Writes to organizations, memberships, invitations and API tokens. Each records its audit event."""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import credentials, stored_secrets
from core.audit.record import audit_record
from core.context import organization_context
from core.db import GUC_INVITATION_HASH, lookup_scope
from core.enqueue import enqueue_on_commit
from core.errors import Conflict, ErrorList, FieldError, InvalidInput, NotAllowed
from tenancy import config, signals
from tenancy.models import ApiToken, Invitation, Membership, Organization, Role, User

logger = logging.getLogger(__name__)


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for the fields whose value differs, as audit events record them."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


# --- organizations ---


def organization_create(*, actor: User | None, name: str, slug: str) -> Organization:
    """Create a tenant. Platform operators (command) and staff (API) only; its first owner comes by invitation."""
    errors = ErrorList()
    if not name.strip():
        errors.add("name", "This field may not be blank.", "blank")
    if Organization.objects.filter(slug=slug).exists():
        errors.add("slug", f"An organization with slug {slug!r} already exists.", "unique")
    errors.raise_if_any()
    try:
        with transaction.atomic():
            organization = Organization.objects.create(name=name.strip(), slug=slug)
            with organization_context(organization.pk):
                audit_record(
                    action="organization.create",
                    target=organization,
                    changes={"name": [None, organization.name], "slug": [None, slug]},
                    metadata={"by_staff": actor.email if actor else "operator"},
                )
    except IntegrityError as exc:  # a concurrent create of the same slug
        raise InvalidInput(
            "Invalid organization.",
            errors=[FieldError("slug", f"An organization with slug {slug!r} already exists.", "unique")],
        ) from exc
    return organization


def organization_update(
    *, actor: Membership, organization: Organization, name: str | None = None, settings: dict[str, Any] | None = None
) -> Organization:
    """Rename an organization or change its settings (owners and admins).

    Settings are replaced as a whole, as read back from the API: a sealed secret shows there as `<name>_set`, and a
    section sent back exactly as read is kept as stored. A `<name>_sealed` field from the client is refused: only the
    server seals, from a secret sent in clear, for this organization (core.stored_secrets).
    """
    if not actor.role_enum.at_least(Role.ADMIN):
        raise NotAllowed("Only owners and admins may change the organization.")
    before = {"name": organization.name, "settings": organization.settings}
    if settings is not None:
        settings = _settings_clean(actor=actor, organization=organization, settings=settings)
    if name is not None:
        organization.name = name
    if settings is not None:
        organization.settings = settings
    with transaction.atomic():
        organization.save(update_fields=["name", "settings"])
        audit_record(
            action="organization.update",
            target=organization,
            changes=changes_between(before, {"name": organization.name, "settings": organization.settings}),
        )
    return organization


def _settings_clean(*, actor: Membership, organization: Organization, settings: dict[str, Any]) -> dict[str, Any]:
    sealed = stored_secrets.sealed_field_paths(settings)
    if sealed:
        message = "Send the secret itself (write-only); a sealed value is never accepted."
        raise InvalidInput(
            "The settings carry a sealed value.", errors=[FieldError(path, message, "sealed_value") for path in sealed]
        )
    for key in _OWNED_ELSEWHERE:
        current = (organization.settings or {}).get(key)
        incoming = settings.get(key)
        if incoming == stored_secrets.sealed_fields_hidden(current):
            # Unchanged (an admin saving other settings sends the section back as read): keep it as stored.
            settings = {**settings, key: current} if current is not None else settings
            continue
        answers = signals.organization_setting_clean.send(
            sender=key, actor=actor, organization=organization, incoming=incoming, current=current
        )
        if not answers:
            continue
        settings = {k: v for k, v in settings.items() if k != key}
        cleaned = answers[0][1]
        if cleaned is not None:
            settings[key] = cleaned
    return settings


# Settings whose shape and rules belong to an app built on tenancy, which cleans them (audit.receivers: where the
# audit trail is streamed).
_OWNED_ELSEWHERE = ("audit_stream",)


# --- memberships ---


def membership_add(*, organization: Organization, user: User, role: Role, via: str) -> Membership:
    """Make a user a member. Only reached through an accepted invitation or an operator command."""
    with transaction.atomic():
        membership = Membership.objects.create(organization=organization, user=user, role=role)
        audit_record(
            action="member.add",
            target=membership,
            changes={"role": [None, role.value], "user": [None, user.email]},
            metadata={"via": via},
        )
    return membership


def _check_may_manage(actor: Membership, target: Membership, *, new_role: Role | None = None) -> None:
    if actor.pk == target.pk:
        raise NotAllowed("You cannot change your own role; ask another owner or admin.")
    if not actor.role_enum.at_least(Role.ADMIN):
        raise NotAllowed("Only owners and admins may manage members.")
    if actor.role_enum is not Role.OWNER:
        if target.role_enum.at_least(Role.ADMIN):
            raise NotAllowed("Only owners may manage owners and admins.")
        if new_role is not None and new_role.at_least(Role.ADMIN):
            raise NotAllowed("Only owners may grant the owner or admin role.")


def _check_keeps_an_owner(target: Membership, *, new_role: Role | None) -> None:
    if target.role_enum is Role.OWNER and new_role is not Role.OWNER:
        owners = Membership.objects.select_for_update().filter(role=Role.OWNER)
        if len(owners) <= 1:
            raise Conflict("An organization must keep at least one owner.")


def membership_update_role(*, actor: Membership, membership: Membership, role: Role) -> Membership:
    """Change a member's role within what the actor's own role allows; nobody raises their own."""
    _check_may_manage(actor, membership, new_role=role)
    if membership.role == role:
        return membership
    with transaction.atomic():
        _check_keeps_an_owner(membership, new_role=role)
        before = membership.role
        membership.role = role
        # Tokens keep their stored role; authentication caps each at the member's current role.
        membership.save(update_fields=["role", "updated_at"])
        audit_record(
            action="member.update",
            target=membership,
            changes={"role": [before, role.value]},
            metadata={"user": membership.user.email},
        )
    return membership


# --- members' routing profile: languages, conflict-of-interest attributes, pause ---

# ISO 639-1/-2 code with optional subtags (`en`, `pt-br`), as tasks and projects name languages.
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")
# Lowercase, so the attribute a conflict-of-interest rule names matches the member's key exactly.
ATTRIBUTE_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
ATTRIBUTE_VALUE_MAX = 200
MAX_LANGUAGES = 20
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_VALUES = 50


def membership_languages_clean(value: Any, errors: ErrorList) -> list[str]:
    """Language codes, lowercased and without repeats; each bad entry reported by its index."""
    if not isinstance(value, list):
        errors.add("languages", "Must be a list of language codes.", "not_a_list")
        return []
    if len(value) > MAX_LANGUAGES:
        errors.add("languages", f"At most {MAX_LANGUAGES} languages.", "too_many")
    cleaned: list[str] = []
    for index, code in enumerate(value):
        normalised = code.strip().lower() if isinstance(code, str) else None
        if normalised is None or len(normalised) > 16 or not _LANGUAGE.match(normalised):
            errors.add(f"languages[{index}]", "Must be a language code such as `en` or `pt-br`.", "invalid")
        elif normalised not in cleaned:
            cleaned.append(normalised)
    return cleaned


def _attribute_value_clean(value: Any, path: str, errors: ErrorList) -> str | None:
    if not isinstance(value, str) or not value.strip() or len(value) > ATTRIBUTE_VALUE_MAX:
        errors.add(path, f"Must be a non-blank string of at most {ATTRIBUTE_VALUE_MAX} characters.", "invalid")
        return None
    return value.strip()


def membership_attributes_clean(value: Any, errors: ErrorList) -> dict[str, str | list[str]]:
    """`{key: string or list of strings}`; each bad key or value reported by its path."""
    if not isinstance(value, dict):
        errors.add("attributes", "Must be an object mapping names to strings or lists of strings.", "not_an_object")
        return {}
    if len(value) > MAX_ATTRIBUTES:
        errors.add("attributes", f"At most {MAX_ATTRIBUTES} attributes.", "too_many")
    cleaned: dict[str, str | list[str]] = {}
    for key, item in value.items():
        path = f"attributes.{key}"
        if not isinstance(key, str) or not ATTRIBUTE_KEY.match(key):
            errors.add(path, "Names are lowercase letters, digits, `_`, `.` or `-`, at most 64.", "invalid_key")
            continue
        if isinstance(item, list):
            if len(item) > MAX_ATTRIBUTE_VALUES:
                errors.add(path, f"At most {MAX_ATTRIBUTE_VALUES} values.", "too_many")
            values = [_attribute_value_clean(v, f"{path}[{i}]", errors) for i, v in enumerate(item)]
            cleaned[key] = [v for v in values if v is not None]
        else:
            single = _attribute_value_clean(item, path, errors)
            if single is not None:
                cleaned[key] = single
    return cleaned


def _check_may_edit_profile(actor: Membership, target: Membership) -> None:
    if not actor.role_enum.at_least(Role.ADMIN):
        raise NotAllowed("Only owners and admins may change members' languages, attributes or pause.")
    if actor.pk == target.pk:
        # Attributes decide conflict-of-interest exclusions, and a pause is a sanction: neither is one's own call.
        raise NotAllowed("You cannot change your own languages, attributes or pause; ask another owner or admin.")
    if actor.role_enum is not Role.OWNER and target.role_enum.at_least(Role.ADMIN):
        raise NotAllowed("Only owners may manage owners and admins.")


def membership_update_profile(
    *, actor: Membership, membership: Membership, languages: Any = None, attributes: Any = None
) -> Membership:
    """Set the languages a member works in and the attributes conflict-of-interest rules match (admins)."""
    _check_may_edit_profile(actor, membership)
    errors = ErrorList()
    after: dict[str, Any] = {}
    if languages is not None:
        after["languages"] = membership_languages_clean(languages, errors)
    if attributes is not None:
        after["attributes"] = membership_attributes_clean(attributes, errors)
    errors.raise_if_any()
    changes = changes_between({"languages": membership.languages, "attributes": membership.attributes}, after)
    if not changes:
        return membership
    with transaction.atomic():
        for name, value in after.items():
            setattr(membership, name, value)
        membership.save(update_fields=[*after, "updated_at"])
        audit_record(
            action="member.update", target=membership, changes=changes, metadata={"user": membership.user.email}
        )
    return membership


def membership_pause(*, actor: Membership, membership: Membership, reason: str = "") -> Membership:
    """Stop routing new work to a member in every project (admins); leases already out may still be submitted.

    Pausing a paused member only changes the reason given.
    """
    _check_may_edit_profile(actor, membership)
    reason = reason.strip()[:300]
    if membership.paused_at is not None and membership.paused_reason == reason:
        return membership
    before = {"paused_reason": membership.paused_reason if membership.paused_at else None}
    with transaction.atomic():
        membership.paused_at = membership.paused_at or timezone.now()
        membership.paused_reason = reason
        membership.save(update_fields=["paused_at", "paused_reason", "updated_at"])
        audit_record(
            action="member.pause",
            target=membership,
            changes=changes_between(before, {"paused_reason": reason}),
            metadata={"user": membership.user.email, "paused_at": membership.paused_at.isoformat()},
        )
    return membership


def membership_unpause(*, actor: Membership, membership: Membership) -> Membership:
    """Let a paused member take work again (admins)."""
    _check_may_edit_profile(actor, membership)
    if membership.paused_at is None:
        raise Conflict(f"{membership.user.email} is not paused.")
    with transaction.atomic():
        before = {"paused_at": membership.paused_at.isoformat(), "paused_reason": membership.paused_reason}
        membership.paused_at = None
        membership.paused_reason = ""
        membership.save(update_fields=["paused_at", "paused_reason", "updated_at"])
        audit_record(
            action="member.unpause",
            target=membership,
            changes={k: [v, None] for k, v in before.items()},
            metadata={"user": membership.user.email},
        )
    return membership


def membership_remove(*, actor: Membership, membership: Membership) -> None:
    """Remove a member (or let a member leave); their tokens die with the membership."""
    if actor.pk != membership.pk:
        _check_may_manage(actor, membership)
    with transaction.atomic():
        _check_keeps_an_owner(membership, new_role=None)
        # The apps built on tenancy refuse (recorded annotations must keep their provenance) or release what the
        # member holds (annotation.receivers: live work returns to the pool, so no task keeps their reservation).
        released: dict[str, Any] = {}
        for _, answer in signals.member_removing.send(sender=Membership, actor=actor, membership=membership):
            released.update(answer or {})  # type: ignore[arg-type]  # receivers answer a dict of counts
        audit_record(
            action="member.remove",
            target=membership,
            changes={"role": [membership.role, None]},
            metadata={
                "user": membership.user.email,
                "tokens_revoked": membership.tokens.count(),
                **released,
            },
        )
        membership.delete()


# --- invitations ---


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
        if not actor.role_enum.at_least(Role.ADMIN):
            raise NotAllowed("Only owners and admins may invite members.")
        if actor.role_enum is not Role.OWNER and role.at_least(Role.ADMIN):
            raise NotAllowed("Only owners may invite owners or admins.")
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
    if not actor.role_enum.at_least(Role.ADMIN):
        raise NotAllowed("Only owners and admins may revoke invitations.")
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


# --- API tokens ---


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str  # returned once, never stored


def api_token_create(
    *, actor: Membership, name: str, role: Role | None = None, expires_at: datetime | None = None
) -> IssuedToken:
    """Issue a token acting as the actor, with the actor's role or a lower one."""
    role = role or actor.role_enum
    errors = ErrorList()
    if not role.at_least(Role.ANNOTATOR) or not actor.role_enum.at_least(role):
        errors.add("role", f"A token cannot have a higher role than yours ({actor.role}).", "role_too_high")
    if expires_at is not None and expires_at <= timezone.now():
        errors.add("expires_at", "The expiry must be in the future.", "in_past")
    errors.raise_if_any()
    issued = credentials.issue_token()
    with transaction.atomic():
        token = ApiToken.objects.create(
            membership=actor,
            name=name,
            prefix=issued.prefix,
            key_hash=issued.digest,
            role=role,
            expires_at=expires_at,
        )
        audit_record(
            action="token.create",
            target=token,
            changes={
                "name": [None, name],
                "role": [None, role.value],
                "expires_at": [None, expires_at.isoformat() if expires_at else None],
            },
            metadata={"prefix": issued.prefix},
        )
    return IssuedToken(token=token, raw=issued.raw)


def api_token_revoke(*, actor: Membership, token: ApiToken) -> ApiToken:
    """Revoke a token: one's own, or anyone's for owners and admins."""
    if token.membership_id != actor.pk and not actor.role_enum.at_least(Role.ADMIN):
        raise NotAllowed("Only owners and admins may revoke other members' tokens.")
    if token.revoked_at is not None:
        return token
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(action="token.revoke", target=token, metadata={"prefix": token.prefix})
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Refresh `last_used_at`, at most once per interval so reads stay reads."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= config.token_touch_interval():
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
