"""The OpenAPI schema documents every error a view can answer, in the one error shape, derived from the views
themselves (tenancy/api/schema.py); strict request bodies say they refuse unknown fields. tests/test_api_fuzz.py
holds the server to all of it; these pin the mechanism on examples whose answer is known."""

from typing import Any

import pytest
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    generated: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return generated


def operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["paths"][f"/api/v1/{path}"][method]
    return found


def statuses(schema: dict[str, Any], method: str, path: str) -> set[str]:
    return set(operation(schema, method, path)["responses"])


def test_every_error_answer_has_the_one_error_shape(schema):
    shapes = {
        (status, response["content"]["application/json"]["schema"]["$ref"])
        for item in schema["paths"].values()
        for method, op in item.items()
        if method in METHODS
        for status, response in op["responses"].items()
        if status >= "400"
    }

    assert {ref for _, ref in shapes} == {ERROR_REF}
    error = schema["components"]["schemas"]["Error"]
    assert (error["required"], error["properties"]["errors"]["items"]) == (
        ["code", "detail", "errors"],
        {"$ref": "#/components/schemas/FieldError"},
    )


def test_authenticated_operations_answer_401_and_every_request_may_meet_a_concurrent_one(schema):
    assert "401" in statuses(schema, "get", "me")
    assert "401" not in statuses(schema, "get", "audit/public-key")  # reads no credentials at all
    for item in schema["paths"].values():
        for method, op in item.items():
            if method in METHODS:
                assert op["responses"]["503"]["headers"]["Retry-After"]["required"] is True


def test_a_role_requirement_documents_403_and_the_least_role_does_not(schema):
    assert "403" in statuses(schema, "get", "members/")  # managers and above
    assert "403" in statuses(schema, "get", "platform/organizations/")  # platform staff only
    assert "403" not in statuses(schema, "get", "me")
    assert "403" not in statuses(schema, "get", "projects/")


def test_an_id_in_the_path_documents_404_and_lease_routes_409(schema):
    assert "404" in statuses(schema, "get", "projects/{project_id}")
    assert "409" in statuses(schema, "post", "assignments/{assignment_id}/submit")  # a stale fencing token
    assert "409" not in statuses(schema, "get", "projects/{project_id}")


def test_a_conflict_only_the_view_knows_keeps_its_own_words(schema):
    response = operation(schema, "get", "exports/{export_id}/download")["responses"]["409"]

    assert response["description"] == "The export has not succeeded (yet)."
    assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF


def test_request_bodies_refuse_unknown_fields(schema):
    requests = {name: c for name, c in schema["components"]["schemas"].items() if name.endswith("Request")}

    assert requests
    assert {name for name, c in requests.items() if c.get("additionalProperties") is not False} == set()


def test_limits_the_server_enforces_are_in_the_schema(schema):
    components = schema["components"]["schemas"]
    bulk = operation(schema, "post", "projects/{project_id}/tasks/")["requestBody"]["content"]["application/json"]
    page_size = next(p for p in operation(schema, "get", "projects/")["parameters"] if p["name"] == "page_size")

    assert (bulk["schema"]["minItems"], bulk["schema"]["maxItems"]) == (1, 10_000)
    assert components["TaskInputRequest"]["properties"]["priority"] | {"type": "integer"} == {
        "type": "integer",
        "minimum": -1_000_000,
        "maximum": 1_000_000,
        "default": 0,
    }
    assert page_size["description"].startswith("Results per page, 1 to 1000 (more is cut to 1000)")
    assert operation(schema, "post", "projects/{project_id}/media/")["requestBody"]["content"]["multipart/form-data"][
        "encoding"
    ]["file"]["contentType"].startswith("image/png, ")


def test_the_lease_never_mentions_gold(schema):
    lease = schema["components"]["schemas"]["Lease"]

    assert "is_gold" not in lease["properties"]
    assert "is_gold" not in lease["required"]


def test_a_project_is_answered_whole_or_brief_and_the_brief_is_closed(schema):
    components = schema["components"]["schemas"]

    assert components["ProjectForRole"]["oneOf"] == [
        {"$ref": "#/components/schemas/Project"},
        {"$ref": "#/components/schemas/ProjectBrief"},
    ]
    assert components["ProjectBrief"]["additionalProperties"] is False
