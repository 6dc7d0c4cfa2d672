"""Task data against the keys a schema reads: each shape accepted, each bad shape named by path and code."""

import pytest

from projects.label_schema import SourceRequirement, parse_schema, source_requirements, validate_task_data

SCHEMA = parse_schema(
    {
        "fields": [
            {"name": "entities", "type": "spans", "source": "text", "labels": ["PER"]},
            {"name": "objects", "type": "boxes", "source": "image", "labels": ["car"]},
            {"name": "preference", "type": "pairwise", "source": "pair"},
            {"name": "order", "type": "ranking", "source": "responses"},
            {"name": "safe", "type": "choices", "options": ["yes", "no"], "source": "conversation"},
        ]
    }
)

DATA = {
    "text": "Alice met Bob.",
    "image": {"key": "images/1.png", "width": 640, "height": 480},
    "pair": [{"id": "a", "content": "first"}, {"id": "b", "content": "second", "model": "m2"}],
    "responses": [{"id": f"r{i}", "content": "x"} for i in range(3)],
    "conversation": {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
    "prompt": "Compare the answers.",
}


def errors_of(data, schema=SCHEMA, **kwargs) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in validate_task_data(schema, data, **kwargs)]


def with_key(key: str, value) -> dict:
    return {**DATA, key: value}


def test_data_of_every_shape_passes_and_unread_keys_are_the_labs_own():
    assert validate_task_data(SCHEMA, {**DATA, "metadata": {"anything": [1, None]}}) == []


VALID_SHAPES = [
    ("image", {"url": "https://media.example.org/a.png", "width": 1, "height": 100_000}),
    ("image", {"url": "s3://bucket/a.png", "width": 10, "height": 10, "alt": "a cat"}),
    ("image", {"key": "a.png", "width": 10, "height": 10}),
    ("text", ""),
    ("pair", [{"id": "tie-breaker", "content": ""}, {"id": "b", "content": "y"}]),
    ("responses", [{"id": "a", "content": "x"}, {"id": "b", "content": "y"}]),
    ("responses", [{"id": str(i), "content": "x"} for i in range(20)]),
    ("conversation", "plain text to classify"),
    ("conversation", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]),
    ("conversation", {"url": "http://media.example.org/a.png", "width": 5, "height": 5}),
    ("conversation", [{"id": "a", "content": "x"}]),
]


@pytest.mark.parametrize(("key", "value"), VALID_SHAPES)
def test_valid_shapes(key, value):
    assert errors_of(with_key(key, value)) == []


SHAPE_REFUSALS = [
    # text
    ("text", 5, [("text", "invalid_type")]),
    ("text", ["Alice"], [("text", "invalid_type")]),
    # image
    ("image", "https://media.example.org/a.png", [("image", "invalid_type")]),
    ("image", {"width": 10, "height": 10}, [("image.url", "required")]),
    ("image", {"url": "https://x.org/a.png", "key": "a.png", "width": 10, "height": 10}, [("image", "invalid")]),
    ("image", {"url": "javascript:alert(1)", "width": 10, "height": 10}, [("image.url", "invalid_url")]),
    ("image", {"url": "data:image/png;base64,AAAA", "width": 10, "height": 10}, [("image.url", "invalid_url")]),
    ("image", {"url": "/media/a.png", "width": 10, "height": 10}, [("image.url", "invalid_url")]),
    ("image", {"url": "", "width": 10, "height": 10}, [("image.url", "invalid_type")]),
    ("image", {"key": "../secrets/a.png", "width": 10, "height": 10}, [("image.key", "invalid")]),
    ("image", {"key": "/etc/passwd", "width": 10, "height": 10}, [("image.key", "invalid")]),
    ("image", {"key": 5, "width": 10, "height": 10}, [("image.key", "invalid_type")]),
    ("image", {"key": "a.png", "height": 10}, [("image.width", "required")]),
    ("image", {"key": "a.png", "width": True, "height": 10}, [("image.width", "invalid_type")]),
    ("image", {"key": "a.png", "width": 10.0, "height": 10}, [("image.width", "invalid_type")]),
    ("image", {"key": "a.png", "width": 10, "height": 0}, [("image.height", "out_of_range")]),
    ("image", {"key": "a.png", "width": 100_001, "height": 10}, [("image.width", "out_of_range")]),
    # candidates
    ("pair", {"a": "x", "b": "y"}, [("pair", "invalid_type")]),
    ("pair", [{"id": "a", "content": "x"}], [("pair", "wrong_count")]),
    ("pair", [{"id": c, "content": "x"} for c in "abc"], [("pair", "wrong_count")]),
    ("pair", [{"id": "a", "content": "x"}, "b"], [("pair[1]", "not_an_object")]),
    ("pair", [{"id": "a", "content": "x"}, {"content": "y"}], [("pair[1].id", "required")]),
    ("pair", [{"id": "a", "content": "x"}, {"id": 2, "content": "y"}], [("pair[1].id", "invalid_type")]),
    ("pair", [{"id": "a", "content": "x"}, {"id": " ", "content": "y"}], [("pair[1].id", "blank")]),
    ("pair", [{"id": "a", "content": "x"}, {"id": "b" * 129, "content": "y"}], [("pair[1].id", "too_long")]),
    ("pair", [{"id": "a", "content": "x"}, {"id": "a", "content": "y"}], [("pair[1].id", "duplicate")]),
    ("pair", [{"id": "a", "content": "x"}, {"id": "tie", "content": "y"}], [("pair[1].id", "reserved")]),
    ("pair", [{"id": "a", "content": "x"}, {"id": "b"}], [("pair[1].content", "required")]),
    ("pair", [{"id": "a", "content": "x"}, {"id": "b", "content": ["y"]}], [("pair[1].content", "invalid_type")]),
    ("responses", [{"id": "a", "content": "x"}], [("responses", "wrong_count")]),
    ("responses", [{"id": str(i), "content": "x"} for i in range(21)], [("responses", "wrong_count")]),
    ("responses", [{"id": "tie", "content": "x"}, {"id": "b", "content": "y"}], []),  # a ranking has no ties
    # content read by an optional source
    ("conversation", 42, [("conversation", "invalid_type")]),
    ("conversation", [], [("conversation", "invalid_type")]),
    ("conversation", {"messages": []}, [("conversation.messages", "invalid_type")]),
    (
        "conversation",
        {"messages": [{"role": "bot", "content": "x"}]},
        [("conversation.messages[0].role", "invalid_choice")],
    ),
    (
        "conversation",
        {"messages": [{"role": "user", "content": 1}]},
        [("conversation.messages[0].content", "invalid_type")],
    ),
    ("conversation", {"messages": ["hi"]}, [("conversation.messages[0]", "not_an_object")]),
    ("conversation", [{"role": "user"}], [("conversation[0].content", "invalid_type")]),
    ("conversation", {"url": "ftp://x.org/a.png", "width": 5, "height": 5}, [("conversation.url", "invalid_url")]),
]


