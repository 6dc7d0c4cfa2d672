"""The chat field type: its configuration (definition.py), the shape of its answer (values.py) and which changes
earlier answers survive (compat.py)."""

from typing import Any

import pytest

from core.errors import InvalidInput
from projects.label_schema import ChatField, parse_schema, result_errors, schema_incompatibilities

A1, A2, B1, B2, P1, P2, CONV = (
    "00000000-0000-4000-8000-0000000000a1",
    "00000000-0000-4000-8000-0000000000a2",
    "00000000-0000-4000-8000-0000000000b1",
    "00000000-0000-4000-8000-0000000000b2",
    "00000000-0000-4000-8000-000000000001",
    "00000000-0000-4000-8000-000000000002",
    "00000000-0000-4000-8000-0000000000cc",
)


def chat(**config: Any) -> dict[str, Any]:
    return {"fields": [{"name": "chat", "type": "chat", "connections": ["alpha", "bravo"], **config}]}


def refusals(document: Any) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        parse_schema(document)
    return [(e.field, e.code) for e in caught.value.errors]


def test_defaults_are_spelled_out_and_blind_when_comparing() -> None:
    (field,) = parse_schema(chat()).fields

    assert isinstance(field, ChatField)
    assert field.to_document() == {
        "name": "chat",
        "type": "chat",
        "required": True,
        "connections": ["alpha", "bravo"],
        "blind": True,
        "max_turns": 5,
        "turn_fields": [],
        "require_choice": True,
    }
    assert parse_schema(field_document := {"fields": [field.to_document()]}).to_document() == field_document


def test_a_single_model_is_not_blind_unless_asked() -> None:
    assert parse_schema(chat(connections=["alpha"])).fields[0].blind is False
    assert parse_schema(chat(connections=["alpha"], blind=True)).fields[0].blind is True


def test_turn_fields_are_parsed_like_fields() -> None:
    (field,) = parse_schema(
        chat(
            system_prompt="Be brief.",
            max_turns=20,
            turn_fields=[
                {"name": "helpful", "type": "rating", "min": 1, "max": 7},
                {
                    "name": "flags",
                    "type": "choices",
                    "options": ["unsafe", "wrong"],
                    "multiple": True,
                    "required": False,
                },
                {"name": "note", "type": "text", "required": False, "max_length": 500},
            ],
        )
    ).fields

    assert [(f.name, f.type) for f in field.turn_fields] == [
        ("helpful", "rating"),
        ("flags", "choices"),
        ("note", "text"),
    ]
    assert (field.system_prompt, field.max_turns) == ("Be brief.", 20)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"connections": []}, [("label_schema.fields[0].connections", "too_few")]),
        ({"connections": ["a", "b", "c", "d", "e"]}, [("label_schema.fields[0].connections", "too_many")]),
        ({"connections": ["a", "a"]}, [("label_schema.fields[0].connections[1]", "duplicate")]),
        ({"connections": "alpha"}, [("label_schema.fields[0].connections", "invalid_type")]),
        ({"connections": ["a", " "]}, [("label_schema.fields[0].connections[1]", "blank")]),
        ({"max_turns": 0}, [("label_schema.fields[0].max_turns", "out_of_range")]),
        ({"max_turns": 21}, [("label_schema.fields[0].max_turns", "out_of_range")]),
        ({"blind": "yes"}, [("label_schema.fields[0].blind", "invalid_type")]),
        ({"source": "text"}, [("label_schema.fields[0].source", "unknown_field")]),
        (
            {"turn_fields": [{"name": "x", "type": "spans", "source": "t", "labels": ["a"]}]},
            [("label_schema.fields[0].turn_fields[0].type", "unknown_type")],
        ),
        (
            {"turn_fields": [{"name": "x", "type": "rating", "min": 1, "max": 5, "when": {"field": "y", "equals": 1}}]},
            [("label_schema.fields[0].turn_fields[0].when", "not_allowed")],
        ),
        (
            {"turn_fields": [{"name": "x", "type": "rating", "min": 5, "max": 1}]},
            [("label_schema.fields[0].turn_fields[0].max", "invalid_range")],
        ),
        (
            {"turn_fields": [{"name": "x", "type": "text"}, {"name": "x", "type": "text"}]},
            [("label_schema.fields[0].turn_fields[1].name", "duplicate")],
        ),
    ],
)
def test_bad_configurations_name_their_path(config: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    document = chat()
    document["fields"][0].update(config)
    assert refusals(document) == expected


def test_the_connections_key_is_required() -> None:
    assert refusals({"fields": [{"name": "chat", "type": "chat"}]}) == [
        ("label_schema.fields[0].connections", "required")
    ]


SCHEMA = parse_schema(chat(turn_fields=[{"name": "helpful", "type": "rating", "min": 1, "max": 5}]))


def answer(**turn: Any) -> dict[str, Any]:
    base = {"prompt": P1, "replies": [A1, B1], "chosen": B1, "ratings": {"A": {"helpful": 2}, "B": {"helpful": 4}}}
    return {"chat": {"conversation": CONV, "turns": [{**base, **turn}]}}


def problems(result: Any) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in result_errors(SCHEMA, result, {})]


