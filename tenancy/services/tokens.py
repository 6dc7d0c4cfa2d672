"""Writes to API tokens: issuing, revoking, and noting when one was last used."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core import credentials
from core.audit.record import audit_record
from core.errors import ErrorList
from tenancy import config, permissions
from tenancy.models import ApiToken, Membership, Role


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
    # A field's error (400), not a refusal: the request asks for a role no token of this actor may have.
    if role not in permissions.api_token_roles(actor):
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
    permissions.check(permissions.api_token_revoke(actor, token))
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
