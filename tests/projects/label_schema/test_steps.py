"""Steps fields: the schema's rules, the task data they read (reasoning chains, agent trajectories) and the answers
they take, each refusal with its exact path, code and message."""

import pytest

from core.errors import InvalidInput
from projects.label_schema import parse_schema, result_errors, schema_incompatibilities, validate_task_data
from projects.label_schema.steps import step_text
from projects.models import Task
from projects.services.tasks import task_bulk_create
from tenancy.models import Role
from tests.factories import MembershipFactory, ProjectFactory

TRACE = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [{"name": "weather", "arguments": {"city": "Paris"}}]},
    {"role": "tool", "name": "weather", "content": '{"temp": 21}'},
    {"role": "assistant", "content": "It is 21 degrees in Paris."},
]
DATA = {"question": "Weather in Paris?", "trace": TRACE}


def steps_schema(**options):
    return parse_schema({"fields": [{"name": "review", "type": "steps", "source": "trace", **options}]})


def schema_errors(**options) -> list[tuple[str, str, str]]:
    with pytest.raises(InvalidInput) as caught:
        steps_schema(**options)
    return [(e.field, e.code, e.message) for e in caught.value.errors]


def answer(*verdicts, first_error=None, overall="correct", comments=None):
    comments = comments or {}
    return {
        "review": {
            "steps": [
                {"index": i, "verdict": v, **({"comment": comments[i]} if i in comments else {})}
                for i, v in enumerate(verdicts)
            ],
            "first_error": first_error,
            "overall": overall,
        }
    }


def errors_of(result, schema=None, data=DATA) -> list[tuple[str, str, str]]:
    schema = schema or steps_schema()
    return [(e.field, e.code, e.message) for e in result_errors(schema, result, data)]


# --- schema -----------------------------------------------------------------------------------------------------


def test_defaults_are_spelled_out_in_the_canonical_document():
    schema = steps_schema()

    assert schema.to_document() == {
        "fields": [
            {
                "name": "review",
                "type": "steps",
                "required": True,
                "source": "trace",
                "verdicts": ["correct", "incorrect", "neutral"],
                "comment": "optional",
                "overall": ["correct", "incorrect"],
                "stop_at_first_error": False,
            }
        ]
    }
    assert parse_schema(schema.to_document()) == schema


def test_every_option_is_kept():
    schema = steps_schema(
        prompt="question",
        verdicts=["correct", "incorrect"],
        comment="required_on_incorrect",
        overall=["solved", "unsolved", "partly"],
        stop_at_first_error=True,
    )

    field = schema.get("review")
    assert (field.prompt, field.verdicts, field.comment, field.overall, field.stop_at_first_error) == (
        "question",
        ("correct", "incorrect"),
        "required_on_incorrect",
        ("solved", "unsolved", "partly"),
        True,
    )


def test_the_source_is_required():
    with pytest.raises(InvalidInput) as caught:
        parse_schema({"fields": [{"name": "review", "type": "steps"}]})

    assert [(e.field, e.code) for e in caught.value.errors] == [("label_schema.fields[0].source", "required")]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"verdicts": ["correct", "neutral"]},
            [
                (
                    "label_schema.fields[0].verdicts",
                    "invalid",
                    'Must include "incorrect": the first error is the first step given it.',
                )
            ],
        ),
        (
            {"verdicts": ["incorrect"]},
            [("label_schema.fields[0].verdicts", "too_few", "Give at least 2 verdicts.")],
        ),
        (
            {"verdicts": [str(i) for i in range(9)] + ["incorrect"]},
            [("label_schema.fields[0].verdicts", "too_many", "At most 9 verdicts are allowed.")],
        ),
        (
            {"verdicts": ["correct", "incorrect", "correct"]},
            [("label_schema.fields[0].verdicts[2]", "duplicate", "'correct' appears more than once.")],
        ),
        (
            {"overall": "correct"},
            [("label_schema.fields[0].overall", "invalid_type", "Must be a list of verdicts, not a string.")],
        ),
        (
            {"comment": "always"},
            [
                (
                    "label_schema.fields[0].comment",
                    "invalid_choice",
                    "Must be one of none, optional, required_on_incorrect.",
                )
            ],
        ),
        (
            {"stop_at_first_error": "yes"},
            [("label_schema.fields[0].stop_at_first_error", "invalid_type", "Must be true or false, not a string.")],
        ),
        (
            {"prompt": "trace"},
            [("label_schema.fields[0].prompt", "invalid", "The question and the steps must be under different keys.")],
        ),
        (
            {"prompt": "a key"},
            [
                (
                    "label_schema.fields[0].prompt",
                    "invalid_name",
                    "Must name a task data key: a letter or _, then letters, digits, _ or -.",
                )
            ],
        ),
        (
            {"allow_ties": True},
            [("label_schema.fields[0].allow_ties", "unknown_field", "Unknown key for a steps field.")],
        ),
    ],
)
def test_schema_refusals(options, expected):
    assert schema_errors(**options) == expected


