"""Annotation results and gold answers: valid values of every type pass; every rule refuses with its path and code."""

import math

import pytest

from core.errors import InvalidInput
from projects.label_schema import (
    gold_answer_errors,
    parse_schema,
    result_errors,
    validate_gold_answer,
    validate_result,
)
from projects.label_schema.limits import MAX_REGIONS
from tests.schemas import ALL_TYPES_DATA, ALL_TYPES_RESULT, ALL_TYPES_SCHEMA, ALL_TYPES_TEXT

TEXT = ALL_TYPES_TEXT  # 36 characters
SCHEMA = parse_schema(ALL_TYPES_SCHEMA)
DATA = ALL_TYPES_DATA
VALID = ALL_TYPES_RESULT


def errors_of(result, schema=SCHEMA, data=DATA, **kwargs) -> list[tuple[str, str]]:
    return [(e.field, e.code) for e in result_errors(schema, result, data, **kwargs)]


def with_value(field: str, value) -> dict:
    return {**VALID, field: value}


def schema_of(*fields: dict):
    return parse_schema({"fields": list(fields)})


def test_a_complete_valid_result_passes():
    assert result_errors(SCHEMA, VALID, DATA) == []
    validate_result(SCHEMA, VALID, DATA)


VALID_VALUES = [
    ("sentiment", "mixed"),
    ("topics", ["d"]),
    ("topics", []),  # optional, so an empty selection means no answer
    ("score", 1),
    ("score", 5),
    ("answer", "ab"),
    ("answer", "x" * 20),
    ("entities", []),
    ("entities", [{"start": 30, "end": 36, "label": "LOC"}]),
    ("entities", [{"start": 0, "end": 5, "label": "PER"}, {"start": 5, "end": 9, "label": "PER"}]),  # touching
    ("objects", []),
    ("objects", [{"x": 0, "y": 0, "width": 640, "height": 480, "label": "person"}]),
    ("objects", [{"x": 0.5, "y": 0, "width": 639.5000000001, "height": 480, "label": "car"}]),  # rounding slack
    (
        "objects",
        [{"x": 1, "y": 1, "width": 5, "height": 5, "label": "car"}] * 1
        + [{"x": 1, "y": 1, "width": 5, "height": 5, "label": "person"}],
    ),
    ("preference", {"preferred": "b"}),
    ("preference", {"preferred": "tie", "rationale": ""}),
    ("order", {"r3": 1, "r1": 2, "r2": 3}),
    ("quality", {"Tone & style": 3, "accuracy": 1}),
]


@pytest.mark.parametrize(("field", "value"), VALID_VALUES)
def test_valid_values_of_every_type(field, value):
    assert errors_of(with_value(field, value)) == []


def test_optional_fields_may_be_left_out():
    result = {k: v for k, v in VALID.items() if k != "topics"}

    assert errors_of(result) == []


# --- refusals, value by value ---

