"""Members: listing, reading, changing roles and removing, within what the actor's own role allows."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tenancy.models import Membership, Role
from tests.conftest import member_client
from tests.factories import ApiTokenFactory, MembershipFactory

MEMBERS_URL = "/api/v1/members/"


def member_url(membership: Membership) -> str:
    return f"{MEMBERS_URL}{membership.uuid}"


def stored_role(membership: Membership) -> str:
    return Membership.objects.get(pk=membership.pk).role


# --- reading ---


def test_list_shows_every_member_with_user_and_role(tenant):
    client, me = member_client(tenant, Role.MANAGER)
    other = MembershipFactory(role=Role.ANNOTATOR, user__name="Grace Hopper")

    response = client.get(MEMBERS_URL)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [str(me.uuid), str(other.uuid)]
    assert results[1]["user"] == {"id": str(other.user.uuid), "email": other.user.email, "name": "Grace Hopper"}
    assert results[1]["role"] == "annotator"
    assert set(results[1]) == {
        "id",
        "user",
        "role",
        "languages",
        "attributes",
        "paused_at",
        "paused_reason",
        "created_at",
        "updated_at",
    }


def test_list_filters_by_role(tenant):
    client, _ = member_client(tenant, Role.ADMIN)
    reviewers = [MembershipFactory(role=Role.REVIEWER) for _ in range(2)]
    MembershipFactory(role=Role.ANNOTATOR)

    response = client.get(MEMBERS_URL, {"role": "reviewer"})

    assert [r["id"] for r in response.json()["results"]] == [str(m.uuid) for m in reviewers]


def test_list_rejects_an_unknown_role_filter(tenant):
    client, _ = member_client(tenant, Role.ADMIN)

    response = client.get(MEMBERS_URL, {"role": "emperor"})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["role"]


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ANNOTATOR])
def test_below_manager_cannot_list_members(tenant, api_as, role):
    response = api_as(tenant, role).get(MEMBERS_URL)

    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="access.forbidden", outcome="denied").count() == 1


def test_detail_shows_one_member(tenant, api_as):
    other = MembershipFactory(role=Role.REVIEWER)

    response = api_as(tenant, Role.MANAGER).get(member_url(other))

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["role"]) == (str(other.uuid), "reviewer")


@pytest.mark.parametrize("member_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "42"])
def test_detail_of_an_unknown_member_is_404(tenant, api_as, member_id):
    response = api_as(tenant, Role.MANAGER).get(f"{MEMBERS_URL}{member_id}")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found", "errors": []}


# --- changing roles ---


def test_admin_changes_a_role_and_it_is_audited(tenant):
    client, admin = member_client(tenant, Role.ADMIN)
    target = MembershipFactory(role=Role.ANNOTATOR)

    response = client.patch(member_url(target), {"role": "reviewer"}, format="json")

    assert response.status_code == 200
    assert response.json()["role"] == "reviewer"
    assert stored_role(target) == "reviewer"
    event = AuditEvent.objects.get(action="member.update")
    assert event.changes == {"role": ["annotator", "reviewer"]}
    assert event.metadata == {"user": target.user.email}
    assert event.target_id == str(target.uuid)
    assert event.actor_label == admin.user.email
    assert event.actor_user_id == admin.user_id


def test_setting_the_same_role_writes_nothing(tenant, api_as):
    target = MembershipFactory(role=Role.REVIEWER)

    response = api_as(tenant, Role.ADMIN).patch(member_url(target), {"role": "reviewer"}, format="json")

    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action="member.update").exists()


@pytest.mark.parametrize(
    ("actor_role", "target_role", "new_role", "status"),
    [
        (Role.OWNER, Role.ANNOTATOR, "admin", 200),
        (Role.OWNER, Role.ADMIN, "manager", 200),
        (Role.OWNER, Role.OWNER, "admin", 200),
        (Role.OWNER, Role.MANAGER, "owner", 200),
        (Role.ADMIN, Role.ANNOTATOR, "manager", 200),
        (Role.ADMIN, Role.MANAGER, "annotator", 200),
        (Role.ADMIN, Role.ANNOTATOR, "admin", 403),
        (Role.ADMIN, Role.ANNOTATOR, "owner", 403),
        (Role.ADMIN, Role.ADMIN, "manager", 403),
        (Role.ADMIN, Role.OWNER, "annotator", 403),
        (Role.MANAGER, Role.ANNOTATOR, "reviewer", 403),
        (Role.ANNOTATOR, Role.ANNOTATOR, "reviewer", 403),
    ],
)
def test_who_may_change_whose_role(tenant, api_as, actor_role, target_role, new_role, status):
    MembershipFactory(role=Role.OWNER)  # so an owner can always be demoted by another
    target = MembershipFactory(role=target_role)

    response = api_as(tenant, actor_role).patch(member_url(target), {"role": new_role}, format="json")

    assert response.status_code == status
    assert stored_role(target) == (new_role if status == 200 else target_role.value)
    assert AuditEvent.objects.filter(action="member.update").count() == (1 if status == 200 else 0)


def test_nobody_changes_their_own_role(tenant):
    client, me = member_client(tenant, Role.OWNER)
    MembershipFactory(role=Role.OWNER)

    response = client.patch(member_url(me), {"role": "annotator"}, format="json")

    assert response.status_code == 403
    assert response.json()["detail"] == "You cannot change your own role; ask another owner or admin."
    assert stored_role(me) == "owner"


def test_a_token_acts_with_its_own_lower_role_when_managing_members(tenant):
    owner = MembershipFactory(role=Role.OWNER)
    admin_token = ApiTokenFactory(membership=owner, role=Role.ADMIN)
    target = MembershipFactory(role=Role.MANAGER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_token.raw}")

    promote = client.patch(member_url(target), {"role": "owner"}, format="json")
    invite = client.post("/api/v1/invitations/", {"email": "boss@example.org", "role": "owner"}, format="json")

    assert promote.status_code == 403
    assert invite.status_code == 403
    assert stored_role(target) == "manager"
    assert stored_role(owner) == "owner"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"role": "emperor"}, "role", "invalid_choice"),
        ({}, "body", "empty"),
        ({"role": "reviewer", "user": "x@example.org"}, "user", "unknown_field"),
    ],
)
def test_bad_role_changes_name_the_field(tenant, api_as, body, field, code):
    target = MembershipFactory(role=Role.ANNOTATOR)

    response = api_as(tenant, Role.OWNER).patch(member_url(target), body, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    assert stored_role(target) == "annotator"


# --- removing ---


def test_admin_removes_a_member_and_it_is_audited(tenant):
    client, _ = member_client(tenant, Role.ADMIN)
    target = MembershipFactory(role=Role.ANNOTATOR)
    ApiTokenFactory(membership=target)
    ApiTokenFactory(membership=target)

    response = client.delete(member_url(target))

    assert response.status_code == 204
    assert not Membership.objects.filter(pk=target.pk).exists()
    event = AuditEvent.objects.get(action="member.remove")
    assert event.changes == {"role": ["annotator", None]}
    assert event.metadata == {"user": target.user.email, "tokens_revoked": 2, "assignments_released": 0}


def test_admin_cannot_remove_an_admin_or_owner(tenant, api_as):
    admin_target = MembershipFactory(role=Role.ADMIN)
    owner_target = MembershipFactory(role=Role.OWNER)
    admin = api_as(tenant, Role.ADMIN)

    assert admin.delete(member_url(admin_target)).status_code == 403
    assert admin.delete(member_url(owner_target)).status_code == 403
    assert Membership.objects.filter(pk__in=[admin_target.pk, owner_target.pk]).count() == 2


def test_owner_removes_another_owner(tenant, api_as):
    target = MembershipFactory(role=Role.OWNER)

    response = api_as(tenant, Role.OWNER).delete(member_url(target))

    assert response.status_code == 204
    assert not Membership.objects.filter(pk=target.pk).exists()


def test_the_last_owner_cannot_leave(tenant):
    client, me = member_client(tenant, Role.OWNER)

    response = client.delete(member_url(me))

    assert response.status_code == 409
    assert response.json()["detail"] == "An organization must keep at least one owner."
    assert Membership.objects.filter(pk=me.pk).exists()
    assert not AuditEvent.objects.filter(action="member.remove").exists()


def test_an_owner_may_leave_when_another_owner_remains(tenant):
    client, me = member_client(tenant, Role.OWNER)
    MembershipFactory(role=Role.OWNER)

    response = client.delete(member_url(me))

    assert response.status_code == 204
    assert not Membership.objects.filter(pk=me.pk).exists()


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR])
def test_below_admin_cannot_remove_members(tenant, api_as, role):
    target = MembershipFactory(role=Role.ANNOTATOR)

    response = api_as(tenant, role).delete(member_url(target))

    assert response.status_code == 403
    assert Membership.objects.filter(pk=target.pk).exists()