def test_a_well_formed_answer_passes() -> None:
    assert problems(answer()) == []


@pytest.mark.parametrize(
    ("turn", "expected"),
    [
        ({"chosen": None}, [("result.chat.turns[0].chosen", "invalid_type")]),
        ({"chosen": A2}, [("result.chat.turns[0].chosen", "invalid_choice")]),
        ({"replies": [A1]}, [("result.chat.turns[0].replies", "wrong_count")]),
        ({"replies": [A1, "B"]}, [("result.chat.turns[0].replies[1]", "invalid_type")]),
        ({"ratings": {"A": {"helpful": 2}}}, [("result.chat.turns[0].ratings.B.helpful", "required")]),
        (
            {"ratings": {"A": {"helpful": 9}, "B": {"helpful": 1}}},
            [("result.chat.turns[0].ratings.A.helpful", "out_of_range")],
        ),
        (
            {"ratings": {"A": {"helpful": 1}, "B": {"helpful": 1}, "C": {}}},
            [("result.chat.turns[0].ratings.C", "unknown_slot")],
        ),
        (
            {"ratings": {"A": {"helpful": 1, "tone": 3}, "B": {"helpful": 1}}},
            [("result.chat.turns[0].ratings.A.tone", "unknown_field")],
        ),
        ({"extra": 1}, [("result.chat.turns[0].extra", "unknown_field")]),
    ],
)
def test_a_malformed_turn_is_named(turn: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert problems(answer(**turn)) == expected


def test_the_choice_is_required_when_comparing() -> None:
    result = answer()
    del result["chat"]["turns"][0]["chosen"]

    assert problems(result) == [("result.chat.turns[0].chosen", "required")]


def test_too_many_turns_and_no_turns() -> None:
    many = {"chat": {"conversation": CONV, "turns": answer()["chat"]["turns"] * 6}}
    none = {"chat": {"conversation": CONV, "turns": []}}

    assert problems(many) == [("result.chat.turns", "too_many")]
    assert problems(none) == [("result.chat.turns", "empty")]


def test_changes_that_orphan_answers() -> None:
    old = parse_schema(chat(turn_fields=[{"name": "helpful", "type": "rating", "min": 1, "max": 5}]))
    new = parse_schema(
        chat(
            connections=["alpha", "bravo", "charlie"],
            max_turns=3,
            turn_fields=[
                {"name": "helpful", "type": "rating", "min": 2, "max": 5},
                {"name": "honest", "type": "rating", "min": 1, "max": 5},
            ],
        )
    )

    assert schema_incompatibilities(old, new) == [
        "Field 'chat': it now compares 3 models instead of 2.",
        "Field 'chat': at most 3 turns are now allowed (was 5).",
        "Field 'chat': turn field 'helpful': the scale narrowed from 1..5 to 2..5.",
        "Field 'chat': turn field 'honest' was added as required; earlier turns do not have it.",
    ]
    assert schema_incompatibilities(old, parse_schema(chat(connections=["delta", "echo"], blind=False))) == [
        "Field 'chat': turn field 'helpful' was removed."
    ]
