"""Reads of organizations, memberships, invitations and tokens."""

from collections import defaultdict

from django.db.models import Model, QuerySet

from core import credentials
from core.context import organization_context
from core.db import GUC_USER, lookup_scope, prepared_cursor, row_instance, select_columns, sql_statement
from tenancy import permissions
from tenancy.models import ApiToken, Invitation, Membership, MemberSkill, Organization, Role, Skill, User


def user_memberships(*, user: User) -> list[Membership]:
    """Every organization the user belongs to, for choosing one; the policy admits only this user's rows."""
    with lookup_scope(GUC_USER, str(user.pk)):
        # Pre-tenant lookup, bounded to one user by the row policy and by the filter.
        return list(
            Membership.objects.unscoped()
            .filter(user=user)
            .select_related("organization")
            .order_by("organization__name")
        )


def membership_of_user(*, user: User, organization: Organization) -> Membership | None:
    with organization_context(organization.pk):
        return Membership.objects.select_related("user", "organization").filter(user=user).first()


class AmbiguousOrganization(Exception):
    """The user belongs to several organizations and named none."""


def membership_for_session(*, user: User, chosen_slug: str | None) -> Membership | None:
    """The membership a signed-in user acts with: in the organization they chose, or their only one.

    None when the chosen organization does not exist or the user is not in it: the two look the same.
    """
    if chosen_slug:
        organization = Organization.objects.filter(slug=chosen_slug).first()
        return membership_of_user(user=user, organization=organization) if organization else None
    memberships = user_memberships(user=user)
    if len(memberships) > 1:
        raise AmbiguousOrganization
    return memberships[0] if memberships else None


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The token a bearer secret names, with its member, user and organization loaded; None when none matches.

    Usability (expiry, revocation, an inactive user) is the caller's to judge: a refused token is still audited.
    """
    if not raw.startswith(f"{credentials.TOKEN_SCHEME}_") or len(raw) > 128:
        return None
    return _api_token_resolve(credentials.digest(raw))


# What tenancy_api_token_resolve() returns, one composite per model (see migration 0005).
_RESOLVED: tuple[tuple[str, type[Model]], ...] = (
    ("token", ApiToken),
    ("membership", Membership),
    ("member_user", User),
    ("organization", Organization),
)

# The token a secret's digest names, with its member, the member's user and organization, each row under its own
# policy, by the database function. Index: the unique index on tenancy_apitoken.key_hash; the others by primary key.
_API_TOKEN_RESOLVE = sql_statement(
    """
    SELECT {columns}
      FROM tenancy_api_token_resolve(%(key_hash)s) AS r
    """,
    columns=", ".join(select_columns(model, f"(r.{alias})") for alias, model in _RESOLVED),
)


def _api_token_resolve(key_hash: str) -> ApiToken | None:
    """The token, then its member, each under its row policy, read by one database function in one round trip."""
    with prepared_cursor() as cursor:
        cursor.execute(_API_TOKEN_RESOLVE, {"key_hash": key_hash})
        row = cursor.fetchone()
    if row is None:
        return None
    loaded: list[Model] = []
    offset = 0
    for _, model in _RESOLVED:
        width = len(model._meta.concrete_fields)
        loaded.append(row_instance(model, row[offset : offset + width]))
        offset += width
    token, membership, user, organization = loaded
    assert isinstance(token, ApiToken)
    assert isinstance(membership, Membership)
    assert isinstance(user, User)
    assert isinstance(organization, Organization)
    membership.user = user
    membership.organization = organization
    token.membership = membership
    return token


def effective_role(*, membership: Membership, token: ApiToken | None) -> Role:
    """A token acts with its own role, never above its member's current role."""
    role = membership.role_enum
    if token is not None and role.at_least(Role(token.role)):
        return Role(token.role)
    return role


def membership_list() -> QuerySet[Membership]:
    return Membership.objects.select_related("user").order_by("id")


def invitation_list() -> QuerySet[Invitation]:
    return Invitation.objects.select_related("invited_by").order_by("id")


def api_token_list(*, actor: Membership) -> QuerySet[ApiToken]:
    """The tokens the actor may see (tenancy.permissions): every token of the organization, or their own."""
    tokens = ApiToken.objects.select_related("membership__user").order_by("id")
    if permissions.api_tokens_read_all(actor):
        return tokens
    return tokens.filter(membership=actor)


def skill_list() -> QuerySet[Skill]:
    return Skill.objects.order_by("id")


def member_skill_list(*, membership: Membership) -> QuerySet[MemberSkill]:
    """A member's levels, expired ones included (they show as not current), with who verified each."""
    return MemberSkill.objects.filter(membership=membership).select_related("skill", "verified_by").order_by("id")


def member_skill_list_by_member() -> dict[int, list[MemberSkill]]:
    """Every member's levels, by membership id, each member's in the order of the skills' names."""
    levels: dict[int, list[MemberSkill]] = defaultdict(list)
    for level in MemberSkill.objects.select_related("skill").order_by("skill__name"):
        levels[level.membership_id].append(level)
    return levels


def member_skill_of(*, membership: Membership, skill: Skill) -> MemberSkill | None:
    return member_skill_list(membership=membership).filter(skill=skill).first()


def organization_list() -> QuerySet[Organization]:
    """Platform staff only: the tenant registry (names and slugs, no tenant data)."""
    return Organization.objects.order_by("id")


def organization_ids() -> list[int]:
    """Platform scope, for the beat tasks that fan out one task per organization: the tenant registry itself, not a
    tenant-owned table."""
    return list(Organization.objects.order_by("id").values_list("pk", flat=True))