VALUE_REFUSALS = [
    # choices
    ("sentiment", "happy", [("sentiment", "invalid_choice")]),
    ("sentiment", ["pos"], [("sentiment", "invalid_type")]),
    ("sentiment", None, [("sentiment", "invalid_type")]),
    ("topics", "a", [("topics", "invalid_type")]),
    ("topics", ["a", "e"], [("topics[1]", "invalid_choice")]),
    ("topics", ["a", "a"], [("topics[1]", "duplicate")]),
    ("topics", ["a", 1], [("topics[1]", "invalid_type")]),
    # rating
    ("score", 0, [("score", "out_of_range")]),
    ("score", 6, [("score", "out_of_range")]),
    ("score", 4.0, [("score", "invalid_type")]),
    ("score", True, [("score", "invalid_type")]),
    ("score", "4", [("score", "invalid_type")]),
    # text
    ("answer", "a", [("answer", "too_short")]),
    ("answer", "x" * 21, [("answer", "too_long")]),
    ("answer", "   ", [("answer", "blank")]),
    ("answer", 12, [("answer", "invalid_type")]),
    # spans
    ("entities", {"start": 0}, [("entities", "invalid_type")]),
    ("entities", ["0-5"], [("entities[0]", "invalid_type")]),
    ("entities", [{"start": 0, "end": 5}], [("entities[0].label", "required")]),
    ("entities", [{"start": 0, "end": 5, "label": "PER", "text": "Alice"}], [("entities[0].text", "unknown_field")]),
    ("entities", [{"start": 0, "end": 5, "label": "DATE"}], [("entities[0].label", "unknown_label")]),
    ("entities", [{"start": -1, "end": 5, "label": "PER"}], [("entities[0].start", "out_of_range")]),
    ("entities", [{"start": 30, "end": 37, "label": "PER"}], [("entities[0].end", "out_of_range")]),
    (
        "entities",
        [{"start": 40, "end": 41, "label": "PER"}],
        [("entities[0].start", "out_of_range"), ("entities[0].end", "out_of_range")],
    ),
    ("entities", [{"start": 5, "end": 5, "label": "PER"}], [("entities[0].end", "invalid_range")]),
    ("entities", [{"start": 6, "end": 5, "label": "PER"}], [("entities[0].end", "invalid_range")]),
    ("entities", [{"start": 0.0, "end": 5, "label": "PER"}], [("entities[0].start", "invalid_type")]),
    ("entities", [{"start": False, "end": 5, "label": "PER"}], [("entities[0].start", "invalid_type")]),
    (
        "entities",
        [{"start": 0, "end": 5, "label": "PER"}, {"start": 3, "end": 9, "label": "ORG"}],
        [("entities[1]", "overlap")],
    ),
    (
        "entities",
        [
            {"start": 10, "end": 20, "label": "PER"},
            {"start": 0, "end": 30, "label": "ORG"},
            {"start": 25, "end": 27, "label": "LOC"},
        ],
        [("entities[0]", "overlap"), ("entities[2]", "overlap")],
    ),
    (
        "entities",
        [{"start": 0, "end": 5, "label": "PER"}, {"start": 0, "end": 5, "label": "ORG"}],
        [("entities[1]", "overlap")],
    ),
    (
        "entities",
        [{"start": 0, "end": 5, "label": "PER"}, {"start": 0, "end": 5, "label": "PER"}],
        [("entities[1]", "duplicate")],
    ),
    # boxes
    ("objects", [{"x": -1, "y": 0, "width": 10, "height": 10, "label": "car"}], [("objects[0].x", "outside_image")]),
    ("objects", [{"x": 0, "y": -0.5, "width": 10, "height": 10, "label": "car"}], [("objects[0].y", "outside_image")]),
    (
        "objects",
        [{"x": 600, "y": 0, "width": 41, "height": 10, "label": "car"}],
        [("objects[0].width", "outside_image")],
    ),
    (
        "objects",
        [{"x": 0, "y": 400, "width": 10, "height": 81, "label": "car"}],
        [("objects[0].height", "outside_image")],
    ),
    ("objects", [{"x": 0, "y": 0, "width": 0, "height": 10, "label": "car"}], [("objects[0].width", "out_of_range")]),
    ("objects", [{"x": 0, "y": 0, "width": 10, "height": -2, "label": "car"}], [("objects[0].height", "out_of_range")]),
    ("objects", [{"x": "0", "y": 0, "width": 10, "height": 10, "label": "car"}], [("objects[0].x", "invalid_type")]),
    ("objects", [{"x": True, "y": 0, "width": 10, "height": 10, "label": "car"}], [("objects[0].x", "invalid_type")]),
    ("objects", [{"x": 0, "y": 0, "width": 10, "height": 10, "label": "bus"}], [("objects[0].label", "unknown_label")]),
    ("objects", [{"x": 0, "y": 0, "width": 10, "label": "car"}], [("objects[0].height", "required")]),
    (
        "objects",
        [{"x": 0, "y": 0, "width": 10, "height": 10, "label": "car", "rotation": 0}],
        [("objects[0].rotation", "unknown_field")],
    ),
    (
        "objects",
        [
            {"x": 1, "y": 2, "width": 3, "height": 4, "label": "car"},
            {"x": 1, "y": 2, "width": 3, "height": 4, "label": "car"},
        ],
        [("objects[1]", "duplicate")],
    ),
    ("objects", "none", [("objects", "invalid_type")]),
    # pairwise
    ("preference", "a", [("preference", "invalid_type")]),
    ("preference", {}, [("preference.preferred", "required")]),
    ("preference", {"preferred": "c"}, [("preference.preferred", "unknown_candidate")]),
    ("preference", {"preferred": 1}, [("preference.preferred", "invalid_type")]),
    ("preference", {"preferred": "a", "strength": 4}, [("preference.strength", "out_of_range")]),
    ("preference", {"preferred": "a", "strength": True}, [("preference.strength", "invalid_type")]),
    ("preference", {"preferred": "tie", "strength": 1}, [("preference.strength", "not_allowed")]),
    ("preference", {"preferred": "a", "rationale": 5}, [("preference.rationale", "invalid_type")]),
    ("preference", {"preferred": "a", "rationale": "x" * 10_001}, [("preference.rationale", "too_long")]),
    ("preference", {"preferred": "a", "winner": "a"}, [("preference.winner", "unknown_field")]),
    # ranking
    ("order", [1, 2, 3], [("order", "invalid_type")]),
    ("order", {"r1": 1, "r2": 2}, [("order.r3", "missing_candidate")]),
    ("order", {"r1": 1, "r2": 2, "r3": 3, "r4": 4}, [("order.r4", "unknown_candidate")]),
    ("order", {"r1": 1, "r2": 1, "r3": 2}, [("order.r2", "tie_not_allowed")]),
    ("order", {"r1": 0, "r2": 1, "r3": 2}, [("order.r1", "out_of_range")]),
    ("order", {"r1": 1, "r2": 2, "r3": 4}, [("order.r3", "out_of_range")]),
    ("order", {"r1": 1, "r2": 2, "r3": 3.0}, [("order.r3", "invalid_type")]),
    ("order", {"r1": True, "r2": 2, "r3": 3}, [("order.r1", "invalid_type")]),
    # rubric
    ("quality", {"accuracy": 3}, [('quality["Tone & style"]', "required")]),
    ("quality", {"accuracy": 3, "Tone & style": 4}, [('quality["Tone & style"]', "out_of_range")]),
    ("quality", {"accuracy": 3, "Tone & style": 1, "clarity": 2}, [("quality.clarity", "unknown_criterion")]),
    ("quality", {"accuracy": False, "Tone & style": 1}, [("quality.accuracy", "invalid_type")]),
    ("quality", [3, 1], [("quality", "invalid_type")]),
]