@pytest.mark.parametrize(("key", "value", "expected"), SHAPE_REFUSALS)
def test_shape_refusals(key, value, expected):
    assert errors_of(with_key(key, value)) == [(f"data.{path}", code) for path, code in expected]


def test_missing_keys_are_named_with_the_fields_that_read_them():
    errors = validate_task_data(SCHEMA, {"text": "x"})

    assert [e.as_dict() for e in errors] == [
        {"field": "data.image", "message": "Missing: this key is read by field 'objects'.", "code": "required"},
        {"field": "data.pair", "message": "Missing: this key is read by field 'preference'.", "code": "required"},
        {"field": "data.responses", "message": "Missing: this key is read by field 'order'.", "code": "required"},
        {"field": "data.conversation", "message": "Missing: this key is read by field 'safe'.", "code": "required"},
    ]


def test_bulk_import_names_the_row_through_the_path():
    assert errors_of(with_key("text", 1), path="[7].data") == [("[7].data.text", "invalid_type")]


def test_data_must_be_an_object():
    assert errors_of(["x"]) == [("data", "not_an_object")]


def test_odd_task_data_keys_are_quoted_in_paths():
    schema = parse_schema({"fields": [{"name": "e", "type": "spans", "source": "body-text", "labels": ["X"]}]})

    assert errors_of({}, schema) == [('data["body-text"]', "required")]


def test_fields_sharing_a_key_combine_their_requirements():
    schema = parse_schema(
        {
            "fields": [
                {"name": "topic", "type": "choices", "options": ["a", "b"], "source": "responses"},
                {"name": "order", "type": "ranking", "source": "responses"},
                {"name": "preference", "type": "pairwise", "source": "responses"},
                {"name": "entities", "type": "spans", "source": "text", "labels": ["X"]},
                {"name": "note", "type": "text"},
            ]
        }
    )

    assert source_requirements(schema) == [
        SourceRequirement("responses", "candidates", ("topic", "order", "preference"), (2, 2), True),
        SourceRequirement("text", "text", ("entities",), None, False),
    ]
    three = [{"id": c, "content": "x"} for c in "abc"]
    [error] = validate_task_data(schema, {"responses": three, "text": "t"})
    assert error.as_dict() == {
        "field": "data.responses",
        "message": "Needs exactly 2 candidates (read by fields 'topic', 'order' and 'preference'); 3 given.",
        "code": "wrong_count",
    }


def test_a_schema_without_sources_accepts_any_object():
    schema = parse_schema({"fields": [{"name": "note", "type": "text"}]})

    assert validate_task_data(schema, {"anything": 1}) == []
