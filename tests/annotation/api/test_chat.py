# ruff: noqa: F811 - fixtures (the model server's, the chat project's) are imported here and named by the tests
"""The live chat routes (annotation/api/chat.py) against the loopback model server: turns streamed from two models
at once, regeneration, edits, the conversation view, the lease rule, faults, and blindness."""

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from annotation.models import ChatMessage, ChatMessageState, ChatOrigin, Conversation
from audit.models import AuditEvent
from llm.models import ModelCall
from llm.services.connections import model_budget_set, model_connection_update
from projects.services.projects import project_create
from tenancy.models import Role
from tests.annotation.chat_support import (  # noqa: F401 - fixtures among them
    Labeller,
    Stream,
    chat_project,
    chat_schema,
    connections,
    labeller,
    loopback,
    owner,
    person,
    replies_by_slot,
)
from tests.factories import MembershipFactory, TaskFactory
from tests.llm.conftest import model_server  # noqa: F401 - the fixture
from tests.llm.model_server import UPSTREAM_ERROR_DETAIL, ModelServer

pytestmark = pytest.mark.django_db


def test_a_turn_streams_both_models_by_slot_and_stores_the_tree(person: Labeller, model_server: ModelServer) -> None:
    # Given two models that answer in several words
    model_server.script("model-a", "Paris is the capital.")
    model_server.script("model-b", "It is Paris.")

    # When the annotator sends the first prompt
    stream = person.turn("What is the capital of France?")

    # Then both replies stream, each under its slot only, and the turn ends with both complete
    assert stream.status == 200
    names = [event for event, _ in stream.events]
    assert (names[0], names[-1]) == ("prompt", "turn")
    slots = replies_by_slot(stream)
    assert sorted(slots) == ["A", "B"]
    order = ChatMessage.objects.get(uuid=stream.of("prompt")[0]["message"]).slot_order
    texts = {"alpha": "Paris is the capital.", "bravo": "It is Paris."}
    for index, slot in enumerate("AB"):
        assert stream.text(slot) == texts[order[index]]
    assert sorted(d["slot"] for d in stream.of("done")) == ["A", "B"]
    assert stream.of("turn")[0]["replies"] == [
        {"slot": "A", "message": slots["A"], "state": "complete"},
        {"slot": "B", "message": slots["B"], "state": "complete"},
    ]
    # And the tree holds the prompt and the two replies under it, with the models snapshotted
    conversation = Conversation.objects.get()
    prompt, *replies = conversation.messages.order_by("id")
    assert (prompt.role, prompt.turn, prompt.origin, prompt.parent_id) == ("user", 1, "prompt", None)
    assert sorted(order) == ["alpha", "bravo"]
    for reply in replies:
        assert reply.parent_id == prompt.pk
        assert reply.state == ChatMessageState.COMPLETE
        assert reply.connection.name == order["AB".index(reply.slot)]
        assert reply.model_name == {"alpha": "model-a", "bravo": "model-b"}[reply.connection.name]
        assert reply.content == texts[reply.connection.name]
        assert reply.completion_tokens == len(reply.content.split())
    # And each model saw the conversation so far, and the calls are on the books
    assert sorted(r.messages[-1]["content"] for r in model_server.requests if r.path.endswith("/completions")) == [
        "What is the capital of France?",
        "What is the capital of France?",
    ]
    assert ModelCall.objects.filter(purpose="chat", state="succeeded").count() == 2


def test_the_next_turn_sends_the_chosen_path_to_every_model(person: Labeller, model_server: ModelServer) -> None:
    first = person.turn("Hello")
    chosen = replies_by_slot(first)["B"]
    chosen_text = ChatMessage.objects.get(uuid=chosen).content

    second = person.turn("And then?", parent=chosen)

    assert second.status == 200
    prompt = ChatMessage.objects.get(uuid=second.of("prompt")[0]["message"])
    assert (prompt.turn, str(prompt.parent.uuid)) == (2, chosen)
    last_two = [r.messages for r in model_server.requests if r.path.endswith("/completions")][-2:]
    for messages in last_two:
        assert messages == [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": chosen_text},
            {"role": "user", "content": "And then?"},
        ]


def test_the_system_prompt_goes_first(tenant: Any, owner: Any, connections: Any, model_server: ModelServer) -> None:
    project = project_create(
        actor=owner, name="Pirates", label_schema=chat_schema(["alpha"], system_prompt="Answer like a pirate.")
    )
    TaskFactory(project=project)
    person = labeller(tenant, project)

    stream = person.turn("Hi")

    assert sorted(d["slot"] for d in stream.of("done")) == ["A"]
    request = [r for r in model_server.requests if r.path.endswith("/completions")][-1]
    assert request.messages == [
        {"role": "system", "content": "Answer like a pirate."},
        {"role": "user", "content": "Hi"},
    ]