@pytest.mark.parametrize(("field", "value", "expected"), VALUE_REFUSALS)
def test_value_refusals(field, value, expected):
    assert errors_of(with_value(field, value)) == [(f"result.{path}", code) for path, code in expected]


def test_the_span_message_says_where_the_text_ends():
    [error] = result_errors(SCHEMA, with_value("entities", [{"start": 30, "end": 120, "label": "PER"}]), DATA)

    assert error.as_dict() == {
        "field": "result.entities[0].end",
        "message": "Span end 120 is beyond the text (length 36).",
        "code": "out_of_range",
    }


def test_overlap_and_box_messages_name_both_places():
    result = {
        **VALID,
        "entities": [{"start": 0, "end": 5, "label": "PER"}, {"start": 3, "end": 9, "label": "ORG"}],
        "objects": [{"x": 600, "y": 0, "width": 41, "height": 10, "label": "car"}],
    }

    assert [e.message for e in result_errors(SCHEMA, result, DATA)] == [
        "Span [3, 9) overlaps result.entities[0] [0, 5).",
        "The box ends at x = 641, beyond the image width 640.",
    ]


def test_span_offsets_count_characters_not_bytes():
    schema = schema_of({"name": "e", "type": "spans", "source": "t", "labels": ["X"]})

    assert errors_of({"e": [{"start": 0, "end": 3, "label": "X"}]}, schema, {"t": "été"}) == []
    assert errors_of({"e": [{"start": 0, "end": 4, "label": "X"}]}, schema, {"t": "été"}) == [
        ("result.e[0].end", "out_of_range")
    ]


