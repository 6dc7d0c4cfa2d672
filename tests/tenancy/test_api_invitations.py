"""Invitations: the only way in. Created by admins, mailed after commit, accepted once, as a new or existing user."""

import hashlib
import uuid
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tenancy import services
from tenancy.api.views import InvitationAcceptThrottle
from tenancy.context import organization_context
from tenancy.models import Invitation, Membership, Organization, Role, User
from tests.factories import MembershipFactory, UserFactory

INVITATIONS_URL = "/api/v1/invitations/"
ACCEPT_URL = "/api/v1/invitations/accept"
GOOD_PASSWORD = "a sound passphrase 42"
INVALID_LINK = "This invitation link is invalid, expired or already used."


@pytest.fixture(autouse=True)
def _generous_accept_throttle(monkeypatch):
    # The accept throttle counts in Redis across test runs; these tests are about acceptance, not the throttle.
    monkeypatch.setattr(InvitationAcceptThrottle, "rate", "100000/hour", raising=False)


def key_of(accept_url: str) -> str:
    return accept_url.rsplit("/", 1)[1]


def invite(organization: Organization, email: str, role: Role = Role.ANNOTATOR) -> services.IssuedInvitation:
    """An invitation issued by the platform operator (no acting member), as the organization_create command does."""
    return services.invitation_create(actor=None, organization=organization, email=email, role=role)


def accept(body: dict, client: APIClient | None = None):
    return (client or APIClient()).post(ACCEPT_URL, body, format="json")


# --- creating ---


