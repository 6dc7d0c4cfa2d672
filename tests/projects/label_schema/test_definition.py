"""Schema documents: each field type parses to its typed form and back; every refusal names its path and code."""

import dataclasses

import pytest

from core.errors import InvalidInput
from projects.label_schema import (
    BoxesField,
    ChoicesField,
    FieldCondition,
    LabelSchema,
    PairwiseField,
    RankingField,
    RatingField,
    RubricCriterion,
    RubricField,
    SpansField,
    TextField,
    parse_schema,
)


def refusals(document, **kwargs) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as raised:
        parse_schema(document, **kwargs)
    return [(e.field, e.code) for e in raised.value.errors]


def one(field: dict) -> dict:
    return {"fields": [field]}


# --- valid documents: the typed form, and the canonical document with defaults filled in ---

ROUND_TRIPS = [
    pytest.param(
        {"name": "sentiment", "type": "choices", "options": ["pos", "neg"]},
        ChoicesField(name="sentiment", options=("pos", "neg")),
        {"name": "sentiment", "type": "choices", "required": True, "options": ["pos", "neg"], "multiple": False},
        id="choices-single",
    ),
    pytest.param(
        {
            "name": "topics",
            "type": "choices",
            "label": "Topics",
            "options": ["a", "b", "c"],
            "multiple": True,
            "min_selected": 1,
            "max_selected": 2,
            "required": False,
            "source": "text",
        },
        ChoicesField(
            name="topics",
            label="Topics",
            required=False,
            options=("a", "b", "c"),
            multiple=True,
            source="text",
            min_selected=1,
            max_selected=2,
        ),
        {
            "name": "topics",
            "type": "choices",
            "label": "Topics",
            "required": False,
            "options": ["a", "b", "c"],
            "multiple": True,
            "source": "text",
            "min_selected": 1,
            "max_selected": 2,
        },
        id="choices-multiple",
    ),
    pytest.param(
        {"name": "score", "type": "rating", "min": 1, "max": 5, "labels": {"5": "great", "1": "poor"}},
        RatingField(name="score", min=1, max=5, labels=((1, "poor"), (5, "great"))),
        {
            "name": "score",
            "type": "rating",
            "required": True,
            "min": 1,
            "max": 5,
            "labels": {"1": "poor", "5": "great"},
        },
        id="rating",
    ),
    pytest.param(
        {"name": "temperature", "type": "rating", "min": -3, "max": 3, "source": "reply"},
        RatingField(name="temperature", min=-3, max=3, source="reply"),
        {"name": "temperature", "type": "rating", "required": True, "min": -3, "max": 3, "source": "reply"},
        id="rating-negative",
    ),
    pytest.param(
        {"name": "answer", "type": "text"},
        TextField(name="answer", min_length=0, max_length=10_000),
        {"name": "answer", "type": "text", "required": True, "min_length": 0, "max_length": 10_000},
        id="text-defaults",
    ),
    pytest.param(
        {"name": "rewrite", "type": "text", "min_length": 10, "max_length": 100_000, "source": "draft"},
        TextField(name="rewrite", min_length=10, max_length=100_000, source="draft"),
        {
            "name": "rewrite",
            "type": "text",
            "required": True,
            "min_length": 10,
            "max_length": 100_000,
            "source": "draft",
        },
        id="text-bounds",
    ),
    pytest.param(
        {"name": "entities", "type": "spans", "source": "text", "labels": ["PER", "ORG"]},
        SpansField(name="entities", source="text", labels=("PER", "ORG")),
        {
            "name": "entities",
            "type": "spans",
            "required": True,
            "source": "text",
            "labels": ["PER", "ORG"],
            "allow_overlap": False,
        },
        id="spans",
    ),
    pytest.param(
        {"name": "objects", "type": "boxes", "source": "image", "labels": ["car"]},
        BoxesField(name="objects", source="image", labels=("car",)),
        {"name": "objects", "type": "boxes", "required": True, "source": "image", "labels": ["car"]},
        id="boxes",
    ),
    pytest.param(
        {"name": "preference", "type": "pairwise", "source": "responses"},
        PairwiseField(name="preference", source="responses"),
        {
            "name": "preference",
            "type": "pairwise",
            "required": True,
            "source": "responses",
            "allow_tie": True,
            "strength": False,
            "rationale": "optional",
        },
        id="pairwise-defaults",
    ),
    pytest.param(
        {
            "name": "preference",
            "type": "pairwise",
            "source": "responses",
            "allow_tie": False,
            "strength": True,
            "rationale": "required",
        },
        PairwiseField(name="preference", source="responses", allow_tie=False, strength=True, rationale="required"),
        {
            "name": "preference",
            "type": "pairwise",
            "required": True,
            "source": "responses",
            "allow_tie": False,
            "strength": True,
            "rationale": "required",
        },
        id="pairwise",
    ),
    pytest.param(
        {"name": "order", "type": "ranking", "source": "responses", "allow_ties": True},
        RankingField(name="order", source="responses", allow_ties=True),
        {"name": "order", "type": "ranking", "required": True, "source": "responses", "allow_ties": True},
        id="ranking",
    ),
    pytest.param(
        {
            "name": "quality",
            "type": "rubric",
            "criteria": [
                {"name": "accuracy", "label": "Accuracy", "min": 1, "max": 5},
                {"name": "Tone & style", "min": 0, "max": 3},
            ],
        },
        RubricField(
            name="quality",
            criteria=(
                RubricCriterion(name="accuracy", label="Accuracy", min=1, max=5),
                RubricCriterion(name="Tone & style", min=0, max=3),
            ),
        ),
        {
            "name": "quality",
            "type": "rubric",
            "required": True,
            "criteria": [
                {"name": "accuracy", "label": "Accuracy", "min": 1, "max": 5},
                {"name": "Tone & style", "min": 0, "max": 3},
            ],
        },
        id="rubric",
    ),
]