def test_spans_may_overlap_when_the_field_allows_it_but_never_repeat():
    schema = schema_of({"name": "e", "type": "spans", "source": "t", "labels": ["X", "Y"], "allow_overlap": True})
    overlapping = [
        {"start": 0, "end": 5, "label": "X"},
        {"start": 2, "end": 4, "label": "Y"},
        {"start": 0, "end": 5, "label": "Y"},
    ]

    assert errors_of({"e": overlapping}, schema, {"t": TEXT}) == []
    assert errors_of({"e": [*overlapping, {"start": 2, "end": 4, "label": "Y"}]}, schema, {"t": TEXT}) == [
        ("result.e[3]", "duplicate")
    ]


def test_a_region_list_is_bounded():
    spans = [{"start": 0, "end": 1, "label": "PER"}] * (MAX_REGIONS + 1)

    assert errors_of(with_value("entities", spans)) == [("result.entities", "too_many")]


# --- choices, pairwise and ranking options that change the rules ---


def test_multiple_choice_bounds_and_required_selection():
    schema = schema_of(
        {
            "name": "t",
            "type": "choices",
            "options": ["a", "b", "c", "d"],
            "multiple": True,
            "min_selected": 2,
            "max_selected": 3,
        }
    )

    assert errors_of({"t": ["a", "b"]}, schema) == []
    assert errors_of({"t": []}, schema) == [("result.t", "empty")]
    assert errors_of({"t": ["a"]}, schema) == [("result.t", "too_few")]
    assert errors_of({"t": ["a", "b", "c", "d"]}, schema) == [("result.t", "too_many")]


def test_pairwise_ties_strength_and_rationale_follow_the_field():
    strict = schema_of({"name": "p", "type": "pairwise", "source": "pair", "allow_tie": False, "rationale": "required"})
    silent = schema_of({"name": "p", "type": "pairwise", "source": "pair", "rationale": "none"})

    assert errors_of({"p": {"preferred": "a", "rationale": "clearer"}}, strict) == []
    assert errors_of({"p": {"preferred": "tie", "rationale": "same"}}, strict) == [
        ("result.p.preferred", "tie_not_allowed")
    ]
    assert errors_of({"p": {"preferred": "a"}}, strict) == [("result.p.rationale", "required")]
    assert errors_of({"p": {"preferred": "a", "rationale": " "}}, strict) == [("result.p.rationale", "blank")]
    assert errors_of({"p": {"preferred": "a", "strength": 1, "rationale": "x"}}, strict) == [
        ("result.p.strength", "not_allowed")
    ]
    assert errors_of({"p": {"preferred": "b"}}, silent) == []
    assert errors_of({"p": {"preferred": "b", "rationale": "x"}}, silent) == [("result.p.rationale", "not_allowed")]


def test_ranking_with_ties_needs_dense_ranks():
    schema = schema_of({"name": "o", "type": "ranking", "source": "responses", "allow_ties": True})

    assert errors_of({"o": {"r1": 1, "r2": 1, "r3": 2}}, schema) == []
    assert errors_of({"o": {"r1": 1, "r2": 1, "r3": 1}}, schema) == []
    assert errors_of({"o": {"r1": 1, "r2": 2, "r3": 3}}, schema) == []
    assert errors_of({"o": {"r1": 1, "r2": 1, "r3": 3}}, schema) == [("result.o", "not_dense")]
    assert errors_of({"o": {"r1": 2, "r2": 2, "r3": 3}}, schema) == [("result.o", "not_dense")]
    [error] = result_errors(schema, {"o": {"r1": 1, "r2": 1, "r3": 3}}, DATA)
    assert error.message == "Tied ranks must be dense (1, 1, 2): after rank 1 comes 3, not 2."


