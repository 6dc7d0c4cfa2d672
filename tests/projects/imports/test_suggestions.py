"""Suggestions arriving with imported tasks: checked per row against the schema like answers (a bad one is a row
error naming the row, the field and why, and by default nothing is imported), stored on the task, merged field by
field when a row updates a task."""

import pytest

from core.errors import InvalidInput
from projects.models import ImportRow, Task
from projects.services.projects import project_create
from projects.services.tasks import task_bulk_create
from tenancy.models import Role
from tests.conftest import member_client
from tests.projects import imports_support
from tests.projects.imports_support import counts, jsonl, run_to_end, upload_job

manager = imports_support.manager
store = imports_support.store

SCHEMA = {
    "fields": [
        {"name": "sentiment", "type": "choices", "options": ["positive", "negative"]},
        {"name": "stars", "type": "rating", "min": 1, "max": 5},
        {"name": "entities", "type": "spans", "source": "text", "labels": ["PER"], "required": False},
    ]
}


@pytest.fixture
def project(manager):
    return project_create(actor=manager, name="Reviews", label_schema=SCHEMA)


def _row(external_id, suggestions, text="Ada wrote this."):
    return {"external_id": external_id, "data": {"text": text}, "suggestions": suggestions}


def suggestions_of(project):
    return dict(Task.objects.filter(project=project).values_list("external_id", "suggestions"))


def test_rows_with_valid_suggestions_store_them_with_every_key(store, manager, project):
    content = jsonl(
        [
            _row("a", {"sentiment": {"value": "positive", "agent": "model-x@v3", "score": 0.83}}),
            _row("b", {"stars": {"value": 4}, "entities": {"value": [{"start": 0, "end": 3, "label": "PER"}]}}),
            {"external_id": "c", "data": {"text": "none"}},
            {"external_id": "d", "data": {"text": "null"}, "suggestions": None},
        ]
    )

    job = run_to_end(upload_job(manager, project, content))

    assert counts(job)["state"] == "succeeded"
    assert suggestions_of(project) == {
        "a": {"sentiment": {"value": "positive", "agent": "model-x@v3", "score": 0.83}},
        "b": {
            "stars": {"value": 4, "agent": "", "score": None},
            "entities": {"value": [{"start": 0, "end": 3, "label": "PER"}], "agent": "", "score": None},
        },
        "c": {},
        "d": {},
    }


def test_a_bad_suggestion_is_a_row_error_naming_the_row_the_field_and_why_and_nothing_is_imported(
    store, manager, project
):
    content = jsonl(
        [
            _row("good", {"sentiment": {"value": "negative", "agent": "m"}}),
            _row("bad-choice", {"sentiment": {"value": "meh", "agent": "m"}}),
            _row("bad-rating", {"stars": {"value": 9}}),
            _row("bad-span", {"entities": {"value": [{"start": 0, "end": 99, "label": "PER"}]}}),
            _row("unknown-field", {"tone": {"value": "x"}}),
            _row("bad-shape", {"sentiment": "positive"}),
            _row("no-value", {"sentiment": {"agent": "m", "score": "high", "extra": 1}}),
            _row("not-an-object", ["sentiment"]),
        ]
    )

    job = run_to_end(upload_job(manager, project, content))

    assert counts(job) == {
        "state": "failed",
        "rows_read": 8,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "errors": 7,
    }
    assert job.errors == [
        {
            "line": 2,
            "field": "suggestions.sentiment.value",
            "code": "invalid_choice",
            "message": "'meh' is not one of the options.",
        },
        {"line": 3, "field": "suggestions.stars.value", "code": "out_of_range", "message": "9 is not between 1 and 5."},
        {
            "line": 4,
            "field": "suggestions.entities.value[0].end",
            "code": "out_of_range",
            "message": "Span end 99 is beyond the text (length 15).",
        },
        {
            "line": 5,
            "field": "suggestions.tone",
            "code": "unknown_field",
            "message": "The schema has no field 'tone'.",
        },
        {
            "line": 6,
            "field": "suggestions.sentiment",
            "code": "not_an_object",
            "message": 'Must be a JSON object {"value": ..., "agent": ..., "score": ...}.',
        },
        {
            "line": 7,
            "field": "suggestions.sentiment.extra",
            "code": "unknown_field",
            "message": "Unknown key; a suggestion has value, agent and score.",
        },
        {
            "line": 7,
            "field": "suggestions.sentiment.value",
            "code": "required",
            "message": "This field is required.",
        },
        {
            "line": 7,
            "field": "suggestions.sentiment.score",
            "code": "invalid_type",
            "message": "Must be a number or null, not a string.",
        },
        {
            "line": 8,
            "field": "suggestions",
            "code": "not_an_object",
            "message": 'Must be a JSON object {field name: {"value": ..., "agent": ..., "score": ...}}.',
        },
    ]
    assert (Task.objects.count(), ImportRow.objects.count()) == (0, 0)