def test_a_field_reading_the_steps_as_text_conflicts():
    with pytest.raises(InvalidInput) as caught:
        parse_schema(
            {
                "fields": [
                    {"name": "review", "type": "steps", "source": "trace"},
                    {"name": "marks", "type": "spans", "source": "trace", "labels": ["x"]},
                ]
            }
        )

    assert [(e.field, e.code, e.message) for e in caught.value.errors] == [
        (
            "label_schema.fields[1].source",
            "source_conflict",
            "Field 'review' reads 'trace' as a list of steps; a spans field needs a text there.",
        )
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"verdicts": ["correct", "incorrect"]}, ["Field 'review': verdicts removed: 'neutral'."]),
        ({"overall": ["correct", "partly"]}, ["Field 'review': overall verdicts removed: 'incorrect'."]),
        ({"comment": "none"}, ["Field 'review': step comments changed from optional to none."]),
        (
            {"comment": "required_on_incorrect"},
            ["Field 'review': step comments changed from optional to required_on_incorrect."],
        ),
        ({"verdicts": ["correct", "incorrect", "neutral", "unsure"], "overall": ["correct", "incorrect", "x"]}, []),
    ],
)
def test_schema_changes_that_orphan_answers(change, expected):
    assert schema_incompatibilities(steps_schema(), steps_schema(**change)) == expected


def test_turning_stop_at_first_error_off_orphans_short_reviews_and_on_does_not():
    stopping = steps_schema(stop_at_first_error=True)

    assert schema_incompatibilities(stopping, steps_schema()) == [
        "Field 'review': every step now needs a verdict, even after the first error."
    ]
    assert schema_incompatibilities(steps_schema(), stopping) == []


# --- task data ----------------------------------------------------------------------------------------------------


def test_reasoning_chains_and_agent_trajectories_pass():
    schema = steps_schema(prompt="question")

    assert validate_task_data(schema, DATA) == []
    assert validate_task_data(schema, {"question": "2+2?", "trace": ["2 + 2 = 4", "So 4."]}) == []
    nested = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    assert (
        validate_task_data(schema, {"question": {"messages": [{"role": "user", "content": "Hi"}]}, "trace": [nested]})
        == []
    )


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            "one long string",
            [
                (
                    "[4].data.trace",
                    "invalid_type",
                    "Must be a non-empty list of steps (strings or messages {role, content}) read by field 'review', "
                    "not a string.",
                )
            ],
        ),
        (
            [],
            [
                (
                    "[4].data.trace",
                    "invalid_type",
                    "Must be a non-empty list of steps (strings or messages {role, content}) read by field 'review', "
                    "not an empty list.",
                )
            ],
        ),
        (
            ["ok", 7],
            [("[4].data.trace[1]", "invalid_type", "Each step must be a string or a message {role, content}, not 7.")],
        ),
        (
            [{"role": "robot", "content": "beep"}],
            [("[4].data.trace[0].role", "invalid_choice", "Must be one of assistant, tool, user, system.")],
        ),
        ([{"content": "hi"}], [("[4].data.trace[0].role", "required", "A message step needs a role.")]),
        ([{"role": "user"}], [("[4].data.trace[0].content", "required", "A message step needs its content.")]),
        (
            [{"role": "user", "content": None}],
            [("[4].data.trace[0].content", "invalid_type", "May be null only on a step that calls tools.")],
        ),
        (
            [{"role": "user", "content": ["a"]}],
            [("[4].data.trace[0].content", "invalid_type", "Must be a string, not a list.")],
        ),
        (
            [{"role": "tool", "content": "x", "tool_calls": [{"name": "f"}]}],
            [("[4].data.trace[0].tool_calls", "not_allowed", "Only an assistant step calls tools.")],
        ),
        (
            [{"role": "assistant", "content": None, "tool_calls": [{"arguments": "{}"}, "f()"]}],
            [
                (
                    "[4].data.trace[0].tool_calls[0].name",
                    "invalid_type",
                    "Must be the tool's name (a string), not null.",
                ),
                (
                    "[4].data.trace[0].tool_calls[1]",
                    "not_an_object",
                    "Each tool call must be an object {name, arguments}, not a string.",
                ),
            ],
        ),
        (
            [{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": 3}}]}],
            [
                (
                    "[4].data.trace[0].tool_calls[0].function.arguments",
                    "invalid_type",
                    "Must be the arguments as a JSON string or object, not 3.",
                )
            ],
        ),
        (
            [{"role": "tool", "content": "1", "name": 5}],
            [("[4].data.trace[0].name", "invalid_type", "Must be a string (the tool's name), not 5.")],
        ),
    ],
)
def test_task_data_refusals_name_the_row_and_the_key(steps, expected):
    errors = validate_task_data(steps_schema(), {"trace": steps}, path="[4].data")

    assert [(e.field, e.code, e.message) for e in errors] == expected