def test_candidate_ids_that_are_not_identifiers_are_quoted_in_paths():
    schema = schema_of({"name": "o", "type": "ranking", "source": "c"})
    data = {"c": [{"id": "model A", "content": "x"}, {"id": "model-b", "content": "y"}]}

    assert errors_of({"o": {"model A": 1}}, schema, data) == [('result.o["model-b"]', "missing_candidate")]


# --- the result as a whole ---


def test_a_result_must_be_an_object():
    assert errors_of(["pos"]) == [("result", "not_an_object")]


def test_unknown_and_missing_fields_are_named():
    result = {k: v for k, v in VALID.items() if k not in ("score", "order")}
    result["comment"] = "nice"

    assert errors_of(result) == [
        ("result.comment", "unknown_field"),
        ("result.score", "required"),
        ("result.order", "required"),
    ]


def test_nan_and_infinity_are_refused_anywhere_and_reported_once():
    result = {
        **VALID,
        "score": math.nan,
        "objects": [{"x": math.inf, "y": 0, "width": 10, "height": 10, "label": "car"}],
        "preference": {"preferred": "a", "rationale": -math.inf},
        "extra": {"deep": [1, {"x": math.nan}]},
    }

    assert errors_of(result) == [
        ("result.score", "not_finite"),
        ("result.objects[0].x", "not_finite"),
        ("result.preference.rationale", "not_finite"),
        ("result.extra.deep[1].x", "not_finite"),
        ("result.extra", "unknown_field"),
    ]


def test_every_problem_is_reported_not_only_the_first():
    result = {
        "sentiment": "happy",
        "score": True,
        "answer": "",
        "entities": [{"start": 0, "end": 99, "label": "PER"}],
        "objects": [],
        "preference": {"preferred": "z"},
        "order": {"r1": 1, "r2": 2, "r3": 3},
        "quality": {"accuracy": 9, "Tone & style": 1},
    }

    assert errors_of(result) == [
        ("result.sentiment", "invalid_choice"),
        ("result.score", "invalid_type"),
        ("result.answer", "blank"),
        ("result.entities[0].end", "out_of_range"),
        ("result.preference.preferred", "unknown_candidate"),
        ("result.quality.accuracy", "out_of_range"),
    ]


def test_validate_result_raises_with_every_error():
    with pytest.raises(InvalidInput) as raised:
        validate_result(SCHEMA, with_value("score", 9), DATA)

    assert raised.value.message == "The annotation does not match the project's label schema."
    assert [e.as_dict() for e in raised.value.errors] == [
        {"field": "result.score", "message": "9 is not between 1 and 5.", "code": "out_of_range"}
    ]


def test_bool_as_number_message_names_the_value():
    [error] = result_errors(SCHEMA, with_value("score", True), DATA)

    assert error.message == "Must be an integer, not true."


def test_an_optional_text_may_be_empty_and_a_required_one_may_not():
    schema = schema_of({"name": "note", "type": "text", "required": False}, {"name": "answer", "type": "text"})

    assert errors_of({"note": "", "answer": "x"}, schema) == []
    assert errors_of({"note": "", "answer": ""}, schema) == [("result.answer", "blank")]


# --- task data the values are checked against ---


def test_values_that_need_task_data_say_when_the_task_lacks_it():
    result = {**VALID, "order": {"r1": 1}}

    assert errors_of(result, data={}) == [
        ("result.entities", "invalid_task_data"),
        ("result.objects", "invalid_task_data"),
        ("result.preference", "invalid_task_data"),
        ("result.order", "invalid_task_data"),
    ]


def test_a_task_data_that_is_not_an_object_is_treated_as_empty():
    schema = schema_of({"name": "a", "type": "choices", "options": ["x", "y"]})

    assert errors_of({"a": "x"}, schema, data=None) == []


# --- conditions ---

