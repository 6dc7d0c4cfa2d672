# ruff: noqa: F811 - fixtures (the model server's, the chat project's) are imported here and named by the tests
"""Submitting a chat field's answer: the schema's shape check, then the tree check of annotation.selectors.chat —
every id is this assignment's conversation, the turns follow the chosen replies, each reply is in its slot."""

import uuid
from typing import Any

import pytest

from annotation.models import Annotation, ChatMessage
from tests.annotation.chat_support import (  # noqa: F401 - fixtures among them
    Labeller,
    chat_project,
    connections,
    labeller,
    loopback,
    owner,
    person,
    replies_by_slot,
)
from tests.factories import TaskFactory
from tests.llm.conftest import model_server  # noqa: F401 - the fixture
from tests.llm.model_server import ModelServer

pytestmark = pytest.mark.django_db


def two_turns(person: Labeller) -> dict[str, Any]:
    """A two-turn conversation, B chosen in the first turn, and the answer that describes it."""
    first = person.turn("Hello")
    slots = replies_by_slot(first)
    second = person.turn("Go on", parent=slots["B"])
    later = replies_by_slot(second)
    return {
        "conversation": str(ChatMessage.objects.get(uuid=slots["A"]).conversation.uuid),
        "turns": [
            {
                "prompt": first.of("prompt")[0]["message"],
                "replies": [slots["A"], slots["B"]],
                "chosen": slots["B"],
                "ratings": {"A": {"helpfulness": 2}, "B": {"helpfulness": 5}},
            },
            {
                "prompt": second.of("prompt")[0]["message"],
                "replies": [later["A"], later["B"]],
                "chosen": later["A"],
                "ratings": {"A": {"helpfulness": 4}, "B": {"helpfulness": 3}},
            },
        ],
    }


def errors(response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.content
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


def test_a_conversation_along_its_chosen_path_is_accepted(person: Labeller, model_server: ModelServer) -> None:
    answer = two_turns(person)

    response = person.submit({"chat": answer})

    assert response.status_code == 201, response.content
    assert Annotation.objects.get().result == {"chat": answer}


def test_an_edited_reply_may_stand_in_its_slot(person: Labeller, model_server: ModelServer) -> None:
    first = person.turn("Hello")
    slots = replies_by_slot(first)
    edited = person.edit(slots["A"], "Hello to you.").of("json")[0]["id"]
    answer = {
        "conversation": str(ChatMessage.objects.get(uuid=edited).conversation.uuid),
        "turns": [
            {
                "prompt": first.of("prompt")[0]["message"],
                "replies": [edited, slots["B"]],
                "chosen": edited,
                "ratings": {"A": {"helpfulness": 5}, "B": {"helpfulness": 1}},
            }
        ],
    }

    assert person.submit({"chat": answer}).status_code == 201


def test_a_missing_rating_and_choice_name_the_turn_and_field(person: Labeller, model_server: ModelServer) -> None:
    answer = two_turns(person)
    del answer["turns"][1]["ratings"]["B"]["helpfulness"]
    del answer["turns"][0]["chosen"]

    assert errors(person.submit({"chat": answer})) == [
        ("result.chat.turns[0].chosen", "required"),
        ("result.chat.turns[1].ratings.B.helpfulness", "required"),
    ]
    assert Annotation.objects.count() == 0


def test_ids_of_another_conversation_are_refused(
    tenant: Any, chat_project: Any, person: Labeller, model_server: ModelServer
) -> None:
    # Given another annotator's conversation on another task of the project
    TaskFactory(project=chat_project)
    other = labeller(tenant, chat_project)
    foreign = two_turns(other)
    answer = two_turns(person)

    # Then neither its conversation nor its messages may be named
    assert errors(person.submit({"chat": {**answer, "conversation": foreign["conversation"]}})) == [
        ("result.chat.conversation", "unknown_conversation")
    ]
    answer["turns"][1]["replies"][0] = foreign["turns"][1]["replies"][0]
    answer["turns"][1]["chosen"] = foreign["turns"][1]["replies"][0]
    assert errors(person.submit({"chat": answer})) == [("result.chat.turns[1].replies[0]", "unknown_message")]


def test_turns_must_follow_the_chosen_reply(person: Labeller, model_server: ModelServer) -> None:
    answer = two_turns(person)
    answer["turns"][0]["chosen"] = answer["turns"][0]["replies"][0]  # the second prompt went on from B, not A

    assert errors(person.submit({"chat": answer})) == [("result.chat.turns[1].prompt", "not_a_path")]


def test_replies_must_be_in_slot_order(person: Labeller, model_server: ModelServer) -> None:
    answer = two_turns(person)
    answer["turns"][0]["replies"].reverse()

    assert errors(person.submit({"chat": answer})) == [("result.chat.turns[0].replies[0]", "wrong_slot")]


def test_a_failed_reply_cannot_be_submitted(person: Labeller, model_server: ModelServer) -> None:
    model_server.fault("server_error", 500, model="model-a", times=1)
    first = person.turn("Hello")
    slots = replies_by_slot(first)
    failed = ChatMessage.objects.get(model_name="model-a")
    answer = {
        "conversation": str(failed.conversation.uuid),
        "turns": [
            {
                "prompt": first.of("prompt")[0]["message"],
                "replies": [slots["A"], slots["B"]],
                "chosen": str(failed.uuid),
                "ratings": {"A": {"helpfulness": 1}, "B": {"helpfulness": 1}},
            }
        ],
    }

    assert errors(person.submit({"chat": answer})) == [
        (f"result.chat.turns[0].replies[{'AB'.index(failed.slot)}]", "incomplete")
    ]


def test_malformed_ids_are_named(person: Labeller, model_server: ModelServer) -> None:
    answer = two_turns(person)
    answer["turns"][0]["prompt"] = "not-an-id"
    answer["turns"][1]["replies"] = [str(uuid.uuid4())]

    assert errors(person.submit({"chat": answer})) == [
        ("result.chat.turns[0].prompt", "invalid_type"),
        ("result.chat.turns[1].replies", "wrong_count"),
    ]