def test_the_conversation_view_is_blind(person: Labeller, model_server: ModelServer) -> None:
    model_server.script("model-a", "One.")
    model_server.script("model-b", "Two.")
    person.turn("Who are you?")

    status, view = person.view()

    assert status == 200
    assert view["conversation"] == str(Conversation.objects.get().uuid)
    assert (view["field"], view["blind"], view["max_turns"], view["slots"]) == ("chat", True, 5, ["A", "B"])
    assert [(m["role"], m["slot"], m["state"], m["turn"]) for m in view["messages"]] == [
        ("user", None, "complete", 1),
        ("assistant", "A", "complete", 1),
        ("assistant", "B", "complete", 1),
    ]
    assert sorted(m["content"] for m in view["messages"][1:]) == ["One.", "Two."]
    assert all("model" not in m for m in view["messages"])


def test_an_unblinded_field_names_the_model(tenant: Any, owner: Any, connections: Any) -> None:
    project = project_create(actor=owner, name="Open", label_schema=chat_schema(["alpha", "bravo"], blind=False))
    TaskFactory(project=project)
    person = labeller(tenant, project)
    person.turn("Hi")

    _, view = person.view()

    assert view["blind"] is False
    assert sorted(m.get("model") for m in view["messages"] if m["role"] == "assistant") == ["alpha", "bravo"]


def test_nothing_the_annotator_receives_names_a_model(person: Labeller, model_server: ModelServer) -> None:
    model_server.script("model-a", "First answer.")
    model_server.script("model-b", "Second answer.")

    stream = person.turn("Compare yourselves.")
    edit = person.edit(replies_by_slot(stream)["A"], "A better answer.")
    regenerated = person.regenerate(replies_by_slot(stream)["B"])
    _, view = person.view()

    seen = stream.raw + edit.raw + regenerated.raw + json.dumps(view).encode()
    for leak in ("alpha", "bravo", "model-a", "model-b", model_server.base_url, str(model_server.port)):
        assert leak.encode() not in seen


def test_a_regeneration_is_a_sibling_in_the_same_slot(person: Labeller, model_server: ModelServer) -> None:
    first = person.turn("Tell me a joke.")
    original = ChatMessage.objects.get(uuid=replies_by_slot(first)["A"])
    model_server.script(original.model_name, "A better joke.")

    again = person.regenerate(str(original.uuid))

    assert again.status == 200
    assert [d["slot"] for d in again.of("delta")] == ["A", "A", "A"]
    (done,) = again.of("done")
    new = ChatMessage.objects.get(uuid=done["message"])
    assert (new.parent_id, new.slot, new.origin, new.regenerated_from_id) == (
        original.parent_id,
        "A",
        ChatOrigin.REGENERATED,
        original.pk,
    )
    assert (new.connection_id, new.content, new.state) == (original.connection_id, "A better joke.", "complete")
    original.refresh_from_db()
    assert original.state == "complete"  # kept as it was


def test_an_edit_is_a_new_sibling_the_conversation_goes_on_from(person: Labeller, model_server: ModelServer) -> None:
    first = person.turn("Write a haiku.")
    original = ChatMessage.objects.get(uuid=replies_by_slot(first)["B"])
    before = original.content

    edited = person.edit(str(original.uuid), "An old silent pond")

    assert edited.status == 201
    body = edited.of("json")[0]
    assert (body["slot"], body["origin"], body["edited_from"], body["content"], body["state"]) == (
        "B",
        "edited",
        str(original.uuid),
        "An old silent pond",
        "complete",
    )
    assert body["parent"] == str(original.parent.uuid)
    original.refresh_from_db()
    assert original.content == before
    # The next turn continues from the edit: the models see the edited text
    person.turn("Another one.", parent=body["id"])
    request = [r for r in model_server.requests if r.path.endswith("/completions")][-1]
    assert request.messages[1] == {"role": "assistant", "content": "An old silent pond"}