CONDITIONAL = parse_schema(
    {
        "fields": [
            {"name": "kind", "type": "choices", "options": ["bug", "idea"]},
            {"name": "severity", "type": "rating", "min": 1, "max": 3, "when": {"field": "kind", "equals": "bug"}},
            {"name": "detail", "type": "text", "required": False, "when": {"field": "severity", "equals": 3}},
            {"name": "areas", "type": "choices", "options": ["ui", "api"], "multiple": True, "required": False},
            {"name": "endpoint", "type": "text", "when": {"field": "areas", "equals": "api"}},
        ]
    }
)

CONDITION_CASES = [
    ({"kind": "idea"}, []),
    ({"kind": "bug"}, [("result.severity", "required")]),
    ({"kind": "bug", "severity": 2}, []),
    ({"kind": "idea", "severity": 2}, [("result.severity", "not_allowed")]),
    ({"kind": "bug", "severity": 3}, []),  # detail is optional even when shown
    ({"kind": "bug", "severity": 3, "detail": "crash"}, []),
    ({"kind": "bug", "severity": 2, "detail": "crash"}, [("result.detail", "not_allowed")]),
    # detail depends on a field that is itself hidden
    (
        {"kind": "idea", "severity": 3, "detail": "x"},
        [("result.severity", "not_allowed"), ("result.detail", "not_allowed")],
    ),
    ({"kind": "idea", "areas": ["ui", "api"]}, [("result.endpoint", "required")]),
    ({"kind": "idea", "areas": ["ui", "api"], "endpoint": "/v1"}, []),
    ({"kind": "idea", "areas": ["ui"], "endpoint": "/v1"}, [("result.endpoint", "not_allowed")]),
    ({"kind": "idea", "endpoint": "/v1"}, [("result.endpoint", "not_allowed")]),
    ({"kind": "bug", "severity": True}, [("result.severity", "invalid_type")]),
]


@pytest.mark.parametrize(("result", "expected"), CONDITION_CASES)
def test_conditions_decide_which_fields_are_required_or_refused(result, expected):
    assert errors_of(result, CONDITIONAL, {}) == expected


def test_a_hidden_field_message_says_when_it_is_answered():
    [error] = result_errors(CONDITIONAL, {"kind": "idea", "areas": ["ui"], "endpoint": "/v1"}, {})

    assert error.message == "Leave this field out: it is only answered when 'areas' includes 'api'."


def test_a_rating_condition_never_matches_a_boolean():
    schema = schema_of(
        {"name": "s", "type": "rating", "min": 0, "max": 2},
        {"name": "why", "type": "text", "when": {"field": "s", "equals": 1}},
    )

    assert errors_of({"s": True, "why": "x"}, schema) == [("result.s", "invalid_type"), ("result.why", "not_allowed")]


# --- gold answers ---


def test_a_gold_answer_follows_the_result_rules_under_its_own_path():
    assert gold_answer_errors(SCHEMA, VALID, DATA) == []
    assert [(e.field, e.code) for e in gold_answer_errors(SCHEMA, with_value("score", 0), DATA)] == [
        ("gold_answer.score", "out_of_range")
    ]


def test_a_gold_answer_may_leave_out_fields_that_are_not_required():
    schema = schema_of(
        {"name": "label", "type": "choices", "options": ["x", "y"]},
        {"name": "note", "type": "text", "required": False},
    )

    validate_gold_answer(schema, {"label": "x"}, {})
    assert [(e.field, e.code) for e in gold_answer_errors(schema, {"note": "n"}, {})] == [
        ("gold_answer.label", "required")
    ]


def test_a_gold_answer_must_answer_something():
    schema = schema_of({"name": "note", "type": "text", "required": False})

    with pytest.raises(InvalidInput) as raised:
        validate_gold_answer(schema, {}, {})

    assert raised.value.message == "The gold answer does not match the project's label schema."
    assert [(e.field, e.code) for e in raised.value.errors] == [("gold_answer", "empty")]
