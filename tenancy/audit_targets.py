"""What the audit trail calls tenancy's objects (core.audit.targets): members and users by name and e-mail,
invitations by address, tokens by name and prefix, skills and the organization by name."""

import uuid
from collections.abc import Collection

from core.audit.targets import TargetKind, target_kinds_register
from core.context import current_organization_id
from tenancy.models import ApiToken, Invitation, Membership, Organization, Skill


def person_label(name: str, email: str) -> str:
    """How a person is named on the trail: "Ada Lovelace <ada@lab.example>", or the address alone."""
    return f"{name} <{email}>" if name else email


def _members(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = Membership.objects.filter(uuid__in=ids).values_list("uuid", "user__name", "user__email")
    return {key: person_label(name, email) for key, name, email in rows}


def _users(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    # Users are not the organization's own rows: only those who are (still) its members are named here.
    rows = Membership.objects.filter(user__uuid__in=ids).values_list("user__uuid", "user__name", "user__email")
    return {key: person_label(name, email) for key, name, email in rows}


def _organizations(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    # Never another organization's name, whatever an event names.
    rows = Organization.objects.filter(pk=current_organization_id(), uuid__in=ids).values_list("uuid", "name")
    return dict(rows)


def _invitations(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    return dict(Invitation.objects.filter(uuid__in=ids).values_list("uuid", "email"))


def _tokens(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = ApiToken.objects.filter(uuid__in=ids).values_list("uuid", "name", "prefix")
    return {key: f"{name} ({prefix}…)" for key, name, prefix in rows}


def _skills(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    return dict(Skill.objects.filter(uuid__in=ids).values_list("uuid", "name"))


target_kinds_register(
    {
        "tenancy.membership": TargetKind("member", _members),
        "tenancy.user": TargetKind("user", _users),
        "tenancy.organization": TargetKind("organization", _organizations),
        "tenancy.invitation": TargetKind("invitation", _invitations),
        "tenancy.apitoken": TargetKind("API token", _tokens),
        "tenancy.skill": TargetKind("skill", _skills),
    }
)
