"""The organization endpoint (read, rename, settings) and `me` (who the request acts as)."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.context import organization_context
from tenancy.models import Organization, Role
from tests.conftest import member_client
from tests.factories import ApiTokenFactory, MembershipFactory

ORGANIZATION_URL = "/api/v1/organization"
ME_URL = "/api/v1/me"


def test_get_organization_shows_the_tenant_of_the_token(tenant, api_as):
    response = api_as(tenant, Role.ADMIN).get(ORGANIZATION_URL)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(tenant.uuid),
        "slug": tenant.slug,
        "name": tenant.name,
        "settings": {},
        "created_at": response.json()["created_at"],
    }


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR])
def test_below_admin_cannot_read_the_organization_settings(tenant, api_as, role):
    # What they need (the organization's id, slug and name) is in `me`.
    response = api_as(tenant, role).get(ORGANIZATION_URL)

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_settings_show_whether_a_secret_is_set_never_its_sealed_value(tenant, api_as, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    owner = api_as(tenant, Role.OWNER)
    stream = {"kind": "http", "url": "http://127.0.0.1:9/ingest", "token": "siem-bearer-secret"}
    owner.patch(ORGANIZATION_URL, {"settings": {"audit_stream": stream, "locale": "fr"}}, format="json")

    responses = [api_as(tenant, role).get(ORGANIZATION_URL) for role in (Role.OWNER, Role.ADMIN)]

    tenant.refresh_from_db()
    sealed = tenant.settings["audit_stream"]["token_sealed"]
    for response in responses:
        assert response.json()["settings"] == {
            "audit_stream": {"kind": "http", "enabled": True, "url": "http://127.0.0.1:9/ingest", "token_set": True},
            "locale": "fr",
        }
        assert sealed not in response.content.decode()
        assert "siem-bearer-secret" not in response.content.decode()


@pytest.mark.parametrize(
    ("settings_body", "field"),
    [
        (
            {"audit_stream": {"kind": "http", "url": "https://siem.example.org/", "token_sealed": "x"}},
            "audit_stream.token_sealed",
        ),
        ({"webhook": {"secret_sealed": "sealed.v1.AAAA"}}, "webhook.secret_sealed"),
        ({"hooks": [{"key_sealed": "gAAAAA"}]}, "hooks[0].key_sealed"),
    ],
)
def test_a_sealed_value_is_never_accepted_from_a_client(tenant, api_as, settings_body, field):
    response = api_as(tenant, Role.OWNER).patch(ORGANIZATION_URL, {"settings": settings_body}, format="json")

    assert (response.status_code, response.json()["errors"]) == (
        400,
        [
            {
                "field": field,
                "message": "Send the secret itself (write-only); a sealed value is never accepted.",
                "code": "sealed_value",
            }
        ],
    )
    tenant.refresh_from_db()
    assert tenant.settings == {}


def test_get_organization_needs_authentication(tenant):
    response = APIClient().get(ORGANIZATION_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_admin_renames_the_organization_and_the_change_is_audited(tenant, api_as):
    old_name = tenant.name

    response = api_as(tenant, Role.ADMIN).patch(
        ORGANIZATION_URL, {"name": "Renamed Lab", "settings": {"locale": "fr"}}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "Renamed Lab"
    assert response.json()["settings"] == {"locale": "fr"}
    tenant.refresh_from_db()
    assert (tenant.name, tenant.settings) == ("Renamed Lab", {"locale": "fr"})
    event = AuditEvent.objects.get(action="organization.update")
    assert event.changes == {"name": [old_name, "Renamed Lab"], "settings": [{}, {"locale": "fr"}]}
    assert event.target_id == str(tenant.uuid)


def test_patch_with_only_settings_records_only_settings(tenant, api_as):
    response = api_as(tenant, Role.OWNER).patch(ORGANIZATION_URL, {"settings": {"a": 1}}, format="json")

    assert response.status_code == 200
    assert AuditEvent.objects.get(action="organization.update").changes == {"settings": [{}, {"a": 1}]}


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR])
def test_below_admin_cannot_change_the_organization(tenant, api_as, role):
    old_name = tenant.name

    response = api_as(tenant, role).patch(ORGANIZATION_URL, {"name": "Mine now"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert Organization.objects.get(pk=tenant.pk).name == old_name
    assert not AuditEvent.objects.filter(action="organization.update").exists()


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"slug": "taken-over"}, "slug", "read_only"),
        ({"id": "00000000-0000-0000-0000-000000000000"}, "id", "read_only"),
        ({"owner": "x"}, "owner", "unknown_field"),
        ({"name": ""}, "name", "blank"),
        ({"settings": ["not", "an", "object"]}, "settings", "not_a_dict"),
    ],
)
def test_patch_organization_rejects_bad_fields_by_name(tenant, api_as, body, field, code):
    before = (tenant.slug, tenant.name, tenant.settings)

    response = api_as(tenant, Role.OWNER).patch(ORGANIZATION_URL, body, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    tenant.refresh_from_db()
    assert (tenant.slug, tenant.name, tenant.settings) == before
    assert not AuditEvent.objects.filter(action="organization.update").exists()


def test_me_shows_user_organization_and_role(tenant):
    client, membership = member_client(tenant, Role.MANAGER, user__name="Ada Lovelace")

    response = client.get(ME_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == {"id": str(membership.user.uuid), "email": membership.user.email, "name": "Ada Lovelace"}
    assert body["organization"] == {"id": str(tenant.uuid), "slug": tenant.slug, "name": tenant.name}
    assert body["role"] == "manager"
    assert body["organizations"] == [{"slug": tenant.slug, "name": tenant.name, "role": "manager"}]


def test_me_shows_the_token_role_when_it_is_lower_than_the_member_role(tenant):
    membership = MembershipFactory(role=Role.ADMIN)
    token = ApiTokenFactory(membership=membership, role=Role.REVIEWER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.raw}")

    response = client.get(ME_URL)

    assert response.status_code == 200
    assert response.json()["role"] == "reviewer"
    assert response.json()["token"] == token.prefix


def test_me_caps_a_token_at_the_member_current_role(tenant):
    membership = MembershipFactory(role=Role.ADMIN)
    token = ApiTokenFactory(membership=membership, role=Role.ADMIN)
    membership.role = Role.ANNOTATOR
    membership.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.raw}")

    response = client.get(ME_URL)

    assert response.json()["role"] == "annotator"


def test_me_with_a_token_names_only_the_token_organization(tenant, other_tenant):
    # A token acts for one organization; who else the person works for is not its business.
    client, membership = member_client(tenant, Role.ANNOTATOR)

    with organization_context(other_tenant.pk):
        MembershipFactory(organization=other_tenant, user=membership.user, role=Role.OWNER)

    response = client.get(ME_URL)

    assert response.json()["organization"]["slug"] == tenant.slug
    assert response.json()["role"] == "annotator"
    assert response.json()["organizations"] == [{"slug": tenant.slug, "name": tenant.name, "role": "annotator"}]
    assert other_tenant.slug not in response.content.decode()


def test_me_with_a_session_lists_every_organization_of_the_person(tenant, other_tenant):
    # The signed-in person may switch between their organizations; listing them tells them nothing new.
    membership = MembershipFactory(role=Role.ANNOTATOR)
    with organization_context(other_tenant.pk):
        MembershipFactory(organization=other_tenant, user=membership.user, role=Role.OWNER)
    client = APIClient()
    client.force_login(membership.user)

    response = client.get(ME_URL, headers={"X-Organization": tenant.slug})

    assert response.json()["organization"]["slug"] == tenant.slug
    assert sorted((o["slug"], o["role"]) for o in response.json()["organizations"]) == sorted(
        [(tenant.slug, "annotator"), (other_tenant.slug, "owner")]
    )


def test_session_user_with_several_organizations_must_name_one(tenant, other_tenant):
    membership = MembershipFactory(role=Role.MANAGER)

    with organization_context(other_tenant.pk):
        MembershipFactory(organization=other_tenant, user=membership.user, role=Role.ANNOTATOR)
    client = APIClient()
    client.force_login(membership.user)

    ambiguous = client.get(ME_URL)
    chosen = client.get(ME_URL, headers={"X-Organization": other_tenant.slug})

    assert ambiguous.status_code == 400
    assert [e["field"] for e in ambiguous.json()["errors"]] == ["X-Organization"]
    assert chosen.status_code == 200
    assert (chosen.json()["organization"]["slug"], chosen.json()["role"]) == (other_tenant.slug, "annotator")
