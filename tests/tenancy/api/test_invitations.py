"""Invitations: the only way in. Created by admins, mailed after commit (the only place the secret goes), accepted
once, as a new account for the invited address or as that address's account signed in."""

import hashlib
import re
import uuid
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.context import organization_context
from tenancy.api.views import InvitationAcceptThrottle
from tenancy.models import Invitation, Membership, Organization, Role, User
from tenancy.services.invitations import IssuedInvitation, invitation_create
from tests.factories import MembershipFactory, UserFactory

INVITATIONS_URL = "/api/v1/invitations/"
ACCEPT_URL = "/api/v1/invitations/accept"
GOOD_PASSWORD = "a sound passphrase 42"
INVALID_LINK = "This invitation link is invalid, expired or already used."
# What the API shows of an invitation: never its secret, nor a link carrying it.
INVITATION_FIELDS = {
    "id",
    "email",
    "role",
    "status",
    "invited_by",
    "expires_at",
    "accepted_at",
    "revoked_at",
    "created_at",
}
MAILED_LINK = re.compile(r"(\S+/invitations/accept#([A-Za-z0-9_-]{43}))\s")


@pytest.fixture(autouse=True)
def _generous_accept_throttle(monkeypatch):
    # The accept throttle counts in Redis across test runs; these tests are about acceptance, not the throttle.
    monkeypatch.setattr(InvitationAcceptThrottle, "rate", "100000/hour", raising=False)


def mailed_link(message: mail.EmailMessage) -> tuple[str, str]:
    """The accept link a mail carries, and the secret in it."""
    found = MAILED_LINK.findall(message.body + "\n")
    assert len(found) == 1, message.body
    return found[0]


def invite(organization: Organization, email: str, role: Role = Role.ANNOTATOR) -> IssuedInvitation:
    """An invitation issued by the platform operator (no acting member), as the organization_create command does."""
    return invitation_create(actor=None, organization=organization, email=email, role=role)


def accept(body: dict, client: APIClient | None = None):
    return (client or APIClient()).post(ACCEPT_URL, body, format="json")