def test_too_many_steps_are_refused():
    errors = validate_task_data(steps_schema(), {"trace": ["step"] * 501})

    assert [(e.field, e.code, e.message) for e in errors] == [
        ("data.trace", "too_many", "At most 500 steps; 501 given.")
    ]


def test_a_named_question_must_be_there_and_be_content():
    schema = steps_schema(prompt="question")

    missing = validate_task_data(schema, {"trace": ["a"]})
    wrong = validate_task_data(schema, {"trace": ["a"], "question": 42})

    assert [(e.field, e.code, e.message) for e in missing] == [
        ("data.question", "required", "Missing: this key holds the question of field 'review'.")
    ]
    assert [(e.field, e.code) for e in wrong] == [("data.question", "invalid_type")]


def test_step_text_flattens_messages_and_tool_calls():
    assert [step_text(step) for step in TRACE] == [
        "[user] What is the weather in Paris?",
        '[assistant] weather({"city": "Paris"})',
        '[tool weather] {"temp": 21}',
        "[assistant] It is 21 degrees in Paris.",
    ]
    assert step_text("2 + 2 = 4") == "2 + 2 = 4"


# --- answers ------------------------------------------------------------------------------------------------------


def test_a_complete_review_passes():
    assert errors_of(answer("correct", "correct", "neutral", "correct")) == []
    assert errors_of(answer("correct", "incorrect", "correct", "incorrect", first_error=1, overall="incorrect")) == []


def test_a_missing_verdict_is_named_by_its_step():
    assert errors_of(answer("correct", "correct", "correct")) == [
        ("result.review.steps[3]", "missing_step", "Step 3 has no verdict: give one for each of the 4 steps.")
    ]


def test_an_unknown_verdict_is_named_at_its_step():
    assert errors_of(answer("correct", "correct", "correct", "wrong")) == [
        (
            "result.review.steps[3].verdict",
            "invalid_choice",
            "'wrong' is not one of the verdicts (correct, incorrect, neutral).",
        )
    ]


def test_first_error_must_be_the_first_incorrect_step():
    wrong = answer("correct", "neutral", "incorrect", "incorrect", first_error=3, overall="incorrect")
    none_marked = answer("correct", "correct", "correct", "correct", first_error=0)
    missing = answer("incorrect", "correct", "correct", "correct", first_error=None, overall="incorrect")

    assert errors_of(wrong) == [
        ("result.review.first_error", "inconsistent", "Must be 2, the first step marked incorrect.")
    ]
    assert errors_of(none_marked) == [
        ("result.review.first_error", "inconsistent", "Must be null: no step is marked incorrect.")
    ]
    assert errors_of(missing) == [
        ("result.review.first_error", "inconsistent", "Must be 0, the first step marked incorrect.")
    ]


def test_steps_are_listed_in_order_once_each():
    result = answer("correct", "correct", "correct", "correct")
    result["review"]["steps"][2]["index"] = 3
    result["review"]["steps"][3]["index"] = "3"

    assert errors_of(result) == [
        ("result.review.steps[2].index", "out_of_order", "Must be 2: verdicts are listed in step order, one per step."),
        ("result.review.steps[3].index", "invalid_type", "Must be an integer step index, not a string."),
    ]