def test_every_change_is_on_the_trail(person: Labeller) -> None:
    first = person.turn("Hi")
    reply = replies_by_slot(first)["A"]
    person.edit(reply, "Hello there.")
    person.regenerate(reply)

    actions = list(
        AuditEvent.objects.filter(action__startswith="chat.").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["chat.turn", "chat.edit", "chat.regenerate"]
    turn = AuditEvent.objects.get(action="chat.turn")
    assert turn.metadata["turn"] == 1
    assert sorted(turn.metadata["slot_order"]) == ["alpha", "bravo"]


# --- the lease rule ---


def test_a_stale_lease_token_is_refused_and_nothing_is_written(person: Labeller) -> None:
    stream = person.post(
        "/turns", {"lease_token": "00000000-0000-0000-0000-000000000000", "prompt": "Hi", "parent": None}
    )

    assert stream.status == 409
    assert stream.of("json")[0]["code"] == "lease_lost"
    assert ChatMessage.objects.count() == 0


def test_another_annotators_assignment_is_not_found(tenant: Any, chat_project: Any, person: Labeller) -> None:
    TaskFactory(project=chat_project)
    intruder = labeller(tenant, chat_project)
    intruder.lease = {**intruder.lease, "id": person.lease["id"], "lease_token": person.lease["lease_token"]}

    stream = intruder.turn("Hi")
    status, body = intruder.view()

    assert (stream.status, stream.of("json")[0]) == (404, {"detail": "Not found.", "code": "not_found", "errors": []})
    assert (status, body) == (404, {"detail": "Not found.", "code": "not_found", "errors": []})
    assert ChatMessage.objects.count() == 0


def test_a_field_that_is_not_a_chat_is_not_found(person: Labeller) -> None:
    async def go() -> Any:
        return await AsyncClient().get(f"/api/v1/assignments/{person.lease['id']}/chat/nope", headers=person.headers)

    response = async_to_sync(go)()

    assert (response.status_code, json.loads(response.content)) == (
        404,
        {"detail": "Not found.", "code": "not_found", "errors": []},
    )


def test_anonymous_callers_are_refused(person: Labeller) -> None:
    async def go() -> Any:
        return await AsyncClient().post(person.url("/turns"), "{}", content_type="application/json")

    response = async_to_sync(go)()

    assert response.status_code == 401
    assert json.loads(response.content) == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
        "errors": [],
    }


# --- bad input ---


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"prompt": "   "}, "prompt", "blank"),
        ({"prompt": 42}, "prompt", "blank"),
        ({"prompt": "Hi", "parent": "not-a-uuid"}, "parent", "unknown_message"),
        ({"prompt": "Hi", "surprise": 1}, "surprise", "unknown_field"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    person: Labeller, body: dict[str, Any], field: str, code: str
) -> None:
    stream = person.post("/turns", {"lease_token": person.lease["lease_token"], **body})

    assert stream.status == 400
    assert [(e["field"], e["code"]) for e in stream.of("json")[0]["errors"]] == [(field, code)]
    assert ChatMessage.objects.count() == 0


def test_a_turn_cannot_go_past_max_turns(tenant: Any, owner: Any, connections: Any) -> None:
    project = project_create(actor=owner, name="Short", label_schema=chat_schema(["alpha"], max_turns=1))
    TaskFactory(project=project)
    person = labeller(tenant, project)
    first = person.turn("One")

    second = person.turn("Two", parent=replies_by_slot(first)["A"])

    assert second.status == 400
    assert [(e["field"], e["code"]) for e in second.of("json")[0]["errors"]] == [("parent", "too_many")]
    assert ChatMessage.objects.filter(turn=2).count() == 0


# --- faults: each slot ends with a plain message, the tree stays consistent, the reply can be regenerated ---


def fault_turn(
    person: Labeller, model_server: ModelServer, kind: str, value: float | None = None
) -> tuple[Stream, ChatMessage, ChatMessage]:
    """One turn in which model-a misbehaves and model-b answers; returns the stream, the failed and the good reply."""
    model_server.script("model-b", "Fine answer.")
    model_server.fault(kind, value, model="model-a", times=1)
    stream = person.turn("Hello?")
    replies = {m.model_name: m for m in ChatMessage.objects.filter(role="assistant")}
    return stream, replies["model-a"], replies["model-b"]


@pytest.mark.parametrize(
    ("kind", "value", "code", "message"),
    [
        ("rate_limit", 12, "rate_limited", "The model is rate-limited; try again in 12 s."),
        ("server_error", 500, "upstream_error", "The model server failed (HTTP 500)."),
        ("malformed_chunk", 1, "malformed", "The model server sent a reply the platform could not read."),
        ("disconnect", 2, "disconnected", "The connection to the model was lost before it finished."),
    ],
)
def test_a_fault_fails_its_slot_with_a_plain_message(
    person: Labeller,
    model_server: ModelServer,
    kind: str,
    value: float,
    code: str,
    message: str,
) -> None:
    stream, failed, good = fault_turn(person, model_server, kind, value)

    assert stream.status == 200
    (error,) = stream.of("error")
    assert (error["slot"], error["message"], error["code"], error["error"]) == (
        failed.slot,
        str(failed.uuid),
        code,
        message,
    )
    assert UPSTREAM_ERROR_DETAIL not in stream.raw.decode()
    assert [d["slot"] for d in stream.of("done")] == [good.slot]
    assert (failed.state, failed.error_code, failed.error_message) == ("failed", code, message)
    assert (good.state, good.content) == ("complete", "Fine answer.")
    states = {r["slot"]: r["state"] for r in stream.of("turn")[0]["replies"]}
    assert states == {failed.slot: "failed", good.slot: "complete"}
    # The annotator regenerates the failed reply and goes on
    again = person.regenerate(str(failed.uuid))
    assert [d["slot"] for d in again.of("done")] == [failed.slot]