def test_admin_creates_an_invitation_and_gets_the_link_once(tenant, api_as):
    admin = api_as(tenant, Role.ADMIN)

    response = admin.post(INVITATIONS_URL, {"email": "New.Person@Example.org", "role": "reviewer"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new.person@example.org"
    assert body["role"] == "reviewer"
    assert body["status"] == "pending"
    assert body["accepted_at"] is None
    assert body["revoked_at"] is None
    assert body["accept_url"].startswith(f"{settings.PUBLIC_URL}/invitations/accept/")
    invitation = Invitation.objects.get(uuid=body["id"])
    assert invitation.key_hash == hashlib.sha256(key_of(body["accept_url"]).encode()).hexdigest()
    assert body["invited_by"] == invitation.invited_by.email
    assert AuditEvent.objects.get(action="invitation.create").changes == {
        "email": [None, "new.person@example.org"],
        "role": [None, "reviewer"],
    }


def test_the_link_never_appears_again(tenant, api_as):
    admin = api_as(tenant, Role.ADMIN)
    created = admin.post(INVITATIONS_URL, {"email": "a@example.org", "role": "annotator"}, format="json").json()
    key = key_of(created["accept_url"])

    listed = admin.get(INVITATIONS_URL)
    detail = admin.get(f"{INVITATIONS_URL}{created['id']}")

    assert (listed.status_code, detail.status_code) == (200, 200)
    assert key not in listed.content.decode()
    assert key not in detail.content.decode()
    assert "accept_url" not in detail.json()
    assert [i["id"] for i in listed.json()["results"]] == [created["id"]]


def test_the_mail_goes_out_after_commit_and_its_link_works(tenant, api_as, django_capture_on_commit_callbacks):
    admin = api_as(tenant, Role.ADMIN)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin.post(INVITATIONS_URL, {"email": "expert@example.org", "role": "annotator"}, format="json")
        assert mail.outbox == []  # nothing is sent while the transaction is open

    assert response.status_code == 201
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["expert@example.org"]
    assert message.subject == f"You are invited to {tenant.name}"
    accept_url = response.json()["accept_url"]
    assert accept_url in message.body
    links = [word for word in message.body.split() if word.startswith(settings.PUBLIC_URL)]
    assert links == [accept_url]
    page = APIClient().get(urlsplit(links[0]).path)
    assert page.status_code == 200
    accepted = accept({"token": key_of(links[0]), "name": "Expert", "password": GOOD_PASSWORD})
    assert accepted.status_code == 201
    assert accepted.json()["user"]["email"] == "expert@example.org"


def test_a_bogus_link_page_is_not_found(tenant):
    assert APIClient().get("/invitations/accept/not-a-real-key").status_code == 404


def test_no_mail_is_sent_for_an_invitation_revoked_before_the_worker_runs(
    tenant, api_as, django_capture_on_commit_callbacks
):
    admin = api_as(tenant, Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = admin.post(INVITATIONS_URL, {"email": "late@example.org", "role": "annotator"}, format="json")
    admin.delete(f"{INVITATIONS_URL}{created.json()['id']}")

    for callback in callbacks:
        callback()

    assert mail.outbox == []


@pytest.mark.parametrize(
    ("inviter", "role", "status"),
    [
        (Role.OWNER, "owner", 201),
        (Role.OWNER, "admin", 201),
        (Role.ADMIN, "manager", 201),
        (Role.ADMIN, "admin", 403),
        (Role.ADMIN, "owner", 403),
        (Role.MANAGER, "annotator", 403),
        (Role.ANNOTATOR, "annotator", 403),
    ],
)
def test_who_may_invite_whom(tenant, api_as, inviter, role, status):
    response = api_as(tenant, inviter).post(INVITATIONS_URL, {"email": "x@example.org", "role": role}, format="json")

    assert response.status_code == status
    assert Invitation.objects.count() == (1 if status == 201 else 0)


def test_a_pending_duplicate_is_a_conflict(tenant, api_as):
    admin = api_as(tenant, Role.ADMIN)
    admin.post(INVITATIONS_URL, {"email": "dup@example.org", "role": "annotator"}, format="json")

    response = admin.post(INVITATIONS_URL, {"email": "DUP@example.org", "role": "reviewer"}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert "pending invitation" in response.json()["detail"]
    assert Invitation.objects.count() == 1


def test_after_revoking_the_address_may_be_invited_again(tenant, api_as):
    admin = api_as(tenant, Role.ADMIN)
    first = admin.post(INVITATIONS_URL, {"email": "again@example.org", "role": "annotator"}, format="json").json()
    admin.delete(f"{INVITATIONS_URL}{first['id']}")

    response = admin.post(INVITATIONS_URL, {"email": "again@example.org", "role": "annotator"}, format="json")

    assert response.status_code == 201
    assert Invitation.objects.count() == 2


def test_inviting_an_existing_member_is_a_conflict(tenant, api_as):
    member = MembershipFactory(role=Role.ANNOTATOR, user__email="member@example.org")
    admin = api_as(tenant, Role.ADMIN)

    response = admin.post(INVITATIONS_URL, {"email": member.user.email, "role": "reviewer"}, format="json")

    assert response.status_code == 409
    assert response.json()["detail"] == "member@example.org is already a member."
    assert Invitation.objects.count() == 0


def test_a_member_of_another_organization_may_be_invited(tenant, other_tenant, api_as):
    with organization_context(other_tenant.pk):
        MembershipFactory(organization=other_tenant, user__email="elsewhere@example.org")

    response = api_as(tenant, Role.ADMIN).post(
        INVITATIONS_URL, {"email": "elsewhere@example.org", "role": "annotator"}, format="json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "role": "annotator"}, "email"),
        ({"email": "a@example.org", "role": "emperor"}, "role"),
        ({"role": "annotator"}, "email"),
        ({"email": "a@example.org", "role": "annotator", "organization": "lab-0"}, "organization"),
    ],
)
def test_bad_invitation_bodies_name_the_field(tenant, api_as, body, field):
    response = api_as(tenant, Role.ADMIN).post(INVITATIONS_URL, body, format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert Invitation.objects.count() == 0


# --- accepting ---


def test_a_new_user_accepts_and_becomes_a_member_with_the_invited_role(tenant):
    issued = invite(tenant, "fresh@example.org", Role.REVIEWER)

    response = accept({"token": key_of(issued.accept_url), "name": "Fresh Person", "password": GOOD_PASSWORD})

    assert response.status_code == 201
    body = response.json()
    assert body["organization"] == tenant.slug
    assert body["role"] == "reviewer"
    assert body["user"]["email"] == "fresh@example.org"
    assert body["user"]["name"] == "Fresh Person"
    user = User.objects.get(email="fresh@example.org")
    assert user.check_password(GOOD_PASSWORD)
    membership = Membership.objects.get(user=user)
    assert (membership.role, str(membership.uuid)) == ("reviewer", body["id"])
    invitation = Invitation.objects.get(pk=issued.invitation.pk)
    assert invitation.status == "accepted"
    assert invitation.accepted_by == user


def test_accepting_is_audited_as_invitation_accept_then_member_add(tenant):
    issued = invite(tenant, "audited@example.org", Role.MANAGER)

    accept({"token": key_of(issued.accept_url), "name": "A", "password": GOOD_PASSWORD})

    events = list(AuditEvent.objects.filter(action__in=["invitation.accept", "member.add"]).order_by("id"))
    assert [e.action for e in events] == ["invitation.accept", "member.add"]
    assert events[0].target_id == str(issued.invitation.uuid)
    assert events[0].metadata == {"email": "audited@example.org"}
    assert events[1].changes == {"role": [None, "manager"], "user": [None, "audited@example.org"]}
    assert events[1].metadata == {"via": "invitation"}
    assert events[1].id > events[0].id


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "This password is too short. It must contain at least 12 characters."),
        ("123456789012345", "This password is entirely numeric."),
        ("", "This password is too short. It must contain at least 12 characters."),
    ],
)
def test_a_weak_password_is_rejected_by_name_and_nothing_is_written(tenant, password, message):
    issued = invite(tenant, "weak@example.org")

    response = accept({"token": key_of(issued.accept_url), "name": "W", "password": password})

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {e["field"] for e in errors} == {"password"}
    assert message in [e["message"] for e in errors]
    assert not User.objects.filter(email="weak@example.org").exists()
    assert Invitation.objects.get(pk=issued.invitation.pk).status == "pending"
    assert not AuditEvent.objects.filter(action="invitation.accept").exists()


def test_a_new_user_must_give_a_name(tenant):
    issued = invite(tenant, "nameless@example.org")

    response = accept({"token": key_of(issued.accept_url), "password": GOOD_PASSWORD})

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("name", "required")]


