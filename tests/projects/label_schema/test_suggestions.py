"""projects.label_schema.suggestions: a suggestion's value obeys its field's rules, and every problem is named."""

from projects.label_schema.definition import parse_schema
from projects.label_schema.suggestions import suggestion_errors, suggestions_normalised

SCHEMA = parse_schema({"fields": [{"name": "stars", "type": "rating", "min": 1, "max": 5}]})


def _errors(suggestions, schema=SCHEMA):
    return [(e.field, e.code, e.message) for e in suggestion_errors(schema, suggestions, {"text": "x"})]


def test_valid_suggestions_have_no_problem_and_are_stored_with_every_key():
    suggestions = {"stars": {"value": 5, "agent": "m", "score": 1}}

    assert _errors(suggestions) == []
    assert suggestions_normalised({"stars": {"value": 5}}) == {"stars": {"value": 5, "agent": "", "score": None}}


def test_nan_and_infinity_are_named_where_they_are():
    assert _errors({"stars": {"value": 3, "score": float("nan")}}) == [
        ("suggestions.stars.score", "not_finite", "NaN and Infinity are not numbers; send a finite number.")
    ]


def test_a_project_without_a_schema_takes_any_field_and_value_but_still_checks_the_shape():
    assert _errors({"anything": {"value": {"free": ["form", 1]}}}, schema=None) == []
    assert _errors({"anything": {"value": 1, "agent": 7}}, schema=None) == [
        ("suggestions.anything.agent", "invalid_type", "Must be a string, not 7.")
    ]


def test_an_agent_longer_than_200_characters_is_refused():
    assert _errors({"stars": {"value": 2, "agent": "a" * 201}}) == [
        ("suggestions.stars.agent", "too_long", "At most 200 characters.")
    ]
