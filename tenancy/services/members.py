"""Writes to memberships: adding a member, their role, their routing profile (languages, conflict-of-interest
attributes, pause) and removing them. Each records its audit event."""

import re
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.audit.record import audit_record
from core.errors import Conflict, ErrorList
from tenancy import permissions, signals
from tenancy.models import Membership, Organization, Role, User
from tenancy.services.changes import changes_between


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


def _check_keeps_an_owner(target: Membership, *, new_role: Role | None) -> None:
    if target.role_enum is Role.OWNER and new_role is not Role.OWNER:
        owners = Membership.objects.select_for_update().filter(role=Role.OWNER)
        if len(owners) <= 1:
            raise Conflict("An organization must keep at least one owner.")


def membership_update_role(*, actor: Membership, membership: Membership, role: Role) -> Membership:
    """Change a member's role within what the actor's own role allows; nobody raises their own."""
    permissions.check(permissions.member_role_change(actor, membership, role))
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


def membership_update_profile(
    *, actor: Membership, membership: Membership, languages: Any = None, attributes: Any = None
) -> Membership:
    """Set the languages a member works in and the attributes conflict-of-interest rules match (admins)."""
    permissions.check(permissions.member_profile_change(actor, membership))
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
    permissions.check(permissions.member_profile_change(actor, membership))
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
    permissions.check(permissions.member_profile_change(actor, membership))
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
    permissions.check(permissions.member_remove(actor, membership))
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
