# ruff: noqa: F811 - fixtures (the model server's, the chat project's) are imported here and named by the tests
"""Exports of chat answers (annotation/exports/chat_fields.py, chat_tree.py and the SFT and DPO writers): the whole
tree with the models named, the chosen path as an SFT chat, and preference pairs per turn, loadable by `datasets`."""

import json
from typing import Any

import pytest

from annotation.models import ChatMessage
from tests.annotation import exports_support
from tests.annotation.chat_support import (  # noqa: F401 - fixtures among them
    Labeller,
    chat_project,
    connections,
    loopback,
    owner,
    person,
    replies_by_slot,
)
from tests.annotation.exports_support import bare_world, run_export
from tests.llm.conftest import model_server  # noqa: F401 - the fixture
from tests.llm.model_server import ModelServer

pytestmark = pytest.mark.django_db
object_root = exports_support.object_root


def models_of(message_id: str) -> dict[str, str]:
    message = ChatMessage.objects.select_related("connection").get(uuid=message_id)
    return {"connection": message.connection.name, "model": message.model_name}


@pytest.fixture
def answered(person: Labeller, model_server: ModelServer) -> dict[str, Any]:
    """Two turns: in the first, Response A rewritten by the annotator and chosen; in the second, B chosen."""
    model_server.script("model-a", "Alpha says hi.")
    model_server.script("model-b", "Bravo says hi.")
    first = person.turn("Hello")
    one = replies_by_slot(first)
    edited = person.edit(one["A"], "Hello, I am here to help.").of("json")[0]["id"]
    second = person.turn("Go on", parent=edited)
    two = replies_by_slot(second)
    ratings = {"A": {"helpfulness": 3}, "B": {"helpfulness": 4}}
    answer = {
        "conversation": str(ChatMessage.objects.get(uuid=edited).conversation.uuid),
        "turns": [
            {
                "prompt": first.of("prompt")[0]["message"],
                "replies": [edited, one["B"]],
                "chosen": edited,
                "ratings": ratings,
            },
            {
                "prompt": second.of("prompt")[0]["message"],
                "replies": [two["A"], two["B"]],
                "chosen": two["B"],
                "ratings": ratings,
            },
        ],
    }
    assert person.submit({"chat": answer}).status_code == 201
    return {"answer": answer, "original": one["A"], "edited": edited, "one": one, "two": two}


def lines(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines()]


def text(message_id: str) -> str:
    return ChatMessage.objects.get(uuid=message_id).content


def test_the_tree_holds_every_message_with_its_model(
    tenant: Any, chat_project: Any, answered: Any, object_root: Any
) -> None:
    job, body = run_export(bare_world(chat_project), "chat_tree")

    (line,) = lines(body)
    assert job.rows == 1
    assert (line["conversation"], line["field"], line["answer"]) == (
        answered["answer"]["conversation"],
        "chat",
        answered["answer"],
    )
    messages = {m["id"]: m for m in line["messages"]}
    assert len(messages) == 7  # two prompts, four replies, one edit
    edit = messages[answered["edited"]]
    assert (edit["origin"], edit["edited_from"], edit["content"], edit["slot"]) == (
        "edited",
        answered["original"],
        "Hello, I am here to help.",
        "A",
    )
    for reply in (m for m in line["messages"] if m["role"] == "assistant"):
        assert {"connection": reply["connection"], "model": reply["model"]} == models_of(reply["id"])
    first_prompt = messages[answered["answer"]["turns"][0]["prompt"]]
    assert sorted(first_prompt["slot_order"]) == ["alpha", "bravo"]
    assert first_prompt["slot_order"][1] == models_of(answered["one"]["B"])["connection"]


def test_sft_follows_the_kept_replies(tenant: Any, chat_project: Any, answered: Any, object_root: Any) -> None:
    _, body = run_export(bare_world(chat_project), "sft")

    (line,) = lines(body)
    assert line["messages"] == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hello, I am here to help."},
        {"role": "user", "content": "Go on"},
        {"role": "assistant", "content": text(answered["two"]["B"])},
    ]
    assert (line["field"], line["conversation"]) == ("chat", answered["answer"]["conversation"])


def test_dpo_pairs_per_turn_and_for_the_edit(tenant: Any, chat_project: Any, answered: Any, object_root: Any) -> None:
    _, body = run_export(bare_world(chat_project), "dpo")

    pairs = lines(body)
    assert [(p["turn"], p["kind"], p["chosen_id"], p["rejected_id"]) for p in pairs] == [
        (1, "choice", answered["edited"], answered["one"]["B"]),
        (1, "edit", answered["edited"], answered["original"]),
        (2, "choice", answered["two"]["B"], answered["two"]["A"]),
    ]
    assert pairs[2]["prompt"] == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hello, I am here to help."},
        {"role": "user", "content": "Go on"},
    ]
    assert pairs[2]["chosen"] == [{"role": "assistant", "content": text(answered["two"]["B"])}]
    assert pairs[2]["chosen_model"] == models_of(answered["two"]["B"])
    assert pairs[2]["rejected_model"] == models_of(answered["two"]["A"])


def _load(body: bytes, tmp_path: Any, monkeypatch: Any, name: str) -> Any:
    for variable in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        monkeypatch.setenv(variable, "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from datasets import load_dataset

    path = tmp_path / name
    path.write_bytes(body)
    return load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf" / "datasets"))


def test_the_datasets_library_loads_the_chat_exports(
    tenant: Any, chat_project: Any, answered: Any, object_root: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    project = bare_world(chat_project)
    pairs = _load(run_export(project, "dpo")[1], tmp_path, monkeypatch, "pairs.jsonl")
    chats = _load(run_export(project, "sft")[1], tmp_path, monkeypatch, "sft.jsonl")
    trees = _load(run_export(project, "chat_tree")[1], tmp_path, monkeypatch, "trees.jsonl")

    assert pairs.num_rows == 3
    assert {"prompt", "chosen", "rejected", "chosen_model", "rejected_model"} <= set(pairs.column_names)
    assert pairs["chosen"][1] == [{"role": "assistant", "content": "Hello, I am here to help."}]
    assert chats.num_rows == 1
    assert [m["role"] for m in chats["messages"][0]] == ["user", "assistant", "user", "assistant"]
    assert trees.num_rows == 1
    assert len(trees["messages"][0]) == 7
