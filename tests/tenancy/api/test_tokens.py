"""API tokens: shown once, stored as a digest, prefixed, expiring, touched, revocable, never above their maker."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tenancy.models import ApiToken, Role
from tests.conftest import member_client
from tests.factories import ApiTokenFactory, MembershipFactory

TOKENS_URL = "/api/v1/tokens/"
ME_URL = "/api/v1/me"


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def token_url(token: ApiToken) -> str:
    return f"{TOKENS_URL}{token.uuid}"


def create_token(client: APIClient, **body) -> dict:
    response = client.post(TOKENS_URL, {"name": "ci", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- shown once, stored hashed, with a visible prefix ---


def test_create_returns_the_secret_once_with_its_prefix(tenant):
    client, membership = member_client(tenant, Role.MANAGER)

    body = create_token(client, name="nightly import")

    raw = body["token"]
    scheme, prefix, secret = raw.split("_", 2)
    assert (scheme, prefix) == ("ann", body["prefix"])
    assert len(prefix) == 8
    assert len(secret) >= 43  # 32 random bytes, url-safe base64
    assert body["name"] == "nightly import"
    assert body["role"] == "manager"
    assert body["member"] == membership.user.email
    assert body["status"] == "active"
    assert body["expires_at"] is None


def test_the_secret_never_appears_in_list_or_detail(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    body = create_token(client)
    raw = body["token"]

    listed = client.get(TOKENS_URL)
    detail = client.get(f"{TOKENS_URL}{body['id']}")

    assert listed.status_code == 200
    assert detail.status_code == 200
    assert raw not in listed.content.decode()
    assert raw not in detail.content.decode()
    assert "token" not in detail.json()
    assert all("token" not in item for item in listed.json()["results"])
    assert detail.json()["prefix"] == body["prefix"]
    assert body["prefix"] in [item["prefix"] for item in listed.json()["results"]]


def test_only_a_sha256_digest_of_the_secret_is_stored(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    body = create_token(client)
    raw = body["token"]

    row = ApiToken.objects.filter(uuid=body["id"]).values().get()

    assert row["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert row["prefix"] == body["prefix"]
    secret_part = raw.split("_", 2)[2]
    assert not any(isinstance(v, str) and secret_part in v for v in row.values())


def test_the_new_token_authenticates_as_its_member(tenant):
    client, membership = member_client(tenant, Role.MANAGER)
    raw = create_token(client, role="reviewer")["token"]

    response = bearer(raw).get(ME_URL)

    assert response.status_code == 200
    assert response.json()["user"]["email"] == membership.user.email
    assert response.json()["role"] == "reviewer"


def test_token_creation_is_audited_without_the_secret(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    body = create_token(client, name="etl", role="annotator")

    event = AuditEvent.objects.get(action="token.create")

    assert event.target_id == body["id"]
    assert event.changes == {"name": [None, "etl"], "role": [None, "annotator"], "expires_at": [None, None]}
    assert event.metadata == {"prefix": body["prefix"]}
    assert body["token"] not in str(event.changes) + str(event.metadata)


# --- roles ---


@pytest.mark.parametrize(
    ("member_role", "asked"),
    [
        (Role.ANNOTATOR, "reviewer"),
        (Role.REVIEWER, "manager"),
        (Role.MANAGER, "admin"),
        (Role.ADMIN, "owner"),
    ],
)
def test_a_token_cannot_outrank_its_creator(tenant, member_role, asked):
    client, _ = member_client(tenant, member_role)
    before = ApiToken.objects.count()

    response = client.post(TOKENS_URL, {"name": "x", "role": asked}, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("role", "role_too_high")]
    assert ApiToken.objects.count() == before


def test_a_low_role_token_cannot_mint_a_higher_role_token_for_its_owner(tenant):
    owner = MembershipFactory(role=Role.OWNER)
    weak = ApiTokenFactory(membership=owner, role=Role.ANNOTATOR)
    before = ApiToken.objects.count()

    response = bearer(weak.raw).post(TOKENS_URL, {"name": "escalate", "role": "owner"}, format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["role"]
    assert ApiToken.objects.count() == before


def test_without_a_role_a_token_gets_the_role_of_the_token_that_made_it(tenant):
    owner = MembershipFactory(role=Role.OWNER)
    weak = ApiTokenFactory(membership=owner, role=Role.REVIEWER)

    body = create_token(bearer(weak.raw))

    assert body["role"] == "reviewer"


def test_a_lower_role_than_the_creator_is_allowed(tenant):
    client, _ = member_client(tenant, Role.ADMIN)

    assert create_token(client, role="annotator")["role"] == "annotator"


def test_an_unknown_role_is_rejected_by_name(tenant):
    client, _ = member_client(tenant, Role.ADMIN)

    response = client.post(TOKENS_URL, {"name": "x", "role": "superuser"}, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("role", "invalid_choice")]


# --- expiry ---


def test_a_token_may_expire_in_the_future(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    expires = timezone.now() + timedelta(days=30)

    body = create_token(client, expires_at=expires.isoformat())

    assert body["status"] == "active"
    assert ApiToken.objects.get(uuid=body["id"]).expires_at == expires
    assert bearer(body["token"]).get(ME_URL).status_code == 200


def test_an_expiry_in_the_past_is_rejected(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    before = ApiToken.objects.count()

    response = client.post(
        TOKENS_URL, {"name": "x", "expires_at": (timezone.now() - timedelta(minutes=1)).isoformat()}, format="json"
    )

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("expires_at", "in_past")]
    assert ApiToken.objects.count() == before


def test_an_expired_token_is_refused_and_the_refusal_is_audited(tenant):
    token = ApiTokenFactory(membership__role=Role.MANAGER, expires_at=timezone.now() - timedelta(seconds=1))

    response = bearer(token.raw).get(ME_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["detail"] == "Invalid, expired or revoked token."
    event = AuditEvent.objects.get(action="auth.token_rejected")
    assert event.outcome == "denied"
    assert event.target_type == "tenancy.apitoken"
    assert event.target_id == str(token.uuid)
    assert event.metadata == {"prefix": token.prefix, "reason": "expired"}


def test_an_expired_token_is_listed_as_expired(tenant):
    client, membership = member_client(tenant, Role.ADMIN)
    expired = ApiTokenFactory(membership=membership, expires_at=timezone.now() - timedelta(hours=1))

    response = client.get(f"{TOKENS_URL}{expired.uuid}")

    assert response.json()["status"] == "expired"


# --- last used ---


def test_last_used_at_is_set_on_first_use(tenant):
    token = ApiTokenFactory(membership__role=Role.ANNOTATOR)
    assert token.last_used_at is None
    started = timezone.now()

    assert bearer(token.raw).get(ME_URL).status_code == 200

    token.refresh_from_db()
    assert token.last_used_at is not None
    assert started <= token.last_used_at <= timezone.now()


def test_last_used_at_is_written_at_most_once_per_interval(tenant, settings):
    settings.TENANCY_TOKEN_TOUCH_SECONDS = 3600
    token = ApiTokenFactory(membership__role=Role.ANNOTATOR)
    client = bearer(token.raw)
    client.get(ME_URL)
    token.refresh_from_db()
    first = token.last_used_at

    client.get(ME_URL)
    client.get(ME_URL)

    token.refresh_from_db()
    assert token.last_used_at == first


def test_last_used_at_is_refreshed_once_the_interval_has_passed(tenant, settings):
    settings.TENANCY_TOKEN_TOUCH_SECONDS = 60
    stale = timezone.now() - timedelta(seconds=61)
    token = ApiTokenFactory(membership__role=Role.ANNOTATOR, last_used_at=stale)

    bearer(token.raw).get(ME_URL)

    token.refresh_from_db()
    assert token.last_used_at > stale + timedelta(seconds=60)


# --- revocation ---


def test_a_revoked_token_stops_working_at_once(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    body = create_token(client)
    victim = bearer(body["token"])
    assert victim.get(ME_URL).status_code == 200

    revoked = client.delete(f"{TOKENS_URL}{body['id']}")

    assert revoked.status_code == 200
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_at"] is not None
    refused = victim.get(ME_URL)
    assert refused.status_code == 401
    assert AuditEvent.objects.get(action="token.revoke").target_id == body["id"]
    rejected = AuditEvent.objects.get(action="auth.token_rejected")
    assert (rejected.outcome, rejected.metadata["reason"]) == ("denied", "revoked")


def test_a_token_may_revoke_itself(tenant):
    token = ApiTokenFactory(membership__role=Role.ANNOTATOR)
    client = bearer(token.raw)

    assert client.delete(token_url(token)).status_code == 200

    assert client.get(ME_URL).status_code == 401


def test_revoking_twice_keeps_the_first_revocation(tenant):
    client, membership = member_client(tenant, Role.MANAGER)
    token = ApiTokenFactory(membership=membership)
    first = client.delete(token_url(token)).json()["revoked_at"]

    second = client.delete(token_url(token))

    assert second.status_code == 200
    assert second.json()["revoked_at"] == first
    assert AuditEvent.objects.filter(action="token.revoke").count() == 1


def test_an_admin_revokes_another_member_token(tenant, api_as):
    other = ApiTokenFactory(membership__role=Role.MANAGER)

    response = api_as(tenant, Role.ADMIN).delete(token_url(other))

    assert response.status_code == 200
    other.refresh_from_db()
    assert other.revoked_at is not None


def test_a_non_admin_cannot_see_or_revoke_another_member_token(tenant, api_as):
    other = ApiTokenFactory(membership__role=Role.ANNOTATOR)
    manager = api_as(tenant, Role.MANAGER)

    seen = manager.get(token_url(other))
    revoked = manager.delete(token_url(other))

    assert seen.status_code == 404
    assert revoked.status_code == 404
    other.refresh_from_db()
    assert other.revoked_at is None


# --- listing ---


def test_admins_list_every_token_others_only_their_own(tenant):
    admin_client, _ = member_client(tenant, Role.ADMIN)
    annotator_client, annotator = member_client(tenant, Role.ANNOTATOR)
    extra = ApiTokenFactory(membership=annotator)

    admin_ids = {t["id"] for t in admin_client.get(TOKENS_URL).json()["results"]}
    own_ids = {t["id"] for t in annotator_client.get(TOKENS_URL).json()["results"]}

    all_ids = {str(u) for u in ApiToken.objects.values_list("uuid", flat=True)}
    assert admin_ids == all_ids
    assert len(all_ids) == 3
    assert own_ids == {str(u) for u in ApiToken.objects.filter(membership=annotator).values_list("uuid", flat=True)}
    assert str(extra.uuid) in own_ids
    assert len(own_ids) == 2


def test_removing_a_member_deletes_their_tokens(tenant, api_as):
    token = ApiTokenFactory(membership__role=Role.ANNOTATOR)

    response = api_as(tenant, Role.ADMIN).delete(f"/api/v1/members/{token.membership.uuid}")

    assert response.status_code == 204
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert bearer(token.raw).get(ME_URL).status_code == 401
