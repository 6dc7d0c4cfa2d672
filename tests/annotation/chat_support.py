"""Shared by the chat tests: a project with a chat field over two connections to the loopback model server, and an
annotator holding a lease who calls the chat routes as the labelling page's fetches do."""

import json
from dataclasses import dataclass
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient
from rest_framework.test import APIClient

from llm.services.connections import model_connection_create
from projects.services.projects import project_create
from tenancy.models import Role
from tests.factories import ApiTokenFactory, MembershipFactory, TaskFactory
from tests.llm.model_server import MODEL_SERVER_API_KEY, ModelServer

TURN_FIELDS = [{"name": "helpfulness", "type": "rating", "min": 1, "max": 5}]


def chat_schema(connections: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "fields": [
            {"name": "chat", "type": "chat", "connections": connections, "turn_fields": TURN_FIELDS, **extra},
        ]
    }


@dataclass
class Stream:
    status: int
    events: list[tuple[str, dict[str, Any]]]
    raw: bytes

    def of(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]

    def text(self, slot: str) -> str:
        return "".join(d["text"] for d in self.of("delta") if d["slot"] == slot)


def parse_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@dataclass
class Labeller:
    """An annotator holding a lease on the chat task, calling the chat routes as the browser's fetches do."""

    headers: dict[str, str]
    lease: dict[str, Any]

    def url(self, tail: str = "") -> str:
        return f"/api/v1/assignments/{self.lease['id']}/chat/chat{tail}"

    def post(self, tail: str, body: dict[str, Any]) -> Stream:
        async def go() -> Stream:
            response = await AsyncClient().post(
                self.url(tail), json.dumps(body), content_type="application/json", headers=self.headers
            )
            if getattr(response, "streaming", False):
                raw = b"".join([chunk async for chunk in response.streaming_content])
                return Stream(response.status_code, parse_events(raw), raw)
            return Stream(response.status_code, [("json", json.loads(response.content))], response.content)

        return async_to_sync(go)()

    def turn(self, prompt: str, parent: str | None = None, **extra: Any) -> Stream:
        return self.post(
            "/turns", {"lease_token": self.lease["lease_token"], "prompt": prompt, "parent": parent, **extra}
        )

    def regenerate(self, message: str) -> Stream:
        return self.post(f"/messages/{message}/regenerate", {"lease_token": self.lease["lease_token"]})

    def edit(self, message: str, content: str) -> Stream:
        return self.post(f"/messages/{message}/edit", {"lease_token": self.lease["lease_token"], "content": content})

    def submit(self, result: dict[str, Any]) -> Any:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=self.headers["Authorization"])
        body = {"lease_token": self.lease["lease_token"], "result": result}
        return client.post(f"/api/v1/assignments/{self.lease['id']}/submit", body, format="json")

    def view(self) -> tuple[int, Any]:
        async def go() -> Any:
            return await AsyncClient().get(self.url(), headers=self.headers)

        response = async_to_sync(go)()
        return response.status_code, json.loads(response.content)


@pytest.fixture
def loopback(settings: Any) -> None:
    # The model server listens on 127.0.0.1, which the outbound rules refuse unless the operator allows it.
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture
def owner(tenant: Any) -> Any:
    return MembershipFactory(organization=tenant, role=Role.OWNER)


@pytest.fixture
def connections(owner: Any, model_server: ModelServer, loopback: None) -> dict[str, Any]:
    return {
        name: model_connection_create(
            actor=owner, name=name, base_url=model_server.base_url, model=model, api_key=MODEL_SERVER_API_KEY
        )
        for name, model in (("alpha", "model-a"), ("bravo", "model-b"))
    }


def labeller(tenant: Any, project: Any, role: Role = Role.ANNOTATOR) -> Labeller:
    membership = MembershipFactory(organization=tenant, role=role)
    token = ApiTokenFactory(membership=membership, role=role)
    headers = {"Authorization": f"Bearer {token.raw}"}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=headers["Authorization"])
    response = client.post(f"/api/v1/projects/{project.uuid}/next")
    assert response.status_code == 201, response.content
    return Labeller(headers=headers, lease=response.json())


@pytest.fixture
def chat_project(owner: Any, connections: dict[str, Any]) -> Any:
    project = project_create(actor=owner, name="Chat arena", label_schema=chat_schema(["alpha", "bravo"]))
    TaskFactory(project=project, data={"text": "Talk to the models."})
    return project


@pytest.fixture
def person(tenant: Any, chat_project: Any) -> Labeller:
    return labeller(tenant, chat_project)


def replies_by_slot(stream: Stream) -> dict[str, str]:
    return {r["slot"]: r["message"] for r in stream.of("prompt")[0]["replies"]}
