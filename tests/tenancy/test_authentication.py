"""`Authorization: Bearer <token>`: what is accepted, what is refused, and what a refusal leaves on the trail."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tenancy.models import Role
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
