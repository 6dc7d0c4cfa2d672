"""The OpenAPI schema generates cleanly and the docs page is served from local files only."""

import re

import pytest
from django.core.management import call_command
from django.test import Client

from tenancy.models import Role
from tests.conftest import session_client


def test_schema_generates_without_warnings_and_validates(tmp_path):
    # --fail-on-warn turns every unresolved serializer, operation-id clash or broken view into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    text = (tmp_path / "schema.yaml").read_text()
    assert "/api/v1/projects/{project_id}/tasks/" in text
    assert "bearerToken" in text


@pytest.mark.django_db
def test_docs_page_loads_only_local_assets(api_as, other_tenant):
    client = api_as(other_tenant, Role.ANNOTATOR)
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    assert all(s.startswith("/") for s in sources), sources
    assert "<script>" not in html.replace(" ", "")  # the strict CSP forbids inline script
    assert "unsafe-inline" not in response["Content-Security-Policy"].split("script-src")[1].split(";")[0]


@pytest.mark.django_db
def test_schema_endpoint_serves_openapi_3(api_as, other_tenant):
    client = api_as(other_tenant, Role.ANNOTATOR)
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/docs/?script="])
def test_schema_and_docs_need_credentials(path):
    # The schema maps every route, parameter and limit: a reconnaissance aid nobody outside needs (docs/security.md).
    response = Client().get(path)

    assert (response.status_code, response["WWW-Authenticate"]) == (401, 'Bearer realm="api"')
    assert b"/api/v1/projects/" not in response.content


@pytest.mark.django_db
def test_a_signed_in_session_reads_the_docs_and_the_schema_they_load(other_tenant):
    client, _ = session_client(other_tenant, Role.ANNOTATOR)

    page = client.get("/api/v1/docs/")
    script = client.get("/api/v1/docs/?script=")
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert (page.status_code, script.status_code, schema.status_code) == (200, 200, 200)
    assert schema.json()["openapi"].startswith("3.")