@pytest.mark.parametrize(("field", "typed", "canonical"), ROUND_TRIPS)
def test_each_field_type_parses_to_its_typed_form_and_back(field, typed, canonical):
    schema = parse_schema(one(field))

    assert schema == LabelSchema((typed,))
    assert schema.to_document() == {"fields": [canonical]}
    assert parse_schema(schema.to_document()) == schema


def test_a_schema_is_immutable_and_looks_fields_up_by_name():
    schema = parse_schema(
        {
            "fields": [
                {"name": "a", "type": "choices", "options": ["x", "y"]},
                {"name": "b", "type": "rating", "min": 1, "max": 3, "labels": {"2": "ok"}},
            ]
        }
    )

    assert schema.names == ("a", "b")
    assert [f.type for f in schema] == ["choices", "rating"]
    assert schema.get("b") == RatingField(name="b", min=1, max=3, labels=((2, "ok"),))
    assert schema.get("c") is None
    assert schema.get("b").label_of(2) == "ok"
    with pytest.raises(dataclasses.FrozenInstanceError):
        schema.fields[0].options = ("z",)  # type: ignore[misc]


def test_conditions_parse_for_choices_rating_and_text_fields():
    schema = parse_schema(
        {
            "fields": [
                {"name": "kind", "type": "choices", "options": ["bug", "idea"]},
                {"name": "tags", "type": "choices", "options": ["ui", "api"], "multiple": True},
                {"name": "score", "type": "rating", "min": 1, "max": 5},
                {"name": "word", "type": "text"},
                {"name": "a", "type": "text", "when": {"field": "kind", "equals": "bug"}},
                {"name": "b", "type": "text", "when": {"field": "tags", "equals": "api"}},
                {"name": "c", "type": "text", "when": {"field": "score", "equals": 1}},
                {"name": "d", "type": "text", "when": {"field": "word", "equals": "other"}},
                {"name": "e", "type": "text", "when": None},
            ]
        }
    )

    assert [f.when for f in schema.fields[4:]] == [
        FieldCondition(field="kind", equals="bug"),
        FieldCondition(field="tags", equals="api"),
        FieldCondition(field="score", equals=1),
        FieldCondition(field="word", equals="other"),
        None,
    ]
    assert schema.to_document()["fields"][4]["when"] == {"field": "kind", "equals": "bug"}


def test_fields_may_share_a_source_when_they_read_the_same_shape():
    schema = parse_schema(
        {
            "fields": [
                {"name": "pref", "type": "pairwise", "source": "responses"},
                {"name": "order", "type": "ranking", "source": "responses"},
                {"name": "entities", "type": "spans", "source": "text", "labels": ["X"]},
                {"name": "topic", "type": "choices", "options": ["a", "b"], "source": "text"},
            ]
        }
    )

    assert [f.source for f in schema] == ["responses", "responses", "text", "text"]


