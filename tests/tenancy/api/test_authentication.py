"""`Authorization: Bearer <token>`: what is accepted, what is refused, and what a refusal leaves on the trail."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tenancy.models import Role
from tenancy.throttling import TokenFailureThrottle
from tests.factories import ApiTokenFactory

ME_URL = "/api/v1/me"
INVALID = "Invalid, expired or revoked token."


def get_me(header: str) -> object:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    return client.get(ME_URL)


def test_a_valid_bearer_token_authenticates(tenant):
    token = ApiTokenFactory(membership__role=Role.REVIEWER)

    response = get_me(f"Bearer {token.raw}")

    assert response.status_code == 200
    assert response.json()["user"]["email"] == token.membership.user.email


def test_the_scheme_is_case_insensitive(tenant):
    token = ApiTokenFactory(membership__role=Role.REVIEWER)

    assert get_me(f"bearer {token.raw}").status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer ", "Bearer one two", "Bearer  a b c"],
    ids=["no-token", "blank-token", "two-parts", "three-parts"],
)
def test_a_malformed_bearer_header_is_401_with_a_challenge(tenant, header):
    response = get_me(header)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "detail": "Malformed Authorization header: expected 'Bearer <token>'.",
        "code": "authentication_failed",
        "errors": [],
    }


@pytest.mark.parametrize(
    "secret",
    ["not-a-token", "ann_deadbeef_" + "x" * 43, "ann_" + "a" * 200],
    ids=["wrong-scheme-prefix", "unknown-secret", "too-long"],
)
def test_an_unknown_token_is_401_and_leaves_no_event(tenant, secret):
    response = get_me(f"Bearer {secret}")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["detail"] == INVALID
    assert not AuditEvent.objects.filter(action="auth.token_rejected").exists()


def test_a_non_ascii_token_is_401_not_500(tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ann_é".encode().decode("latin-1"))

    response = client.get(ME_URL)

    assert response.status_code == 401
    assert response.json()["detail"] == INVALID


def test_no_credentials_is_401_with_a_challenge(tenant):
    response = APIClient().get(ME_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "not_authenticated"


def test_another_scheme_is_not_taken_for_a_bearer_token(tenant):
    token = ApiTokenFactory(membership__role=Role.REVIEWER)

    response = get_me(f"Token {token.raw}")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_revoked_token_is_refused_and_audited_with_its_reason(tenant):
    token = ApiTokenFactory(membership__role=Role.MANAGER, revoked_at=timezone.now())

    response = get_me(f"Bearer {token.raw}")

    assert response.status_code == 401
    assert response.json()["detail"] == INVALID
    event = AuditEvent.objects.get(action="auth.token_rejected")
    assert (event.outcome, event.category) == ("denied", "auth")
    assert event.target_id == str(token.uuid)
    assert event.metadata == {"prefix": token.prefix, "reason": "revoked"}


def test_an_expired_token_is_refused_even_a_second_after_expiry(tenant):
    token = ApiTokenFactory(membership__role=Role.MANAGER, expires_at=timezone.now() - timedelta(seconds=1))

    response = get_me(f"Bearer {token.raw}")

    assert response.status_code == 401
    assert AuditEvent.objects.get(action="auth.token_rejected").metadata["reason"] == "expired"


def test_a_refused_token_is_not_touched(tenant):
    token = ApiTokenFactory(membership__role=Role.MANAGER, revoked_at=timezone.now())

    get_me(f"Bearer {token.raw}")

    token.refresh_from_db()
    assert token.last_used_at is None


def test_a_deactivated_user_token_is_refused(tenant):
    token = ApiTokenFactory(membership__role=Role.MANAGER)
    user = token.membership.user
    user.is_active = False
    user.save()

    response = get_me(f"Bearer {token.raw}")

    assert response.status_code == 401
    event = AuditEvent.objects.get(action="auth.token_rejected")
    assert event.metadata == {"prefix": token.prefix, "reason": "user_inactive"}


def test_the_refusal_is_recorded_in_the_token_organization_only(tenant, other_tenant):
    token = ApiTokenFactory(membership__role=Role.MANAGER, revoked_at=timezone.now())

    get_me(f"Bearer {token.raw}")

    assert AuditEvent.objects.filter(action="auth.token_rejected").count() == 1
    assert AuditEvent.objects.unscoped().filter(organization=other_tenant).count() == 0


# --- failures are throttled per client address ---


def test_repeated_token_failures_hold_the_address_back_with_a_429_and_retry_after(tenant, monkeypatch):
    # Given an address that keeps presenting tokens that do not work (guessed, or revoked and still in a script)
    monkeypatch.setattr(TokenFailureThrottle, "rate", "3/minute", raising=False)
    revoked = ApiTokenFactory(membership__role=Role.MANAGER, revoked_at=timezone.now())
    valid = ApiTokenFactory(membership__role=Role.MANAGER)
    guesser = APIClient(REMOTE_ADDR="198.51.100.40")

    # When it fails three times
    answers = []
    for secret in ("ann_deadbeef_" + "x" * 43, revoked.raw, "ann_deadbeef_" + "y" * 43, "ann_deadbeef_" + "z" * 43):
        guesser.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        answers.append(guesser.get(ME_URL))
    guesser.credentials(HTTP_AUTHORIZATION=f"Bearer {valid.raw}")
    held_back = guesser.get(ME_URL)
    elsewhere = APIClient(REMOTE_ADDR="198.51.100.41")
    elsewhere.credentials(HTTP_AUTHORIZATION=f"Bearer {valid.raw}")

    # Then it is answered 429, saying when to retry, even with a good token (or guessing would go on unchecked),
    # while the same token works from any other address
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert held_back.status_code == 429
    assert 0 < int(held_back["Retry-After"]) <= 60
    assert held_back.json() == {
        "detail": f"Too many failed authentication attempts from this address. Expected available in "
        f"{held_back['Retry-After']} seconds.",
        "code": "throttled",
        "errors": [],
    }
    assert elsewhere.get(ME_URL).status_code == 200
    # The held-back requests touched no token and wrote nothing: the revoked one's refusal was recorded once.
    assert AuditEvent.objects.filter(action="auth.token_rejected").count() == 1


def test_successful_token_use_never_counts_against_the_address(tenant, monkeypatch):
    monkeypatch.setattr(TokenFailureThrottle, "rate", "2/minute", raising=False)
    client = APIClient(REMOTE_ADDR="198.51.100.42")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiTokenFactory(membership__role=Role.MANAGER).raw}")

    assert [client.get(ME_URL).status_code for _ in range(5)] == [200] * 5