def test_an_existing_user_accepts_with_their_password(tenant, other_tenant):
    with organization_context(other_tenant.pk):
        elsewhere = MembershipFactory(organization=other_tenant, user__email="known@example.org")
    issued = invite(tenant, "known@example.org", Role.ANNOTATOR)

    response = accept({"token": key_of(issued.accept_url), "password": "correct horse battery staple"})

    assert response.status_code == 201
    assert Membership.objects.get(user=elsewhere.user).role == "annotator"
    assert User.objects.filter(email="known@example.org").count() == 1


def test_an_existing_user_with_a_wrong_password_is_refused(tenant):
    UserFactory(email="known2@example.org")
    issued = invite(tenant, "known2@example.org")

    response = accept({"token": key_of(issued.accept_url), "password": "not the password at all"})

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("password", "invalid_password")]
    assert Membership.objects.count() == 0
    assert Invitation.objects.get(pk=issued.invitation.pk).status == "pending"


def test_a_signed_in_user_accepts_without_a_password(tenant):
    user = UserFactory(email="signed.in@example.org")
    issued = invite(tenant, "signed.in@example.org", Role.REVIEWER)
    client = APIClient()
    client.force_login(user)

    response = accept({"token": key_of(issued.accept_url)}, client)

    assert response.status_code == 201
    assert Membership.objects.get(user=user).role == "reviewer"