def test_with_skip_bad_rows_only_the_rows_with_good_suggestions_are_imported(store, manager, project):
    content = jsonl([_row("good", {"stars": {"value": 2}}), _row("bad", {"stars": {"value": "two"}})])

    job = run_to_end(upload_job(manager, project, content, skip=True))

    assert (job.created_count, job.error_count) == (1, 1)
    assert job.errors == [
        {
            "line": 2,
            "field": "suggestions.stars.value",
            "code": "invalid_type",
            "message": "Must be an integer, not a string.",
        }
    ]
    assert suggestions_of(project) == {"good": {"stars": {"value": 2, "agent": "", "score": None}}}


def test_csv_rows_carry_suggestions_as_a_json_column(store, manager, project):
    content = (
        b"external_id,data.text,suggestions\n"
        b'a,hello,"{""sentiment"": {""value"": ""positive"", ""agent"": ""csv-model""}}"\n'
        b"b,bye,\n"
    )

    job = run_to_end(upload_job(manager, project, content, "csv"))

    assert counts(job)["state"] == "succeeded"
    assert suggestions_of(project) == {
        "a": {"sentiment": {"value": "positive", "agent": "csv-model", "score": None}},
        "b": {},
    }


def test_updating_rows_merge_suggestions_field_by_field(store, manager, project):
    first = jsonl([_row("a", {"sentiment": {"value": "positive", "agent": "m1"}, "stars": {"value": 3}})])
    run_to_end(upload_job(manager, project, first))
    second = jsonl([_row("a", {"stars": {"value": 5, "agent": "m2", "score": 0.5}})])

    job = run_to_end(upload_job(manager, project, second, update=True))

    assert (job.updated_count, job.unchanged_count) == (1, 0)
    assert suggestions_of(project) == {
        "a": {
            "sentiment": {"value": "positive", "agent": "m1", "score": None},
            "stars": {"value": 5, "agent": "m2", "score": 0.5},
        }
    }
    again = run_to_end(upload_job(manager, project, second, update=True))
    assert (again.updated_count, again.unchanged_count) == (0, 1)


def test_the_bulk_create_endpoint_checks_and_stores_suggestions_the_same_way(manager, project):
    task_bulk_create(
        actor=manager, project=project, items=[_row("api", {"sentiment": {"value": "negative", "score": 1}})]
    )

    assert suggestions_of(project) == {"api": {"sentiment": {"value": "negative", "agent": "", "score": 1}}}


def test_the_bulk_endpoint_names_a_bad_suggestion_by_its_item_and_creates_nothing(tenant, project):
    client, _ = member_client(tenant, Role.MANAGER)

    response = client.post(
        f"/api/v1/projects/{project.uuid}/tasks/",
        [_row("ok", {"stars": {"value": 3}}), _row("bad", {"stars": {"value": 0}})],
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "[1].suggestions.stars.value", "message": "0 is not between 1 and 5.", "code": "out_of_range"}
    ]
    assert Task.objects.count() == 0


@pytest.mark.parametrize("empty", [[], "", 0, False])
def test_only_null_or_an_object_stands_for_no_suggestions(manager, project, empty):
    with pytest.raises(InvalidInput) as refused:
        task_bulk_create(actor=manager, project=project, items=[_row("x", empty)])

    assert [(e.field, e.code) for e in refused.value.errors] == [("[0].suggestions", "not_an_object")]