def signed_in(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


# --- creating ---


def test_admin_creates_an_invitation_whose_secret_goes_by_mail_only(tenant, api_as, django_capture_on_commit_callbacks):
    admin = api_as(tenant, Role.ADMIN)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(INVITATIONS_URL, {"email": "New.Person@Example.org", "role": "reviewer"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == INVITATION_FIELDS
    assert (body["email"], body["role"], body["status"]) == ("new.person@example.org", "reviewer", "pending")
    assert (body["accepted_at"], body["revoked_at"]) == (None, None)
    invitation = Invitation.objects.get(uuid=body["id"])
    assert body["invited_by"] == invitation.invited_by.email
    # The one copy of the secret is in the mail to the invited address, never in what the admin got back.
    (message,) = mail.outbox
    assert message.to == ["new.person@example.org"]
    link, secret = mailed_link(message)
    assert link == f"{settings.PUBLIC_URL}/invitations/accept#{secret}"
    assert invitation.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in response.content.decode()
    assert AuditEvent.objects.get(action="invitation.create").changes == {
        "email": [None, "new.person@example.org"],
        "role": [None, "reviewer"],
    }


def test_the_secret_never_appears_in_a_list_or_a_detail(tenant, api_as, django_capture_on_commit_callbacks):
    admin = api_as(tenant, Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        created = admin.post(INVITATIONS_URL, {"email": "a@example.org", "role": "annotator"}, format="json").json()
    _, secret = mailed_link(mail.outbox[0])

    listed = admin.get(INVITATIONS_URL)
    detail = admin.get(f"{INVITATIONS_URL}{created['id']}")

    assert (listed.status_code, detail.status_code) == (200, 200)
    assert secret not in listed.content.decode()
    assert secret not in detail.content.decode()
    assert set(detail.json()) == INVITATION_FIELDS
    assert [i["id"] for i in listed.json()["results"]] == [created["id"]]


def test_creating_answers_alike_for_an_address_with_and_without_an_account(
    tenant, other_tenant, api_as, django_capture_on_commit_callbacks
):
    # An admin must not learn from the answer whether an address has an account anywhere on the installation.
    with organization_context(other_tenant.pk):
        MembershipFactory(organization=other_tenant, user__email="known@example.org")
    admin = api_as(tenant, Role.ADMIN)

    with django_capture_on_commit_callbacks(execute=True):
        known = admin.post(INVITATIONS_URL, {"email": "known@example.org", "role": "annotator"}, format="json")
        unknown = admin.post(INVITATIONS_URL, {"email": "unknown@example.org", "role": "annotator"}, format="json")

    def shape(response):
        differs = ("id", "email", "created_at", "expires_at")
        return response.status_code, {k: v for k, v in response.json().items() if k not in differs}

    assert shape(known) == shape(unknown)
    assert (shape(known)[0], set(known.json())) == (201, INVITATION_FIELDS)
    # And the two mails say the same, but for the address and the secret.
    bodies = [MAILED_LINK.sub("LINK ", m.body + "\n") for m in mail.outbox]
    assert [m.to for m in mail.outbox] == [["known@example.org"], ["unknown@example.org"]]
    assert bodies[0] == bodies[1]


def test_the_mail_goes_out_after_commit_and_its_link_works(tenant, api_as, django_capture_on_commit_callbacks):
    admin = api_as(tenant, Role.ADMIN)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin.post(INVITATIONS_URL, {"email": "expert@example.org", "role": "annotator"}, format="json")
        assert mail.outbox == []  # nothing is sent while the transaction is open

    assert response.status_code == 201
    assert len(callbacks) == 1
    (message,) = mail.outbox
    assert message.to == ["expert@example.org"]
    assert message.subject == f"You are invited to {tenant.name}"
    link, secret = mailed_link(message)
    # A browser requests the link without its fragment: the page it gets carries no secret either way.
    page = APIClient().get(urlsplit(link).path)
    assert (urlsplit(link).path, page.status_code) == ("/invitations/accept", 200)
    accepted = accept({"token": secret, "name": "Expert", "password": GOOD_PASSWORD})
    assert accepted.status_code == 201
    assert accepted.json()["user"]["email"] == "expert@example.org"


def test_a_bogus_secret_on_the_page_is_not_found(tenant):
    response = APIClient().post("/invitations/accept", {"key": "not-a-real-key"})

    assert response.status_code == 404
    assert "This invitation is not valid" in response.content.decode()


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

    response = accept({"token": issued.secret, "name": "Fresh Person", "password": GOOD_PASSWORD})

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

    accept({"token": issued.secret, "name": "A", "password": GOOD_PASSWORD})

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

    response = accept({"token": issued.secret, "name": "W", "password": password})

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {e["field"] for e in errors} == {"password"}
    assert message in [e["message"] for e in errors]
    assert not User.objects.filter(email="weak@example.org").exists()
    assert Invitation.objects.get(pk=issued.invitation.pk).status == "pending"
    assert not AuditEvent.objects.filter(action="invitation.accept").exists()


def test_a_new_user_must_give_a_name(tenant):
    issued = invite(tenant, "nameless@example.org")

    response = accept({"token": issued.secret, "password": GOOD_PASSWORD})

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("name", "required")]


@pytest.mark.parametrize("password", ["correct horse battery staple", "the attacker's own choice 42", ""])
def test_an_address_with_an_account_joins_only_as_that_account_signed_in(tenant, other_tenant, password):
    # Whoever holds the link may not take over an account by it: not with its password (checking it here would
    # be a password oracle without the sign-in's lockout), and never by setting one.
    with organization_context(other_tenant.pk):
        elsewhere = MembershipFactory(organization=other_tenant, user__email="known@example.org")
    issued = invite(tenant, "known@example.org", Role.OWNER)

    response = accept({"token": issued.secret, "name": "Mallory", "password": password})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "token",
            "message": "known@example.org already has an account: sign in as it, then accept the invitation.",
            "code": "sign_in_required",
        }
    ]
    user = User.objects.get(email="known@example.org")
    assert (user.check_password("correct horse battery staple"), user.name) == (True, elsewhere.user.name)
    assert Membership.objects.count() == 0
    assert Invitation.objects.get(pk=issued.invitation.pk).status == "pending"
    assert not AuditEvent.objects.filter(action__in=["invitation.accept", "member.add"]).exists()

    # Signed in as that account, the same link joins it, with the invited role; its password is untouched.
    joined = accept({"token": issued.secret}, signed_in(user))

    assert joined.status_code == 201
    assert Membership.objects.get(user=user).role == "owner"
    assert User.objects.get(pk=user.pk).password == user.password


def test_an_account_created_by_accepting_belongs_to_the_invited_address(tenant):
    issued = invite(tenant, "fresh.owner@example.org", Role.OWNER)

    response = accept({"token": issued.secret, "name": "Fresh Owner", "password": GOOD_PASSWORD})

    assert response.status_code == 201
    user = User.objects.get(email="fresh.owner@example.org")
    assert (user.name, user.check_password(GOOD_PASSWORD)) == ("Fresh Owner", True)
    assert Membership.objects.get(user=user).role == "owner"


def test_a_signed_in_user_accepts_without_a_password(tenant):
    user = UserFactory(email="signed.in@example.org")
    issued = invite(tenant, "signed.in@example.org", Role.REVIEWER)

    response = accept({"token": issued.secret}, signed_in(user))

    assert response.status_code == 201
    assert Membership.objects.get(user=user).role == "reviewer"


def test_a_signed_in_user_cannot_take_someone_elses_invitation(tenant):
    intruder = UserFactory(email="intruder@example.org")
    issued = invite(tenant, "victim@example.org")

    response = accept({"token": issued.secret, "name": "Intruder", "password": GOOD_PASSWORD}, signed_in(intruder))

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("token", "wrong_user")]
    assert Membership.objects.count() == 0
    assert not User.objects.filter(email="victim@example.org").exists()


