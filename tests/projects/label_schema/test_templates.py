"""The schema page's templates: each is a valid schema, with the fields and task data keys its summary promises."""

import pytest

from projects.label_schema import parse_schema, validate_result, validate_task_data
from projects.label_schema.templates import SCHEMA_TEMPLATES, schema_template_find

CANDIDATES = [{"id": "a", "content": "Paris."}, {"id": "b", "content": "Lyon."}, {"id": "c", "content": "Nice."}]
CHAT = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}

# key: (field names and types, a task the template reads, an answer it accepts)
EXPECTED = {
    "classification": ([("sentiment", "choices")], {"text": "Great service."}, {"sentiment": "positive"}),
    "multi_label": ([("topics", "choices")], {"text": "App crashes."}, {"topics": ["bug", "account"]}),
    "ner_spans": (
        [("entities", "spans")],
        {"text": "Alice works at Acme."},
        {"entities": [{"start": 0, "end": 5, "label": "PER"}]},
    ),
    "boxes": (
        [("objects", "boxes")],
        {"image": {"url": "https://media.example.org/1.jpg", "width": 640, "height": 480}},
        {"objects": [{"x": 1, "y": 2, "width": 30, "height": 40, "label": "car"}]},
    ),
    "pairwise_preference": (
        [("preference", "pairwise")],
        {"prompt": "Capital of France?", "responses": CANDIDATES[:2]},
        {"preference": {"preferred": "a", "strength": 3, "rationale": "Correct."}},
    ),
    "ranking": ([("order", "ranking")], {"responses": CANDIDATES}, {"order": {"a": 1, "b": 2, "c": 3}}),
    "rubric": (
        [("grades", "rubric"), ("comment", "text")],
        {"response": "Paris is the capital."},
        {"grades": {"accuracy": 5, "helpfulness": 4, "safety": 5}},
    ),
    "sft_answer": (
        [("answer", "text")],
        {"prompt": "Explain DNS."},
        {"answer": "DNS turns names into addresses, caching answers on the way."},
    ),
    "chat_evaluation": (
        [("overall", "rating"), ("problems", "choices"), ("feedback", "text")],
        {"conversation": CHAT},
        {"overall": 4, "problems": []},
    ),
    # A live chat reads no task data; its answer names the conversation the annotator held.
    "step_review": (
        [("step_review", "steps")],
        {"question": "2 + 2 * 3?", "steps": ["2 * 3 = 6", "2 + 6 = 8"]},
        {
            "step_review": {
                "steps": [{"index": 0, "verdict": "correct"}, {"index": 1, "verdict": "correct"}],
                "first_error": None,
                "overall": "correct",
            }
        },
    ),
    "chat_blind_comparison": (
        [("conversation", "chat"), ("feedback", "text")],
        {},
        {
            "conversation": {
                "conversation": "6f1c7a52-8d7e-4c0b-9a51-0d3f3c1d2e4f",
                "turns": [
                    {
                        "prompt": "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed",
                        "replies": ["2c5ea4c0-4067-11e9-8bad-9b1deb4d3b7d", "3e4666bf-d5e5-4aa7-b8ce-cefe41c7568a"],
                        "chosen": "3e4666bf-d5e5-4aa7-b8ce-cefe41c7568a",
                        "ratings": {"A": {"helpfulness": 2}, "B": {"helpfulness": 5, "issues": []}},
                    }
                ],
            }
        },
    ),
}


def test_the_templates_are_the_nine_offered_in_order():
    assert [template.key for template in SCHEMA_TEMPLATES] == list(EXPECTED)
    assert len({template.title for template in SCHEMA_TEMPLATES}) == len(EXPECTED)


@pytest.mark.parametrize("template", SCHEMA_TEMPLATES, ids=[t.key for t in SCHEMA_TEMPLATES])
def test_each_template_is_a_valid_schema_with_its_fields(template):
    fields, task, answer = EXPECTED[template.key]

    schema = parse_schema(template.document)

    assert [(field.name, field.type) for field in schema.fields] == fields
    assert validate_task_data(schema, task) == []
    validate_result(schema, answer, task)  # raises when the template cannot take this answer


@pytest.mark.parametrize("template", SCHEMA_TEMPLATES, ids=[t.key for t in SCHEMA_TEMPLATES])
def test_each_summary_names_the_keys_its_fields_read(template):
    sources = {field["source"] for field in template.document["fields"] if "source" in field}

    assert sources or "Reads no task data." in template.summary, template.key
    for key in sources:
        assert f"data.{key}" in template.summary


def test_a_template_is_found_by_its_key_only():
    assert schema_template_find(key="rubric").title == "Rubric grading"
    assert schema_template_find(key="Rubric") is None
    assert schema_template_find(key="") is None