def test_rate_limit_says_when_to_try_again(person: Labeller, model_server: ModelServer) -> None:
    stream, _, _ = fault_turn(person, model_server, "rate_limit", 12)

    assert stream.of("error")[0]["retry_after"] == 12.0


def test_a_model_that_does_not_answer_in_time(
    tenant: Any, person: Labeller, model_server: ModelServer, connections: Any
) -> None:
    owner = MembershipFactory(organization=tenant, role=Role.OWNER)
    for connection in connections.values():
        model_connection_update(actor=owner, connection=connection, timeout_seconds=1)

    stream, failed, good = fault_turn(person, model_server, "slow_first_token", 3)

    assert (stream.of("error")[0]["code"], stream.of("error")[0]["error"]) == (
        "timeout",
        "The model did not answer in time.",
    )
    assert (failed.state, good.state) == ("failed", "complete")


def test_a_used_up_budget_fails_every_slot_and_keeps_the_prompt(
    tenant: Any,
    owner: Any,
    chat_project: Any,
    person: Labeller,
    model_server: ModelServer,
) -> None:
    # Given a first turn that spent some tokens, and an allowance cut to what is spent
    first = person.turn("Hello")
    spent = sum(m.prompt_tokens + m.completion_tokens for m in ChatMessage.objects.filter(role="assistant"))
    model_budget_set(actor=owner, project=chat_project, token_limit=spent)

    # When the annotator goes on
    second = person.turn("More please", parent=replies_by_slot(first)["A"])

    # Then each slot says the budget is used up, the replies are failed and the prompt stands
    assert second.status == 200
    assert sorted((e["slot"], e["code"], e["error"]) for e in second.of("error")) == [
        ("A", "budget_exhausted", "This project's model budget is used up."),
        ("B", "budget_exhausted", "This project's model budget is used up."),
    ]
    turn_two = ChatMessage.objects.filter(turn=2).order_by("id")
    assert [(m.role, m.state) for m in turn_two] == [
        ("user", "complete"),
        ("assistant", "failed"),
        ("assistant", "failed"),
    ]


# --- the schema names the organization's connections ---


def test_a_schema_naming_an_unknown_connection_is_refused(tenant: Any, api_as: Any, connections: Any) -> None:
    client = api_as(tenant, Role.OWNER)

    response = client.post(
        "/api/v1/projects/",
        {"name": "Arena", "label_schema": chat_schema(["alpha", "charlie"])},
        format="json",
    )

    assert response.status_code == 400
    assert [(e["field"], e["code"], e["message"]) for e in response.json()["errors"]] == [
        (
            "label_schema.fields[0].connections[1]",
            "unknown_connection",
            "The organization has no model connection called 'charlie'.",
        )
    ]


def test_a_switched_off_model_fails_its_reply_before_any_call(
    tenant: Any, owner: Any, connections: Any, person: Labeller, model_server: ModelServer
) -> None:
    model_connection_update(actor=owner, connection=connections["alpha"], enabled=False)

    stream = person.turn("Hello")

    alpha = ChatMessage.objects.get(connection=connections["alpha"])
    assert [(e["slot"], e["code"]) for e in stream.of("error")] == [(alpha.slot, "disabled")]
    assert [r.model for r in model_server.requests if r.path.endswith("/completions")] == ["model-b"]
    assert (alpha.state, alpha.error_message) == ("failed", "This model connection is switched off.")
    calls = AuditEvent.objects.filter(action="model.call")
    assert sorted((e.outcome, e.metadata["connection"]) for e in calls) == [("denied", "alpha"), ("success", "bravo")]


def test_annotators_get_the_schema_without_model_names(tenant: Any, api_as: Any, chat_project: Any) -> None:
    response = api_as(tenant, Role.ANNOTATOR).get(f"/api/v1/projects/{chat_project.uuid}")

    assert response.status_code == 200
    assert response.json()["label_schema"]["fields"][0]["connections"] == ["A", "B"]
    for leak in ("alpha", "bravo", "model-a", "model-b"):
        assert leak not in response.content.decode()
