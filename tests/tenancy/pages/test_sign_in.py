"""The sign-in page: a refused attempt goes on one audit trail, once, and repeated failures lock the account and the
client address out (django-axes) with a plain 429 that says when to come back."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from core.context import organization_context
from tenancy.models import Organization, Role, User
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
LOCKED = "Too many failed attempts."


def sign_in(email: str, password: str, address: str = "192.0.2.10") -> tuple[Client, HttpResponse]:
    """One attempt from a browser of its own at `address`: the client (with its session) and the answer."""
    client = Client(REMOTE_ADDR=address)
    return client, client.post(reverse("login"), {"username": email, "password": password})


def without_csrf_tokens(html: str) -> str:
    return re.sub(r"[A-Za-z0-9]{64}", "<csrf>", html)


def trail(organization: Organization) -> list[tuple[str, str, str, dict]]:
    with organization_context(organization.pk):
        return list(AuditEvent.objects.order_by("id").values_list("action", "outcome", "target_id", "metadata"))


def member_of(*organizations: Organization, email: str) -> User:
    user = UserFactory(email=email)
    for organization in organizations:
        with organization_context(organization.pk):
            MembershipFactory(organization=organization, user=user, role=Role.ANNOTATOR)
    return user


def test_a_failed_sign_in_is_recorded_once_on_the_trail_its_sign_ins_go_to():
    # Given an account in three organizations; its sign-ins open (and are recorded in) the first by name
    first, second, third = (OrganizationFactory(name=name) for name in ("Alpha Lab", "Beta Lab", "Gamma Lab"))
    user = member_of(third, first, second, email="ada@example.org")

    # When a wrong password is tried once, then the right one
    refused = sign_in("Ada@Example.org", "not the password")[1]
    accepted = sign_in("ada@example.org", PASSWORD)[1]

    # Then the refusal is one event, on the trail where the sign-in itself lands, and on no other
    assert (refused.status_code, accepted.status_code) == (200, 302)
    target = str(user.uuid)
    assert (trail(second), trail(third)) == ([], [])
    assert trail(first) == [
        ("auth.login_failed", "denied", target, {"locked_out": False}),
        ("auth.login", "success", target, {}),
    ]


def test_a_failed_sign_in_for_an_unknown_address_answers_like_one_for_a_known_account():
    organization = OrganizationFactory()
    member_of(organization, email="ada@example.org")

    known = sign_in("ada@example.org", "not the password", address="192.0.2.11")[1]
    unknown = sign_in("nobody@example.org", "not the password", address="192.0.2.12")[1]

    assert (known.status_code, unknown.status_code) == (200, 200)
    assert without_csrf_tokens(known.content.decode()).replace("ada@example.org", "X") == without_csrf_tokens(
        unknown.content.decode()
    ).replace("nobody@example.org", "X")


def test_repeated_failures_lock_the_account_out_from_any_address(settings):
    settings.AXES_FAILURE_LIMIT = 3
    organization = OrganizationFactory()
    user = member_of(organization, email="ada@example.org")

    # Each attempt from an address of its own: rotating addresses does not help against one account.
    answers = [sign_in("ada@example.org", f"guess {n}", address=f"198.51.100.{n}")[1] for n in range(1, 5)]
    right = sign_in("ada@example.org", PASSWORD, address="198.51.100.99")[1]

    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert right.status_code == 429
    assert LOCKED in right.content.decode()
    assert 0 < int(right["Retry-After"]) <= 15 * 60
    assert right["Content-Type"] == "text/html; charset=utf-8"
    assert "_auth_user_id" not in sign_in("ada@example.org", PASSWORD, address="198.51.100.98")[0].session
    # Every refused attempt is on the trail once, the ones refused by the lock marked so.
    locked = [m["locked_out"] for action, outcome, target, m in trail(organization) if action == "auth.login_failed"]
    assert locked == [False, False, True, True, True, True]
    assert {target for _, _, target, _ in trail(organization)} == {str(user.uuid)}
    # Attempts refused by the lock were not counted, so hammering does not prolong it.
    assert sorted(AccessAttempt.objects.values_list("ip_address", "failures_since_start")) == [
        ("198.51.100.1", 1),
        ("198.51.100.2", 1),
        ("198.51.100.3", 1),
    ]


def test_repeated_failures_lock_the_client_address_out_for_every_account(settings):
    settings.AXES_FAILURE_LIMIT = 3
    organization = OrganizationFactory()
    member_of(organization, email="ada@example.org")

    # Spraying one guess at many accounts from one address.
    answers = [sign_in(f"sprayed{n}@example.org", "Summer2024!", address="203.0.113.5")[1] for n in range(4)]
    own_account_same_address = sign_in("ada@example.org", PASSWORD, address="203.0.113.5")[1]
    own_account_elsewhere = sign_in("ada@example.org", PASSWORD, address="203.0.113.6")[1]

    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    assert own_account_same_address.status_code == 429
    assert own_account_elsewhere.status_code == 302


def test_the_lock_lifts_after_the_cool_off(settings):
    settings.AXES_FAILURE_LIMIT = 2
    organization = OrganizationFactory()
    member_of(organization, email="ada@example.org")
    for n in range(2):
        sign_in("ada@example.org", f"guess {n}", address="192.0.2.20")
    assert sign_in("ada@example.org", PASSWORD, address="192.0.2.20")[1].status_code == 429

    # The cool-off has passed since the last counted failure.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=16))

    assert sign_in("ada@example.org", PASSWORD, address="192.0.2.20")[1].status_code == 302


def test_a_sign_in_below_the_limit_is_unaffected_and_a_good_one_resets_nothing_for_others(settings):
    settings.AXES_FAILURE_LIMIT = 3
    organization = OrganizationFactory()
    member_of(organization, email="ada@example.org")
    member_of(organization, email="ben@example.org")
    sign_in("ben@example.org", "guess 1", address="192.0.2.30")
    sign_in("ben@example.org", "guess 2", address="192.0.2.30")

    # A good sign-in from the same address (an attacker's own account) does not clear the address's count.
    assert sign_in("ada@example.org", PASSWORD, address="192.0.2.30")[1].status_code == 302
    assert sign_in("ben@example.org", "guess 3", address="192.0.2.30")[1].status_code == 429