def test_fifty_fields_two_hundred_options_and_thirty_criteria_are_allowed():
    fields = [{"name": f"f{i}", "type": "text"} for i in range(48)]
    fields.append({"name": "big", "type": "choices", "options": [f"o{i}" for i in range(200)]})
    fields.append(
        {"name": "rubric", "type": "rubric", "criteria": [{"name": f"c{i}", "min": 0, "max": 100} for i in range(30)]}
    )

    schema = parse_schema({"fields": fields})

    assert len(schema.fields) == 50


# --- refusals: the document as a whole ---

DOCUMENT_REFUSALS = [
    pytest.param([], [("label_schema", "not_an_object")], id="not-an-object"),
    pytest.param({}, [("label_schema.fields", "required")], id="no-fields"),
    pytest.param({"fields": {}}, [("label_schema.fields", "invalid_type")], id="fields-not-a-list"),
    pytest.param({"fields": []}, [("label_schema.fields", "too_few")], id="no-field"),
    pytest.param(
        {"fields": [{"name": f"f{i}", "type": "text"} for i in range(51)]},
        [("label_schema.fields", "too_many")],
        id="51-fields",
    ),
    pytest.param(
        {"fields": [{"name": "a", "type": "text"}], "version": 2},
        [("label_schema.version", "unknown_field")],
        id="unknown-key",
    ),
    pytest.param({"fields": ["text"]}, [("label_schema.fields[0]", "not_an_object")], id="field-not-an-object"),
    pytest.param({"fields": {1, 2}}, [("label_schema", "invalid")], id="not-json"),
]


@pytest.mark.parametrize(("document", "expected"), DOCUMENT_REFUSALS)
def test_document_refusals(document, expected):
    assert refusals(document) == expected


# --- refusals: one field ---

