"""Fixtures for routing and annotation tests: a project with a schema, annotators with API clients."""

from typing import Any

import pytest

from tenancy.models import Role
from tests.conftest import member_client
from tests.factories import ProjectFactory

CHOICE_SCHEMA = {
    "fields": [{"name": "sentiment", "type": "choices", "options": ["positive", "negative"], "source": "text"}]
}


@pytest.fixture
def project(tenant: Any) -> Any:
    return ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1)


@pytest.fixture
def annotator(tenant: Any) -> Any:
    """`annotator()` → an APIClient of a new annotator; `.membership` is the member."""

    def make(**user_fields: Any) -> Any:
        client, _ = member_client(tenant, Role.ANNOTATOR, **user_fields)
        return client

    return make


def next_url(project: Any) -> str:
    return f"/api/v1/projects/{project.uuid}/next"


def act_url(lease: dict[str, Any], verb: str) -> str:
    return f"/api/v1/assignments/{lease['id']}/{verb}"


def submit(client: Any, lease: dict[str, Any], value: str = "positive", **extra: Any) -> Any:
    body = {"lease_token": lease["lease_token"], "result": {"sentiment": value}, **extra}
    return client.post(act_url(lease, "submit"), body, format="json")
