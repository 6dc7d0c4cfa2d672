"""The invitation page. Its link carries the secret after `#`, which browsers never send: the page's script posts it
(a person without script pastes the link), so it reaches the server in a request body only. Holding the link proves
the mailbox: it creates the address's account, or, where the address already has one, lets that account join once
it is signed in, and never sets or checks a password for it."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from core.context import organization_context
from tenancy.models import Invitation, Membership, Organization, Role, User
from tenancy.services.invitations import IssuedInvitation, invitation_create
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

PAGE = "/invitations/accept"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a sound passphrase 42"


@pytest.fixture
def lab() -> Organization:
    return OrganizationFactory(name="Northwind Lab")


def invite(organization: Organization, email: str, role: Role = Role.ANNOTATOR) -> IssuedInvitation:
    with organization_context(organization.pk):
        return invitation_create(actor=None, organization=organization, email=email, role=role)


def browser(user: User | None = None, address: str = "192.0.2.50") -> Client:
    client = Client(REMOTE_ADDR=address)
    if user is not None:
        client.force_login(user)
    return client


def open_invitation(client: Client, key: str):
    """What the page's script does with the link's fragment: post it."""
    return client.post(PAGE, {"key": key})


def accept(client: Client, key: str, **fields: str):
    return client.post(PAGE, {"key": key, "action": "accept", **fields})


def member_roles(organization: Organization) -> list[tuple[str, str]]:
    with organization_context(organization.pk):
        return list(Membership.objects.order_by("id").values_list("user__email", "role"))


def comparable(html: str, *secrets: str) -> str:
    """The page with what differs between two invitations (CSRF tokens, secrets) taken out."""
    for secret in secrets:
        html = html.replace(secret, "<secret>")
    return re.sub(r"[A-Za-z0-9]{64}", "<csrf>", html)


def test_the_page_a_link_lands_on_carries_no_secret_and_offers_to_paste_one(lab):
    response = browser().get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<form method="post" class="form" data-invitation-open' in html
    assert '<input type="text" name="key" id="id_key"' in html
    assert "/static/js/invitation-accept.js" in html


def test_opening_looks_the_same_for_an_address_with_and_without_an_account(lab):
    # Whoever holds a link learns nothing from the page about whether its address has an account.
    UserFactory(email="known@example.org")
    known, unknown = invite(lab, "known@example.org"), invite(lab, "unknown@example.org")

    known_page = open_invitation(browser(), known.secret)
    unknown_page = open_invitation(browser(), unknown.secret)

    assert (known_page.status_code, unknown_page.status_code) == (200, 200)
    assert known_page["Cache-Control"] == "no-store"  # the page holds the secret in its form
    assert comparable(known_page.content.decode(), known.secret).replace("known@", "X@") == comparable(
        unknown_page.content.decode(), unknown.secret
    ).replace("unknown@", "X@")
    html = known_page.content.decode()
    assert "Join Northwind Lab" in html
    assert "Choose a password" in html
    assert f'href="{reverse("login")}?next=/invitations/accept"' in html


def test_a_new_address_gets_its_account_and_is_signed_in(lab):
    issued = invite(lab, "new@example.org", Role.REVIEWER)
    client = browser()

    response = accept(client, issued.secret, name="Dr. New", password=NEW_PASSWORD)

    assert (response.status_code, response["Location"]) == (302, reverse("home"))
    user = User.objects.get(email="new@example.org")
    assert (user.name, user.check_password(NEW_PASSWORD)) == ("Dr. New", True)
    assert client.session["_auth_user_id"] == str(user.pk)
    assert member_roles(lab) == [("new@example.org", "reviewer")]


def test_a_weak_password_keeps_the_invitation_open_with_the_reason(lab):
    issued = invite(lab, "new@example.org")

    response = accept(browser(), issued.secret, name="Dr. New", password="short")

    assert response.status_code == 400
    html = response.content.decode()
    assert "This password is too short. It must contain at least 12 characters." in html
    assert f'<input type="hidden" name="key" value="{issued.secret}">' in html
    assert not User.objects.filter(email="new@example.org").exists()


@pytest.mark.parametrize("password", [PASSWORD, "the attacker's own choice 42"])
def test_an_address_with_an_account_is_never_taken_over_from_the_page(lab, password):
    owner = UserFactory(email="known@example.org", name="Known Person")
    issued = invite(lab, "known@example.org", Role.OWNER)

    response = accept(browser(), issued.secret, name="Mallory", password=password)

    assert response.status_code == 400
    html = response.content.decode()
    assert "known@example.org already has an account: sign in as it, then accept the invitation." in html
    assert f'href="{reverse("login")}?next=/invitations/accept"' in html
    refreshed = User.objects.get(pk=owner.pk)
    assert (refreshed.password, refreshed.name) == (owner.password, "Known Person")
    assert member_roles(lab) == []
    with organization_context(lab.pk):
        assert Invitation.objects.get().status == "pending"


def test_the_invited_account_signed_in_joins_with_one_click(lab):
    user = UserFactory(email="known@example.org")
    issued = invite(lab, "known@example.org", Role.MANAGER)
    client = browser(user)

    opened = open_invitation(client, issued.secret)
    joined = accept(client, issued.secret)

    html = opened.content.decode()
    assert "You are signed in as known@example.org." in html
    assert "Choose a password" not in html
    assert (joined.status_code, joined["Location"]) == (302, reverse("home"))
    assert member_roles(lab) == [("known@example.org", "manager")]
    assert User.objects.get(pk=user.pk).password == user.password


def test_another_signed_in_account_cannot_take_the_invitation(lab):
    intruder = UserFactory(email="intruder@example.org")
    issued = invite(lab, "victim@example.org")
    client = browser(intruder)

    opened = open_invitation(client, issued.secret)
    refused = accept(client, issued.secret, name="Intruder", password=NEW_PASSWORD)

    assert "You are signed in as intruder@example.org, but this invitation is for victim@example.org." in (
        opened.content.decode()
    )
    assert refused.status_code == 400
    assert "This invitation is for victim@example.org; sign in with that account." in refused.content.decode()
    assert member_roles(lab) == []
    assert not User.objects.filter(email="victim@example.org").exists()


def test_a_pasted_link_opens_the_invitation_without_script(lab):
    issued = invite(lab, "new@example.org")

    response = open_invitation(browser(), f"  {issued.accept_url}  ")

    assert response.status_code == 200
    assert f'<input type="hidden" name="key" value="{issued.secret}">' in response.content.decode()


def test_a_used_link_is_not_valid_any_more(lab):
    issued = invite(lab, "new@example.org")
    accept(browser(), issued.secret, name="Dr. New", password=NEW_PASSWORD)

    response = open_invitation(browser(address="192.0.2.51"), issued.secret)

    assert response.status_code == 404
    assert "This invitation is not valid" in response.content.decode()


def test_wrong_links_lock_the_address_out_with_a_plain_429(lab, settings):
    settings.AXES_FAILURE_LIMIT = 2
    issued = invite(lab, "new@example.org")
    client = browser(address="203.0.113.60")

    answers = [open_invitation(client, f"guess-{n}") for n in range(3)]
    right = open_invitation(client, issued.secret)

    assert [a.status_code for a in answers] == [404, 429, 429]
    assert right.status_code == 429
    assert "Too many failed attempts." in right.content.decode()
    assert 0 < int(right["Retry-After"]) <= 15 * 60
    assert open_invitation(browser(address="203.0.113.61"), issued.secret).status_code == 200