FIELD_REFUSALS = [
    # common keys
    ({"name": "a"}, [("fields[0].type", "required")]),
    ({"name": "a", "type": "date"}, [("fields[0].type", "unknown_type")]),
    ({"type": "text"}, [("fields[0].name", "required")]),
    ({"name": "Answer", "type": "text"}, [("fields[0].name", "invalid_name")]),
    ({"name": "1st", "type": "text"}, [("fields[0].name", "invalid_name")]),
    ({"name": "a-b", "type": "text"}, [("fields[0].name", "invalid_name")]),
    ({"name": "a\n", "type": "text"}, [("fields[0].name", "invalid_name")]),
    ({"name": "a" * 65, "type": "text"}, [("fields[0].name", "too_long")]),
    ({"name": 3, "type": "text"}, [("fields[0].name", "invalid_type")]),
    ({"name": "a", "type": "text", "label": " "}, [("fields[0].label", "blank")]),
    ({"name": "a", "type": "text", "label": "x" * 201}, [("fields[0].label", "too_long")]),
    ({"name": "a", "type": "text", "label": 5}, [("fields[0].label", "invalid_type")]),
    ({"name": "a", "type": "text", "required": "yes"}, [("fields[0].required", "invalid_type")]),
    ({"name": "a", "type": "text", "options": ["x", "y"]}, [("fields[0].options", "unknown_field")]),
    ({"name": "a", "type": "text", "hint": "x"}, [("fields[0].hint", "unknown_field")]),
    # choices
    ({"name": "a", "type": "choices"}, [("fields[0].options", "required")]),
    ({"name": "a", "type": "choices", "options": "x,y"}, [("fields[0].options", "invalid_type")]),
    ({"name": "a", "type": "choices", "options": ["x"]}, [("fields[0].options", "too_few")]),
    ({"name": "a", "type": "choices", "options": [str(i) for i in range(201)]}, [("fields[0].options", "too_many")]),
    ({"name": "a", "type": "choices", "options": ["x", "x"]}, [("fields[0].options[1]", "duplicate")]),
    ({"name": "a", "type": "choices", "options": ["x", ""]}, [("fields[0].options[1]", "blank")]),
    ({"name": "a", "type": "choices", "options": ["x", 2]}, [("fields[0].options[1]", "invalid_type")]),
    ({"name": "a", "type": "choices", "options": ["x", "y" * 201]}, [("fields[0].options[1]", "too_long")]),
    ({"name": "a", "type": "choices", "options": ["x", "y"], "multiple": 1}, [("fields[0].multiple", "invalid_type")]),
    (
        {"name": "a", "type": "choices", "options": ["x", "y"], "min_selected": 1},
        [("fields[0].min_selected", "not_allowed")],
    ),
    (
        {"name": "a", "type": "choices", "options": ["x", "y"], "multiple": True, "min_selected": 0},
        [("fields[0].min_selected", "out_of_range")],
    ),
    (
        {"name": "a", "type": "choices", "options": ["x", "y"], "multiple": True, "max_selected": 3},
        [("fields[0].max_selected", "out_of_range")],
    ),
    (
        {"name": "a", "type": "choices", "options": ["x", "y"], "multiple": True, "min_selected": 2, "max_selected": 1},
        [("fields[0].max_selected", "invalid_range")],
    ),
    (
        {"name": "a", "type": "choices", "options": ["x", "y"], "source": "$text"},
        [("fields[0].source", "invalid_name")],
    ),
    # rating
    ({"name": "a", "type": "rating", "max": 5}, [("fields[0].min", "required")]),
    ({"name": "a", "type": "rating", "min": 1}, [("fields[0].max", "required")]),
    ({"name": "a", "type": "rating", "min": 1, "max": True}, [("fields[0].max", "invalid_type")]),
    ({"name": "a", "type": "rating", "min": 1.0, "max": 5}, [("fields[0].min", "invalid_type")]),
    ({"name": "a", "type": "rating", "min": 5, "max": 5}, [("fields[0].max", "invalid_range")]),
    ({"name": "a", "type": "rating", "min": 0, "max": 101}, [("fields[0].max", "out_of_range")]),
    ({"name": "a", "type": "rating", "min": -1_000_001, "max": 0}, [("fields[0].min", "out_of_range")]),
    ({"name": "a", "type": "rating", "min": 1, "max": 5, "labels": ["poor"]}, [("fields[0].labels", "invalid_type")]),
    (
        {"name": "a", "type": "rating", "min": 1, "max": 5, "labels": {"01": "x"}},
        [('fields[0].labels["01"]', "invalid_name")],
    ),
    (
        {"name": "a", "type": "rating", "min": 1, "max": 5, "labels": {"one": "x"}},
        [("fields[0].labels.one", "invalid_name")],
    ),
    (
        {"name": "a", "type": "rating", "min": 1, "max": 5, "labels": {"6": "x"}},
        [('fields[0].labels["6"]', "out_of_range")],
    ),
    ({"name": "a", "type": "rating", "min": 1, "max": 5, "labels": {"2": ""}}, [('fields[0].labels["2"]', "blank")]),
    # text
    ({"name": "a", "type": "text", "min_length": -1}, [("fields[0].min_length", "out_of_range")]),
    ({"name": "a", "type": "text", "max_length": 0}, [("fields[0].max_length", "out_of_range")]),
    ({"name": "a", "type": "text", "max_length": 100_001}, [("fields[0].max_length", "out_of_range")]),
    ({"name": "a", "type": "text", "max_length": "10"}, [("fields[0].max_length", "invalid_type")]),
    ({"name": "a", "type": "text", "min_length": 20, "max_length": 10}, [("fields[0].max_length", "invalid_range")]),
    # spans and boxes
    ({"name": "a", "type": "spans", "labels": ["X"]}, [("fields[0].source", "required")]),
    ({"name": "a", "type": "spans", "source": "text"}, [("fields[0].labels", "required")]),
    ({"name": "a", "type": "spans", "source": "text", "labels": []}, [("fields[0].labels", "too_few")]),
    (
        {"name": "a", "type": "spans", "source": "text", "labels": [f"l{i}" for i in range(201)]},
        [("fields[0].labels", "too_many")],
    ),
    ({"name": "a", "type": "spans", "source": "my text", "labels": ["X"]}, [("fields[0].source", "invalid_name")]),
    ({"name": "a", "type": "spans", "source": "", "labels": ["X"]}, [("fields[0].source", "blank")]),
    (
        {"name": "a", "type": "spans", "source": "text", "labels": ["X"], "allow_overlap": "no"},
        [("fields[0].allow_overlap", "invalid_type")],
    ),
    ({"name": "a", "type": "boxes", "source": "image", "labels": ["X", "X"]}, [("fields[0].labels[1]", "duplicate")]),
    (
        {"name": "a", "type": "boxes", "source": "image", "labels": ["X"], "allow_overlap": True},
        [("fields[0].allow_overlap", "unknown_field")],
    ),
    # pairwise and ranking
    ({"name": "a", "type": "pairwise"}, [("fields[0].source", "required")]),
    (
        {"name": "a", "type": "pairwise", "source": "r", "rationale": "maybe"},
        [("fields[0].rationale", "invalid_choice")],
    ),
    ({"name": "a", "type": "pairwise", "source": "r", "allow_tie": None}, [("fields[0].allow_tie", "invalid_type")]),
    ({"name": "a", "type": "pairwise", "source": "r", "strength": 3}, [("fields[0].strength", "invalid_type")]),
    ({"name": "a", "type": "ranking", "source": 5}, [("fields[0].source", "invalid_type")]),
    ({"name": "a", "type": "ranking", "source": "r", "allow_tie": True}, [("fields[0].allow_tie", "unknown_field")]),
    # rubric
    ({"name": "a", "type": "rubric"}, [("fields[0].criteria", "required")]),
    ({"name": "a", "type": "rubric", "criteria": {}}, [("fields[0].criteria", "invalid_type")]),
    ({"name": "a", "type": "rubric", "criteria": []}, [("fields[0].criteria", "too_few")]),
    (
        {"name": "a", "type": "rubric", "criteria": [{"name": f"c{i}", "min": 1, "max": 2} for i in range(31)]},
        [("fields[0].criteria", "too_many")],
    ),
    ({"name": "a", "type": "rubric", "criteria": ["x"]}, [("fields[0].criteria[0]", "not_an_object")]),
    (
        {
            "name": "a",
            "type": "rubric",
            "criteria": [{"name": "x", "min": 1, "max": 2}, {"name": "x", "min": 1, "max": 2}],
        },
        [("fields[0].criteria[1].name", "duplicate")],
    ),
    (
        {"name": "a", "type": "rubric", "criteria": [{"name": " x", "min": 1, "max": 2}]},
        [("fields[0].criteria[0].name", "invalid_name")],
    ),
    (
        {"name": "a", "type": "rubric", "criteria": [{"name": "x" * 65, "min": 1, "max": 2}]},
        [("fields[0].criteria[0].name", "too_long")],
    ),
    (
        {"name": "a", "type": "rubric", "criteria": [{"name": "x", "min": 3, "max": 2}]},
        [("fields[0].criteria[0].max", "invalid_range")],
    ),
    (
        {"name": "a", "type": "rubric", "criteria": [{"name": "x", "min": 1, "max": 2, "weight": 2}]},
        [("fields[0].criteria[0].weight", "unknown_field")],
    ),
    (
        {"name": "a", "type": "rubric", "criteria": [{"min": 1, "max": 2, "label": ""}]},
        [("fields[0].criteria[0].name", "required"), ("fields[0].criteria[0].label", "blank")],
    ),
]


