"""Every error the API returns has the one JSON shape, `{detail, code, errors}`: those of its views, a race lost
in the database (503 with Retry-After), an exception nobody expected, and Django's own 400/403/404/500 for
/api/ paths. The web pages keep their HTML error pages."""

import json
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import RequestFactory

from core.api.exceptions import bad_request, not_found, permission_denied, server_error
from tenancy.models import Membership, Role
from tenancy.services import members
from tests.conftest import member_client
from tests.factories import MembershipFactory

NOT_FOUND = {"detail": "Not found.", "code": "not_found", "errors": []}
SERVER_ERROR = {"detail": "A server error occurred.", "code": "server_error", "errors": []}
TRY_AGAIN = {
    "detail": "The request met a concurrent one and was undone; send it again.",
    "code": "try_again",
    "errors": [],
}


def _json(response: Any) -> tuple[int, str, Any]:
    return response.status_code, response["Content-Type"], response.json()


def test_an_unknown_api_path_is_a_json_404(tenant):
    client, _ = member_client(tenant, Role.OWNER)

    response = client.get("/api/v1/no-such-thing")

    assert _json(response) == (404, "application/json", NOT_FOUND)


def test_an_unknown_page_is_still_an_html_404(client, db):
    response = client.get("/no-such-page")

    assert (response.status_code, response["Content-Type"]) == (404, "text/html; charset=utf-8")


def test_an_unexpected_exception_in_an_api_view_is_a_json_500_and_undoes_the_writes(tenant, monkeypatch):
    client, _ = member_client(tenant, Role.OWNER)
    client.raise_request_exception = False
    member = MembershipFactory(role=Role.ANNOTATOR)

    def broken(**kwargs: Any) -> Membership:
        raise KeyError("a bug of ours")

    monkeypatch.setattr(members, "membership_update_profile", broken)

    response = client.patch(f"/api/v1/members/{member.uuid}", {"role": "reviewer", "languages": ["en"]}, format="json")

    assert _json(response) == (500, "application/json", SERVER_ERROR)
    assert Membership.objects.get(pk=member.pk).role == "annotator"


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"], ids=["deadlock", "serialization_failure"])
def test_a_race_lost_in_the_middle_of_a_request_is_a_503_to_retry(tenant, sqlstate):
    client, _ = member_client(tenant, Role.OWNER)
    member = MembershipFactory(role=Role.ANNOTATOR)
    # PostgreSQL's own error, raised the moment the member's row is changed (undone with the test's transaction).
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute(
            "CREATE FUNCTION test_lose_race() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" RAISE EXCEPTION 'lost a race' USING ERRCODE = '{sqlstate}'; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER test_lose_race BEFORE UPDATE ON {Membership._meta.db_table}"
            " FOR EACH ROW EXECUTE FUNCTION test_lose_race()"
        )
        cursor.execute(f"SET ROLE {connection.ops.quote_name(settings.DATABASE_APP_ROLE)}")

    response = client.patch(f"/api/v1/members/{member.uuid}", {"role": "reviewer"}, format="json")

    assert _json(response) == (503, "application/json", TRY_AGAIN)
    assert response["Retry-After"] == "1"
    assert Membership.objects.get(pk=member.pk).role == "annotator"


def test_a_host_not_served_is_a_json_400_on_the_api(client, db):
    response = client.get("/api/v1/me", HTTP_HOST="elsewhere.example")

    assert _json(response) == (400, "application/json", {"detail": "Bad request.", "code": "bad_request", "errors": []})


@pytest.mark.parametrize(
    ("handler", "status", "body"),
    [
        (lambda r: bad_request(r, ValueError()), 400, {"detail": "Bad request.", "code": "bad_request", "errors": []}),
        (
            lambda r: permission_denied(r, PermissionDenied()),
            403,
            {"detail": "You do not have permission to perform this action.", "code": "permission_denied", "errors": []},
        ),
        (lambda r: not_found(r, ValueError()), 404, NOT_FOUND),
        (server_error, 500, SERVER_ERROR),
    ],
    ids=["400", "403", "404", "500"],
)
def test_django_error_handlers_answer_json_under_the_api_and_html_elsewhere(handler, status, body):
    api = handler(RequestFactory().get("/api/v1/projects/"))
    page = handler(RequestFactory().get("/projects/"))

    assert (api.status_code, api["Content-Type"], api.content) == (
        status,
        "application/json",
        _rendered(body),
    )
    assert (page.status_code, page["Content-Type"]) == (status, "text/html; charset=utf-8")


def _rendered(body: dict[str, Any]) -> bytes:
    # The bytes DRF renders for the views' own errors: compact, as the cross-tenant matrix compares them.
    return json.dumps(body, separators=(",", ":")).encode()