def test_an_invitation_is_single_use(tenant):
    issued = invite(tenant, "once@example.org")
    key = issued.secret
    assert accept({"token": key, "name": "Once", "password": GOOD_PASSWORD}).status_code == 201

    again = accept({"token": key, "name": "Twice", "password": GOOD_PASSWORD})

    assert again.status_code == 400
    assert again.json()["detail"] == INVALID_LINK
    assert Membership.objects.count() == 1
    assert AuditEvent.objects.filter(action="invitation.accept").count() == 1


def test_an_expired_invitation_cannot_be_accepted(tenant, settings):
    settings.TENANCY_INVITATION_TTL_HOURS = 0
    issued = invite(tenant, "late@example.org")

    response = accept({"token": issued.secret, "name": "Late", "password": GOOD_PASSWORD})

    assert response.status_code == 400
    assert response.json()["detail"] == INVALID_LINK
    assert not User.objects.filter(email="late@example.org").exists()


def test_a_revoked_invitation_cannot_be_accepted(tenant, api_as):
    admin = api_as(tenant, Role.ADMIN)
    issued = invite(tenant, "gone@example.org")

    revoked = admin.delete(f"{INVITATIONS_URL}{issued.invitation.uuid}")
    response = accept({"token": issued.secret, "name": "Gone", "password": GOOD_PASSWORD})

    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert AuditEvent.objects.get(action="invitation.revoke").target_id == str(issued.invitation.uuid)
    assert response.status_code == 400
    assert response.json()["detail"] == INVALID_LINK
    assert not User.objects.filter(email="gone@example.org").exists()


def test_an_accepted_invitation_cannot_be_revoked(tenant, api_as):
    issued = invite(tenant, "done@example.org")
    accept({"token": issued.secret, "name": "Done", "password": GOOD_PASSWORD})

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
    member = MembershipFactory(user__email="joiner@example.org", role=Role.ANNOTATOR)

    response = accept({"token": issued.secret}, signed_in(member.user))

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


def test_wrong_secrets_lock_the_address_out_with_a_429_and_retry_after(tenant, settings):
    # Counted as failed sign-ins are (django-axes): per client address, since a wrong secret names no account.
    settings.AXES_FAILURE_LIMIT = 3
    issued = invite(tenant, "patient@example.org")
    guesser, bystander = "203.0.113.7", "203.0.113.8"

    answers = [
        accept({"token": f"guess-{n}", "name": "G", "password": GOOD_PASSWORD}, APIClient(REMOTE_ADDR=guesser))
        for n in range(4)
    ]
    right = accept({"token": issued.secret, "name": "G", "password": GOOD_PASSWORD}, APIClient(REMOTE_ADDR=guesser))

    # The failure that reaches the limit is answered as a lockout already, as a sign-in's is.
    assert [a.status_code for a in answers] == [400, 400, 429, 429]
    assert right.status_code == 429
    assert 0 < int(right["Retry-After"]) <= 15 * 60
    assert right.json()["detail"].startswith("Too many failed attempts from this address.")
    assert Invitation.objects.get(pk=issued.invitation.pk).status == "pending"
    # Another address is not held back by this one's guesses.
    other = APIClient(REMOTE_ADDR=bystander)
    assert accept({"token": issued.secret, "name": "Pat", "password": GOOD_PASSWORD}, other).status_code == 201


# --- owner invitations from the platform API ---


def test_platform_staff_create_an_organization_whose_owner_is_invited_never_attached(
    db, django_capture_on_commit_callbacks
):
    # An account already registered for the owner's address (by anyone) gains nothing until it accepts, signed in.
    existing = UserFactory(email="boss@charlie.test")
    staff = signed_in(UserFactory(email="ops@platform.test", is_staff=True))

    with django_capture_on_commit_callbacks(execute=True):
        known = staff.post(
            "/api/v1/platform/organizations/",
            {"name": "Charlie Lab", "slug": "charlie-lab", "owner_email": "boss@charlie.test"},
            format="json",
        )
        unknown = staff.post(
            "/api/v1/platform/organizations/",
            {"name": "Delta Lab", "slug": "delta-lab", "owner_email": "boss@delta.test"},
            format="json",
        )

    assert (known.status_code, unknown.status_code) == (201, 201)
    assert set(known.json()["owner_invitation"]) == set(unknown.json()["owner_invitation"]) == INVITATION_FIELDS
    assert [m.to for m in mail.outbox] == [["boss@charlie.test"], ["boss@delta.test"]]
    _, secret = mailed_link(mail.outbox[0])
    assert secret not in known.content.decode()
    charlie = Organization.objects.get(slug="charlie-lab")
    with organization_context(charlie.pk):
        assert list(Membership.objects.all()) == []
        assert Invitation.objects.get().status == "pending"
    # The account's owner accepts from the mailbox's link, signed in: only then is it the owner.
    assert accept({"token": secret}, signed_in(existing)).status_code == 201
    with organization_context(charlie.pk):
        assert list(Membership.objects.values_list("user__email", "role")) == [("boss@charlie.test", "owner")]