@pytest.mark.parametrize(("field", "expected"), FIELD_REFUSALS)
def test_field_refusals(field, expected):
    assert refusals(one(field)) == [(f"label_schema.{path}", code) for path, code in expected]


# --- refusals: conditions and relations between fields ---

CHOICE = {"name": "kind", "type": "choices", "options": ["bug", "idea"]}
RATING = {"name": "score", "type": "rating", "min": 1, "max": 5}

CONDITION_REFUSALS = [
    ([CHOICE, {"name": "a", "type": "text", "when": "kind"}], [("fields[1].when", "not_an_object")]),
    ([CHOICE, {"name": "a", "type": "text", "when": {"field": "kind"}}], [("fields[1].when.equals", "required")]),
    ([CHOICE, {"name": "a", "type": "text", "when": {"equals": "bug"}}], [("fields[1].when.field", "required")]),
    (
        [CHOICE, {"name": "a", "type": "text", "when": {"field": "kind", "equals": "bug", "not": True}}],
        [("fields[1].when.not", "unknown_field")],
    ),
    (
        [{"name": "a", "type": "text", "when": {"field": "kind", "equals": "bug"}}, CHOICE],
        [("fields[0].when.field", "invalid_reference")],
    ),
    (
        [{"name": "a", "type": "text", "when": {"field": "a", "equals": "x"}}],
        [("fields[0].when.field", "invalid_reference")],
    ),
    (
        [CHOICE, {"name": "a", "type": "text", "when": {"field": "nope", "equals": "x"}}],
        [("fields[1].when.field", "invalid_reference")],
    ),
    (
        [
            {"name": "e", "type": "spans", "source": "t", "labels": ["X"]},
            {"name": "a", "type": "text", "when": {"field": "e", "equals": "X"}},
        ],
        [("fields[1].when.field", "unsupported_condition")],
    ),
    (
        [CHOICE, {"name": "a", "type": "text", "when": {"field": "kind", "equals": "other"}}],
        [("fields[1].when.equals", "invalid_choice")],
    ),
    (
        [CHOICE, {"name": "a", "type": "text", "when": {"field": "kind", "equals": ["bug"]}}],
        [("fields[1].when.equals", "invalid_choice")],
    ),
    (
        [RATING, {"name": "a", "type": "text", "when": {"field": "score", "equals": True}}],
        [("fields[1].when.equals", "invalid_type")],
    ),
    (
        [RATING, {"name": "a", "type": "text", "when": {"field": "score", "equals": 6}}],
        [("fields[1].when.equals", "out_of_range")],
    ),
    (
        [{"name": "w", "type": "text"}, {"name": "a", "type": "text", "when": {"field": "w", "equals": 1}}],
        [("fields[1].when.equals", "invalid_type")],
    ),
    ([CHOICE, {"name": "kind", "type": "text"}], [("fields[1].name", "duplicate")]),
    (
        [
            {"name": "e", "type": "spans", "source": "doc", "labels": ["X"]},
            {"name": "b", "type": "boxes", "source": "doc", "labels": ["X"]},
        ],
        [("fields[1].source", "source_conflict")],
    ),
    (
        [
            {"name": "e", "type": "ranking", "source": "doc"},
            {"name": "s", "type": "spans", "source": "doc", "labels": ["X"]},
        ],
        [("fields[1].source", "source_conflict")],
    ),
]


