"""Who may do what in an organization: each rule once, over the acting member and what it acts on.

A rule answers None when the actor may, or the refusal in the words the member reads (the API's 403 detail, the
page's message). Services enforce a rule with `check` before they write; pages and API views ask `allows` what to
show or offer, so that they never offer what the service would refuse.

The actor is the member as the request acts: through an API token, with the token's role when it is lower
(tenancy.api.base).
"""

import uuid

from core.errors import NotAllowed
from tenancy.models import ApiToken, Membership, Role

# None: the actor may. Otherwise why not, as the member reads it.
Refusal = str | None


def allows(refusal: Refusal) -> bool:
    """Whether a rule's answer lets the actor go ahead."""
    return refusal is None


def check(refusal: Refusal) -> None:
    """Refuse with the rule's answer (NotAllowed: a 403 through the API, a message on a page), or let pass."""
    if refusal is not None:
        raise NotAllowed(refusal)


def _administrator(actor: Membership) -> bool:
    """The organization is administered by its owners and admins."""
    return actor.role_enum.at_least(Role.ADMIN)


def _administers(actor: Membership, doing: str) -> Refusal:
    return None if _administrator(actor) else f"Only owners and admins may {doing}."


def _owner_or_below_admin(actor: Membership, role: Role) -> bool:
    """Owners act on, and hand out, every role; anyone else only the roles below admin."""
    return actor.role_enum is Role.OWNER or not role.at_least(Role.ADMIN)


# --- the organization ---


def organization_change(actor: Membership) -> Refusal:
    """Rename the organization or change its settings."""
    return _administers(actor, "change the organization")


# --- members ---


def member_manage(actor: Membership, target: Membership) -> Refusal:
    """Act on another member: change their role, pause or remove them. Nobody changes their own standing."""
    if actor.pk == target.pk:
        return "You cannot change your own role; ask another owner or admin."
    if refusal := _administers(actor, "manage members"):
        return refusal
    if not _owner_or_below_admin(actor, target.role_enum):
        return "Only owners may manage owners and admins."
    return None


def member_role_change(actor: Membership, target: Membership, role: Role) -> Refusal:
    """Give a member another role: one the actor may hand out (`roles_grantable`)."""
    if refusal := member_manage(actor, target):
        return refusal
    if not _owner_or_below_admin(actor, role):
        return "Only owners may grant the owner or admin role."
    return None


def member_remove(actor: Membership, target: Membership) -> Refusal:
    """Remove a member; any member may leave."""
    return None if actor.pk == target.pk else member_manage(actor, target)


def member_profile_change(actor: Membership, target: Membership) -> Refusal:
    """Set a member's languages and conflict-of-interest attributes, pause or unpause them."""
    if refusal := _administers(actor, "change members' languages, attributes or pause"):
        return refusal
    if actor.pk == target.pk:
        # Attributes decide conflict-of-interest exclusions, and a pause is a sanction: neither is one's own call.
        return "You cannot change your own languages, attributes or pause; ask another owner or admin."
    if not _owner_or_below_admin(actor, target.role_enum):
        return "Only owners may manage owners and admins."
    return None


def roles_grantable(actor: Membership) -> list[Role]:
    """The roles the actor may give a member or invite one to: owners any, admins up to manager."""
    return [role for role in Role if _owner_or_below_admin(actor, role)]


# --- invitations ---


def invitation_create(actor: Membership, role: Role | None = None) -> Refusal:
    """Invite an address to `role` (with None: to any role at all). Operators, who have no membership, are not
    asked: they invite an organization's first owner."""
    if refusal := _administers(actor, "invite members"):
        return refusal
    if role is not None and not _owner_or_below_admin(actor, role):
        return "Only owners may invite owners or admins."
    return None


def invitation_revoke(actor: Membership) -> Refusal:
    return _administers(actor, "revoke invitations")


def invitation_links_read(actor: Membership) -> Refusal:
    """Copy a pending invitation's link, which is the invitation itself: whoever may invite may hand it over."""
    return invitation_create(actor)


# --- skills and members' levels in them ---


def skill_create(actor: Membership) -> Refusal:
    return _administers(actor, "define skills")


def skill_update(actor: Membership) -> Refusal:
    return _administers(actor, "change skills")


def skill_delete(actor: Membership) -> Refusal:
    return _administers(actor, "delete skills")


def member_skill_verify(actor: Membership, target: Membership) -> Refusal:
    """Record, re-verify or withdraw a member's level in a skill."""
    if not actor.role_enum.at_least(Role.MANAGER):
        return "Only managers, admins and owners may verify members' skills."
    if actor.pk == target.pk:
        # A level is worth what its verification is worth: nobody vouches for themselves.
        return "You cannot verify your own skills; ask another manager."
    if actor.role_enum is not Role.OWNER and target.role_enum.rank > actor.role_enum.rank:
        return "You cannot change the skills of a member whose role is above yours."
    return None


def member_skills_read(actor: Membership, member_id: uuid.UUID | None) -> Refusal:
    """Read the levels of the member with public id `member_id`: one's own, or anyone's from manager up. Judged on
    the id alone, so that a refusal says nothing about whether the member exists."""
    if actor.role_enum.at_least(Role.MANAGER) or member_id == actor.uuid:
        return None
    return f"This action needs the {Role.MANAGER.value} role or higher."


# --- API tokens ---


def api_token_roles(actor: Membership) -> list[Role]:
    """The roles a token the actor issues may have: their own or a lower one (a token never outranks its maker)."""
    return [role for role in Role if actor.role_enum.at_least(role)]


def api_tokens_read_all(actor: Membership) -> bool:
    """Whether the actor sees every member's tokens (owners and admins) rather than only their own."""
    return _administrator(actor)


def api_token_revoke(actor: Membership, token: ApiToken) -> Refusal:
    """Revoke a token: one's own, or anyone's for owners and admins."""
    if token.membership_id == actor.pk:
        return None
    return _administers(actor, "revoke other members' tokens")
