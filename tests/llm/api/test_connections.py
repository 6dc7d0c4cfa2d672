"""Model connections through the API: admins add and change them, the key is sealed and never shown, the endpoint
is refused when it points where the operator has not allowed, parameters are checked by name, type and range;
budgets are set by admins and read with what was spent."""

from typing import Any

import pytest

from audit.models import AuditEvent
from core import stored_secrets
from llm.models import ModelConnection
from tenancy.models import Role
from tests.factories import ProjectFactory

URL = "/api/v1/model-connections/"
BODY = {
    "name": "Lab gateway",
    "base_url": "http://93.184.216.34:8000/v1/",
    "model": "lab-70b-rc3",
    "api_key": "sk-lab-secret-0042",
    "parameters": {"temperature": 0.7, "max_tokens": 512},
    "timeout_seconds": 30,
}


@pytest.fixture
def admin_api(tenant: Any, api_as: Any) -> Any:
    return api_as(tenant, Role.ADMIN)


def test_an_admin_adds_a_connection_whose_key_is_sealed_and_never_shown(tenant, admin_api):
    response = admin_api.post(URL, BODY, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert "sk-lab-secret" not in response.content.decode()
    assert {k: body[k] for k in ("name", "base_url", "model", "parameters", "has_api_key", "timeout_seconds")} == {
        "name": "Lab gateway",
        "base_url": "http://93.184.216.34:8000/v1",
        "model": "lab-70b-rc3",
        "parameters": {"temperature": 0.7, "max_tokens": 512},
        "has_api_key": True,
        "timeout_seconds": 30,
    }
    stored = ModelConnection.objects.get()
    assert "sk-lab-secret" not in stored.api_key_sealed
    assert (
        stored_secrets.unseal(
            stored.api_key_sealed, organization_id=tenant.pk, purpose=stored_secrets.PURPOSE_MODEL_API_KEY
        )
        == "sk-lab-secret-0042"
    )
    event = AuditEvent.objects.get(action="model_connection.create")
    assert event.changes["api_key"] == "[redacted]"
    assert "sk-lab-secret" not in str(event.changes)


@pytest.mark.parametrize(
    ("base_url", "reason"),
    [
        ("http://127.0.0.1:8000/v1", "a loopback address"),
        ("http://10.1.2.3/v1", "a private address"),
        ("http://169.254.169.254/latest", "a cloud metadata address"),
        ("ftp://93.184.216.34/v1", "must be an http:// or https:// URL"),
        ("http://user:pw@93.184.216.34/v1", "must not carry credentials"),
    ],
)
def test_an_endpoint_the_operator_has_not_allowed_is_refused_naming_the_field(admin_api, base_url, reason):
    response = admin_api.post(URL, {**BODY, "base_url": base_url}, format="json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == "base_url"
    assert reason in error["message"]
    assert not ModelConnection.objects.exists()


def test_a_private_model_server_is_reachable_once_the_operator_allows_its_network(admin_api, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    response = admin_api.post(URL, {**BODY, "base_url": "http://10.1.2.3:8000/v1"}, format="json")

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("parameters", "field", "message"),
    [
        ({"temperature": 3}, "parameters.temperature", "Must be between 0 and 2."),
        ({"max_tokens": "many"}, "parameters.max_tokens", "Has the wrong type."),
        ({"logit_bias": {}}, "parameters.logit_bias", "Unknown parameter"),
        ({"stop": ["a"] * 5}, "parameters.stop", "Must be at most 4 strings"),
    ],
)
def test_parameters_are_checked_by_name_type_and_range(admin_api, parameters, field, message):
    response = admin_api.post(URL, {**BODY, "parameters": parameters}, format="json")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["field"] == field
    assert error["message"].startswith(message)


def test_an_empty_key_removes_it_and_an_absent_one_keeps_it(admin_api):
    connection_id = admin_api.post(URL, BODY, format="json").json()["id"]

    kept = admin_api.patch(f"{URL}{connection_id}", {"model": "lab-70b-rc4"}, format="json").json()
    removed = admin_api.patch(f"{URL}{connection_id}", {"api_key": ""}, format="json").json()

    assert (kept["model"], kept["has_api_key"]) == ("lab-70b-rc4", True)
    assert removed["has_api_key"] is False


def test_a_manager_sees_connections_but_cannot_add_one(tenant, api_as, admin_api):
    admin_api.post(URL, BODY, format="json")
    manager = api_as(tenant, Role.MANAGER)

    listed = manager.get(URL)
    refused = manager.post(URL, {**BODY, "name": "mine"}, format="json")

    assert [c["name"] for c in listed.json()["results"]] == ["Lab gateway"]
    assert refused.status_code == 403
    assert refused.json()["detail"] == "This action needs the admin role or higher."


def test_an_admin_sets_a_budget_and_a_manager_reads_it(tenant, api_as, admin_api):
    project = ProjectFactory(organization=tenant)
    url = f"/api/v1/projects/{project.uuid}/model-budget"

    before = api_as(tenant, Role.MANAGER).get(url).json()
    changed = admin_api.patch(url, {"token_limit": 200000, "max_concurrent": 4}, format="json")
    refused = api_as(tenant, Role.MANAGER).patch(url, {"token_limit": 1}, format="json")

    assert before == {
        "token_limit": None,
        "tokens_used": 0,
        "max_concurrent": 8,
        "running_calls": 0,
        "updated_at": None,
    }
    assert changed.status_code == 200
    assert {k: changed.json()[k] for k in ("token_limit", "max_concurrent", "tokens_used")} == {
        "token_limit": 200000,
        "max_concurrent": 4,
        "tokens_used": 0,
    }
    assert refused.status_code == 403
    event = AuditEvent.objects.get(action="model_budget.update")
    assert event.changes == {"token_limit": [None, 200000], "max_concurrent": [8, 4]}