@pytest.mark.parametrize(("fields", "expected"), CONDITION_REFUSALS)
def test_condition_and_relation_refusals(fields, expected):
    assert refusals({"fields": fields}) == [(f"label_schema.{path}", code) for path, code in expected]


def test_a_condition_on_a_field_with_errors_reports_only_that_field():
    document = {
        "fields": [
            {"name": "kind", "type": "choices", "options": ["bug"]},
            {"name": "a", "type": "text", "when": {"field": "kind", "equals": "other"}},
        ]
    }

    assert refusals(document) == [("label_schema.fields[0].options", "too_few")]


def test_every_problem_is_reported_at_once_with_a_message():
    document = {
        "fields": [
            {"name": "X", "type": "choices", "options": ["a", "a", 3]},
            {"name": "y", "type": "foo"},
            {"name": "z", "type": "rating", "min": 5, "max": 1, "when": {"field": "q", "equals": 1}},
        ],
        "extra": 1,
    }

    with pytest.raises(InvalidInput) as raised:
        parse_schema(document)

    assert raised.value.message == "The label schema is invalid."
    assert [e.as_dict() for e in raised.value.errors] == [
        {"field": "label_schema.extra", "message": "Unknown key for a label schema.", "code": "unknown_field"},
        {
            "field": "label_schema.fields[0].name",
            "message": "Must start with a lowercase letter, then lowercase letters, digits or _ "
            "(at most 64 characters).",
            "code": "invalid_name",
        },
        {"field": "label_schema.fields[0].options[1]", "message": "'a' appears more than once.", "code": "duplicate"},
        {"field": "label_schema.fields[0].options[2]", "message": "Must be a string, not 3.", "code": "invalid_type"},
        {
            "field": "label_schema.fields[1].type",
            "message": "Unknown field type 'foo'; "
            "one of choices, rating, text, spans, boxes, pairwise, ranking, rubric, steps, chat.",
            "code": "unknown_type",
        },
        {
            "field": "label_schema.fields[2].when.field",
            "message": "No field 'q' is defined before this one.",
            "code": "invalid_reference",
        },
        {"field": "label_schema.fields[2].max", "message": "Must be greater than min (5).", "code": "invalid_range"},
    ]


def test_the_path_prefix_is_the_callers():
    assert refusals(one({"name": "a"}), path="schema") == [("schema.fields[0].type", "required")]


def test_a_document_over_the_size_limit_is_refused_before_anything_else():
    document = one({"name": "a", "type": "choices", "options": ["x" * 100, "y" * 100], "bad": 1})

    assert refusals(document, max_bytes=200) == [("label_schema", "too_large")]
    assert parse_schema(one({"name": "a", "type": "text"}), max_bytes=200).names == ("a",)


def test_the_size_limit_is_an_operator_setting(settings):
    settings.PROJECTS_LABEL_SCHEMA_MAX_BYTES = 50
    document = one({"name": "a", "type": "choices", "options": ["first option", "second option"]})

    assert refusals(document) == [("label_schema", "too_large")]
