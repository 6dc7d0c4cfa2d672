"""tenancy.permissions: who may do what to whom, as the services enforce it and the pages offer it."""

import uuid
from itertools import count

import pytest

from core.errors import NotAllowed
from tenancy import permissions
from tenancy.models import ApiToken, Membership, Role

_ids = count(1)
OWNER, ADMIN, MANAGER, REVIEWER, ANNOTATOR = Role.OWNER, Role.ADMIN, Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR


def _member(role: Role) -> Membership:
    """A member as the rules see one (its id, public id and role); the rules read nothing from the database."""
    return Membership(pk=next(_ids), uuid=uuid.uuid4(), role=role.value)


MANAGE_OTHERS = "Only owners may manage owners and admins."
ONLY_ADMINS_MANAGE = "Only owners and admins may manage members."


@pytest.mark.parametrize(
    ("actor", "target", "refusal"),
    [
        (OWNER, OWNER, None),
        (OWNER, ADMIN, None),
        (OWNER, ANNOTATOR, None),
        (ADMIN, OWNER, MANAGE_OTHERS),
        (ADMIN, ADMIN, MANAGE_OTHERS),
        (ADMIN, MANAGER, None),
        (ADMIN, ANNOTATOR, None),
        (MANAGER, ANNOTATOR, ONLY_ADMINS_MANAGE),
        (ANNOTATOR, ANNOTATOR, ONLY_ADMINS_MANAGE),
    ],
)
def test_member_manage_by_role(actor, target, refusal):
    assert permissions.member_manage(_member(actor), _member(target)) == refusal


def test_nobody_manages_themselves_but_anyone_may_leave():
    owner = _member(OWNER)

    assert permissions.member_manage(owner, owner) == "You cannot change your own role; ask another owner or admin."
    assert permissions.member_remove(owner, owner) is None
    assert permissions.member_remove(_member(ANNOTATOR), owner) == ONLY_ADMINS_MANAGE


@pytest.mark.parametrize(
    ("actor", "role", "refusal"),
    [
        (OWNER, OWNER, None),
        (OWNER, ADMIN, None),
        (ADMIN, MANAGER, None),
        (ADMIN, ADMIN, "Only owners may grant the owner or admin role."),
        (ADMIN, OWNER, "Only owners may grant the owner or admin role."),
    ],
)
def test_member_role_change_hands_out_only_grantable_roles(actor, role, refusal):
    assert permissions.member_role_change(_member(actor), _member(REVIEWER), role) == refusal


def test_roles_grantable_are_what_role_changes_and_invitations_allow():
    assert permissions.roles_grantable(_member(OWNER)) == [OWNER, ADMIN, MANAGER, REVIEWER, ANNOTATOR]
    admin = _member(ADMIN)
    assert permissions.roles_grantable(admin) == [MANAGER, REVIEWER, ANNOTATOR]
    for role in Role:
        granted = role in permissions.roles_grantable(admin)
        assert permissions.allows(permissions.member_role_change(admin, _member(ANNOTATOR), role)) is granted
        assert permissions.allows(permissions.invitation_create(admin, role)) is granted


def test_member_profile_change_refuses_in_its_own_words():
    manager, admin = _member(MANAGER), _member(ADMIN)

    assert permissions.member_profile_change(manager, manager) == (
        "Only owners and admins may change members' languages, attributes or pause."
    )
    assert permissions.member_profile_change(admin, admin) == (
        "You cannot change your own languages, attributes or pause; ask another owner or admin."
    )
    assert permissions.member_profile_change(admin, _member(ADMIN)) == MANAGE_OTHERS
    assert permissions.member_profile_change(admin, _member(MANAGER)) is None


def test_invitations():
    manager, admin = _member(MANAGER), _member(ADMIN)

    assert permissions.invitation_create(manager) == "Only owners and admins may invite members."
    assert permissions.invitation_create(admin, OWNER) == "Only owners may invite owners or admins."
    assert permissions.invitation_create(admin) is None
    assert permissions.invitation_revoke(manager) == "Only owners and admins may revoke invitations."
    assert permissions.invitation_revoke(admin) is None
    assert not permissions.allows(permissions.invitation_links_read(manager))
    assert permissions.allows(permissions.invitation_links_read(admin))


def test_organization_and_skills_are_administered_by_owners_and_admins():
    manager, admin = _member(MANAGER), _member(ADMIN)

    assert [
        rule(manager)
        for rule in (
            permissions.organization_change,
            permissions.skill_create,
            permissions.skill_update,
            permissions.skill_delete,
        )
    ] == [
        "Only owners and admins may change the organization.",
        "Only owners and admins may define skills.",
        "Only owners and admins may change skills.",
        "Only owners and admins may delete skills.",
    ]
    assert permissions.organization_change(admin) is None
    assert permissions.skill_create(admin) is None


@pytest.mark.parametrize(
    ("actor", "target", "refusal"),
    [
        (REVIEWER, ANNOTATOR, "Only managers, admins and owners may verify members' skills."),
        (MANAGER, ANNOTATOR, None),
        (MANAGER, MANAGER, None),
        (MANAGER, ADMIN, "You cannot change the skills of a member whose role is above yours."),
        (ADMIN, OWNER, "You cannot change the skills of a member whose role is above yours."),
        (OWNER, OWNER, None),
    ],
)
def test_member_skill_verify_by_rank(actor, target, refusal):
    assert permissions.member_skill_verify(_member(actor), _member(target)) == refusal


def test_nobody_verifies_their_own_skills():
    owner = _member(OWNER)

    assert permissions.member_skill_verify(owner, owner) == "You cannot verify your own skills; ask another manager."


def test_member_skills_read_one_own_or_anyones_from_manager_up():
    annotator = _member(ANNOTATOR)

    assert permissions.member_skills_read(annotator, annotator.uuid) is None
    assert permissions.member_skills_read(annotator, uuid.uuid4()) == "This action needs the manager role or higher."
    assert permissions.member_skills_read(annotator, None) == "This action needs the manager role or higher."
    assert permissions.member_skills_read(_member(MANAGER), uuid.uuid4()) is None


def test_api_tokens():
    manager, admin = _member(MANAGER), _member(ADMIN)
    token_of_manager = ApiToken(membership_id=manager.pk)

    assert permissions.api_token_roles(manager) == [MANAGER, REVIEWER, ANNOTATOR]
    assert permissions.api_tokens_read_all(admin) is True
    assert permissions.api_tokens_read_all(manager) is False
    assert permissions.api_token_revoke(manager, token_of_manager) is None
    assert permissions.api_token_revoke(admin, token_of_manager) is None
    assert permissions.api_token_revoke(_member(MANAGER), token_of_manager) == (
        "Only owners and admins may revoke other members' tokens."
    )


def test_check_raises_the_refusal_and_allows_reads_it():
    with pytest.raises(NotAllowed) as refused:
        permissions.check("Not you.")

    assert (refused.value.message, refused.value.status) == ("Not you.", 403)
    permissions.check(None)
    assert permissions.allows(None) is True
    assert permissions.allows("Not you.") is False