def test_more_verdicts_than_steps_are_refused():
    assert errors_of(answer(*["correct"] * 5)) == [
        ("result.review.steps", "too_many", "The task has 4 steps; 5 verdicts given.")
    ]


def test_the_shape_of_the_answer():
    assert errors_of({"review": ["correct"]}) == [
        ("result.review", "invalid_type", "Must be an object {steps, first_error, overall}, not a list.")
    ]
    assert errors_of({"review": {"steps": [], "first_error": None, "extra": 1}}) == [
        ("result.review.extra", "unknown_field", "Unknown key; expected steps, first_error, overall."),
        ("result.review.overall", "required", "This key is required."),
        ("result.review.steps[0]", "missing_step", "Step 0 has no verdict: give one for each of the 4 steps."),
    ]
    assert errors_of({"review": {"steps": ["correct"], "first_error": "0", "overall": 1}}) == [
        ("result.review.steps[0]", "invalid_type", "Must be an object {index, verdict, comment}, not a string."),
        ("result.review.steps[1]", "missing_step", "Step 1 has no verdict: give one for each of the 4 steps."),
        ("result.review.overall", "invalid_type", "Must be one of the overall verdicts (a string), not 1."),
    ]


def test_an_unknown_overall_verdict_is_refused():
    assert errors_of(answer("correct", "correct", "correct", "correct", overall="fine")) == [
        ("result.review.overall", "invalid_choice", "'fine' is not one of the overall verdicts (correct, incorrect).")
    ]


def test_stop_at_first_error_ends_the_review_at_the_first_incorrect_step():
    schema = steps_schema(stop_at_first_error=True)

    assert errors_of(answer("correct", "incorrect", first_error=1, overall="incorrect"), schema) == []
    assert errors_of(answer("correct", "neutral", "correct", "correct"), schema) == []
    assert errors_of(answer("correct", "neutral"), schema) == [
        ("result.review.steps[2]", "missing_step", "Step 2 has no verdict: give one for each of the 4 steps.")
    ]


def test_comments_follow_the_fields_mode():
    required = steps_schema(comment="required_on_incorrect")
    none = steps_schema(comment="none")
    incorrect = ("correct", "incorrect", "correct", "correct")

    assert errors_of(answer(*incorrect, first_error=1, comments={1: "Wrong tool."}), required) == []
    assert errors_of(answer(*incorrect, first_error=1), required) == [
        ("result.review.steps[1].comment", "required", "Say what is wrong: an incorrect step needs a comment.")
    ]
    assert errors_of(answer(*incorrect, first_error=1, comments={1: "  "}), required) == [
        ("result.review.steps[1].comment", "blank", "May not be blank; leave the key out instead.")
    ]
    assert errors_of(answer(*incorrect, first_error=1, comments={0: "Fine."}), none) == [
        ("result.review.steps[0].comment", "not_allowed", "This field takes no comments on steps.")
    ]
    assert errors_of(answer(*incorrect, first_error=1, comments={2: 5})) == [
        ("result.review.steps[2].comment", "invalid_type", "Must be a string, not 5.")
    ]


def test_a_task_without_steps_cannot_be_reviewed():
    assert errors_of(answer("correct"), data={"trace": "not a list"}) == [
        ("result.review", "invalid_task_data", "The task has no list of steps under 'trace' to review.")
    ]


def test_adding_tasks_names_the_row_and_step_and_writes_nothing(tenant):
    project = ProjectFactory(label_schema={"fields": [{"name": "review", "type": "steps", "source": "trace"}]})
    items = [
        {"external_id": "ok", "data": {"trace": TRACE}},
        {"external_id": "bad", "data": {"trace": [TRACE[0], {"role": "agent", "content": "hi"}]}},
    ]

    with pytest.raises(InvalidInput) as caught:
        task_bulk_create(actor=MembershipFactory(role=Role.MANAGER), project=project, items=items)

    assert [(e.field, e.code) for e in caught.value.errors] == [("[1].data.trace[1].role", "invalid_choice")]
    assert Task.objects.filter(project=project).count() == 0