def test_a_signed_in_user_cannot_take_someone_elses_invitation(tenant):
    intruder = UserFactory(email="intruder@example.org")
    issued = invite(tenant, "victim@example.org")
    client = APIClient()
    client.force_login(intruder)

    response = accept({"token": key_of(issued.accept_url)}, client)

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("token", "wrong_user")]
    assert Membership.objects.count() == 0


def test_an_invitation_is_single_use(tenant):
    issued = invite(tenant, "once@example.org")
    key = key_of(issued.accept_url)
    assert accept({"token": key, "name": "Once", "password": GOOD_PASSWORD}).status_code == 201

    again = accept({"token": key, "name": "Twice", "password": GOOD_PASSWORD})

    assert again.status_code == 400
    assert again.json()["detail"] == INVALID_LINK
    assert Membership.objects.count() == 1
    assert AuditEvent.objects.filter(action="invitation.accept").count() == 1


def test_an_expired_invitation_cannot_be_accepted(tenant, settings):
    settings.TENANCY_INVITATION_TTL_HOURS = 0
    issued = invite(tenant, "late@example.org")

    response = accept({"token": key_of(issued.accept_url), "name": "Late", "password": GOOD_PASSWORD})

    assert response.status_code == 400
    assert response.json()["detail"] == INVALID_LINK
    assert not User.objects.filter(email="late@example.org").exists()


def test_a_revoked_invitation_cannot_be_accepted(tenant, api_as):
    admin = api_as(tenant, Role.ADMIN)
    created = admin.post(INVITATIONS_URL, {"email": "gone@example.org", "role": "annotator"}, format="json").json()

    revoked = admin.delete(f"{INVITATIONS_URL}{created['id']}")
    response = accept({"token": key_of(created["accept_url"]), "name": "Gone", "password": GOOD_PASSWORD})

    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert AuditEvent.objects.get(action="invitation.revoke").target_id == created["id"]
    assert response.status_code == 400
    assert response.json()["detail"] == INVALID_LINK
    assert not User.objects.filter(email="gone@example.org").exists()


def test_an_accepted_invitation_cannot_be_revoked(tenant, api_as):
    issued = invite(tenant, "done@example.org")
    accept({"token": key_of(issued.accept_url), "name": "Done", "password": GOOD_PASSWORD})

    response = api_as(tenant, Role.ADMIN).delete(f"{INVITATIONS_URL}{issued.invitation.uuid}")

    assert response.status_code == 409
    assert response.json()["detail"] == "The invitation is accepted and can no longer be revoked."


def test_an_unknown_key_is_refused(tenant):
    response = accept({"token": "x" * 43, "name": "N", "password": GOOD_PASSWORD})

    assert response.status_code == 400
    assert response.json()["detail"] == INVALID_LINK


def test_a_key_is_required(tenant):
    response = accept({"name": "N", "password": GOOD_PASSWORD})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["token"]


def test_accepting_while_already_a_member_is_a_conflict(tenant):
    issued = invite(tenant, "joiner@example.org")
    MembershipFactory(user__email="joiner@example.org", role=Role.ANNOTATOR)

    response = accept({"token": key_of(issued.accept_url), "password": "correct horse battery staple"})

    assert response.status_code == 409
    assert Invitation.objects.get(pk=issued.invitation.pk).status == "pending"


def test_accepting_is_throttled_per_client_address(tenant, monkeypatch):
    monkeypatch.setattr(InvitationAcceptThrottle, "rate", "2/hour", raising=False)
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}"
    cache.delete(f"throttle_invitation_accept_{address}")
    statuses = []

    for attempt in range(3):
        response = APIClient().post(
            ACCEPT_URL,
            {"token": "guess", "password": "guess"},
            format="json",
            REMOTE_ADDR=address,
            HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}",  # rotating a client-supplied header must not help
        )
        statuses.append(response.status_code)

    assert statuses == [400, 400, 429]
