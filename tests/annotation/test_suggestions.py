"""Suggestions from the annotator's side: offered with the lease (the agent hidden on blind projects, nothing when
the project shows none), what the answer did with each recorded by the server at submit, carried by the exports,
and summed up per field and per agent on the quality page."""

import csv
import io
import json
import re

import pytest

from annotation.models import Annotation
from annotation.selectors.suggestions import AcceptanceRow, suggestion_acceptance
from tenancy.models import Role
from tests.annotation import exports_support
from tests.annotation.conftest import act_url
from tests.annotation.exports_support import bare_world, run_export
from tests.annotation.flows import claim
from tests.conftest import session_client
from tests.factories import AnnotationFactory, ProjectFactory, TaskFactory

SCHEMA = {
    "fields": [
        {"name": "sentiment", "type": "choices", "options": ["positive", "negative"]},
        {"name": "topics", "type": "choices", "options": ["bug", "billing", "ux"], "multiple": True},
        {"name": "stars", "type": "rating", "min": 1, "max": 5, "required": False},
    ]
}
object_root = exports_support.object_root

SUGGESTED = {
    "sentiment": {"value": "positive", "agent": "model-x@v3", "score": 0.83},
    "topics": {"value": ["bug", "billing"], "agent": "model-x@v3", "score": 0.5},
    "stars": {"value": 4, "agent": "rater@v1", "score": None},
}


@pytest.fixture
def project(tenant):
    return ProjectFactory(label_schema=SCHEMA, overlap=1)


def _task(project, suggestions=SUGGESTED, **fields):
    return TaskFactory(project=project, data={"text": "The app double-charged me."}, suggestions=suggestions, **fields)


def _submit(client, lease, result):
    response = client.post(
        act_url(lease, "submit"), {"lease_token": lease["lease_token"], "result": result}, format="json"
    )
    assert response.status_code == 201, response.content
    return Annotation.objects.get(uuid=response.json()["id"])


def test_the_lease_offers_the_tasks_suggestions(project, annotator):
    _task(project)

    lease = claim(annotator(), project)

    assert lease["task"]["suggestions"] == {
        "sentiment": {"value": "positive", "agent": "model-x@v3", "score": 0.83},
        "topics": {"value": ["bug", "billing"], "agent": "model-x@v3", "score": 0.5},
        "stars": {"value": 4, "agent": "rater@v1", "score": None},
    }


def test_a_blind_project_offers_suggestions_without_naming_their_agent(tenant, annotator):
    project = ProjectFactory(label_schema=SCHEMA, blind=True, codename="Falcon")
    _task(project, {"stars": {"value": 2, "agent": "secret-model@v9", "score": 0.7}})

    lease = claim(annotator(), project)

    assert lease["task"]["suggestions"] == {"stars": {"value": 2, "agent": None, "score": 0.7}}


def test_a_project_that_shows_no_suggestions_offers_none(tenant, annotator):
    project = ProjectFactory(label_schema=SCHEMA, show_suggestions=False)
    _task(project)

    lease = claim(annotator(), project)

    assert lease["task"]["suggestions"] == {}


def test_submit_records_per_field_whether_each_suggestion_was_shown_and_kept(project, annotator):
    _task(project)
    client = annotator()
    lease = claim(client, project)

    # The topics in another order are the same answer; the rating was changed.
    annotation = _submit(client, lease, {"sentiment": "positive", "topics": ["billing", "bug"], "stars": 2})

    assert annotation.suggestions == {
        "sentiment": {"shown": True, "kept": True, "agent": "model-x@v3", "score": 0.83},
        "topics": {"shown": True, "kept": True, "agent": "model-x@v3", "score": 0.5},
        "stars": {"shown": True, "kept": False, "agent": "rater@v1", "score": None},
    }


def test_a_suggested_field_left_unanswered_is_not_kept(project, annotator):
    _task(project)
    client = annotator()
    lease = claim(client, project)

    annotation = _submit(client, lease, {"sentiment": "negative", "topics": ["bug", "billing"]})

    assert {name: o["kept"] for name, o in annotation.suggestions.items()} == {
        "sentiment": False,
        "topics": True,
        "stars": False,
    }


def test_suggestions_a_project_hides_are_recorded_as_not_shown_even_when_the_answer_matches(tenant, annotator):
    project = ProjectFactory(label_schema=SCHEMA, show_suggestions=False)
    _task(project, {"sentiment": SUGGESTED["sentiment"]})
    client = annotator()
    lease = claim(client, project)

    annotation = _submit(client, lease, {"sentiment": "positive", "topics": ["ux"]})

    assert annotation.suggestions == {
        "sentiment": {"shown": False, "kept": False, "agent": "model-x@v3", "score": 0.83},
    }


def test_a_task_without_suggestions_records_none(project, annotator):
    _task(project, {})
    client = annotator()
    lease = claim(client, project)

    annotation = _submit(client, lease, {"sentiment": "positive", "topics": ["ux"]})

    assert annotation.suggestions == {}


def test_the_client_cannot_claim_what_it_did_with_the_suggestions(project, annotator):
    _task(project)
    client = annotator()
    lease = claim(client, project)

    response = client.post(
        act_url(lease, "submit"),
        {
            "lease_token": lease["lease_token"],
            "result": {"sentiment": "negative", "topics": ["ux"]},
            "suggestions": {"sentiment": {"shown": True, "kept": True}},
        },
        format="json",
    )

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["suggestions"]
    assert Annotation.objects.count() == 0


def test_exports_carry_each_labels_suggestion_outcomes(project, annotator, object_root):
    task = _task(project)
    plain = _task(project, {})
    client = annotator()
    first = _submit(client, claim(client, project), {"sentiment": "negative", "topics": ["bug", "billing"]})
    _submit(client, claim(client, project), {"sentiment": "positive", "topics": ["ux"]})
    world = bare_world(project)

    _, body = run_export(world, "jsonl")

    lines = {json.loads(line)["external_id"]: json.loads(line) for line in body.decode().splitlines()}
    assert lines[task.external_id]["annotations"][0]["id"] == str(first.uuid)
    assert lines[task.external_id]["annotations"][0]["provenance"]["suggestions"] == {
        "sentiment": {"shown": True, "kept": False, "agent": "model-x@v3", "score": 0.83},
        "topics": {"shown": True, "kept": True, "agent": "model-x@v3", "score": 0.5},
        "stars": {"shown": True, "kept": False, "agent": "rater@v1", "score": None},
    }
    assert lines[plain.external_id]["annotations"][0]["provenance"]["suggestions"] == {}

    _, csv_body = run_export(world, "csv")

    rows = list(csv.DictReader(io.StringIO(csv_body.decode())))
    by_task = {row["external_id"]: row for row in rows}
    assert json.loads(by_task[task.external_id]["suggestions"]) == first.suggestions
    assert by_task[plain.external_id]["suggestions"] == ""


def _answered(project, outcomes):
    """An annotation of a new task of `project` whose recorded suggestion outcomes are `outcomes`."""
    return AnnotationFactory(project=project, task=TaskFactory(project=project), suggestions=outcomes)


def _outcome(agent, *, shown=True, kept):
    return {"shown": shown, "kept": kept, "agent": agent, "score": None}


def test_acceptance_is_kept_over_shown_per_field_and_per_agent(project):
    _answered(project, {"sentiment": _outcome("m1", kept=True), "stars": _outcome("m2", kept=False)})
    _answered(project, {"sentiment": _outcome("m1", kept=True), "stars": _outcome("m2", kept=True)})
    _answered(project, {"sentiment": _outcome("m2", kept=False)})
    _answered(project, {"sentiment": _outcome("", kept=False, shown=False)})
    _answered(project, {})
    other = ProjectFactory(label_schema=SCHEMA)
    _answered(other, {"sentiment": _outcome("m1", kept=False)})

    report = suggestion_acceptance(project=project)

    assert report.by_field == [AcceptanceRow("sentiment", 3, 2), AcceptanceRow("stars", 2, 1)]
    assert report.by_agent == [AcceptanceRow("", 0, 0), AcceptanceRow("m1", 2, 2), AcceptanceRow("m2", 3, 1)]
    assert [row.rate for row in report.by_agent] == [None, 1.0, 1 / 3]


def test_the_quality_page_shows_acceptance_per_field_and_per_agent(tenant, project):
    _answered(project, {"sentiment": _outcome("m1", kept=True), "stars": _outcome("m2", kept=False)})
    _answered(project, {"sentiment": _outcome("m1", kept=False)})
    client, _ = session_client(tenant, Role.MANAGER)

    page = client.get(f"/projects/{project.uuid}/quality").content.decode()

    section = page[page.index('id="suggestion-acceptance"') :]
    cells = [" ".join(c.split()) for c in _cells(section[: section.index("</section>")])]
    assert cells == [
        "sentiment", "2", "1", "50%",
        "stars", "1", "0", "0%",
        "m1", "2", "1", "50%",
        "m2", "1", "0", "0%",
    ]  # fmt: skip


def test_the_quality_page_says_when_nothing_was_suggested(tenant, project):
    client, _ = session_client(tenant, Role.MANAGER)

    page = client.get(f"/projects/{project.uuid}/quality").content.decode()

    assert "No answer to a task with suggestions yet." in page


def _cells(html):
    return re.findall(r"<td[^>]*>(.*?)</td>", html, flags=re.DOTALL)


def test_a_suggestion_for_a_field_the_schema_no_longer_has_is_neither_offered_nor_recorded(project, annotator):
    _task(project, {**SUGGESTED, "tone": {"value": "calm", "agent": "old-model", "score": None}})
    client = annotator()

    lease = claim(client, project)
    annotation = _submit(client, lease, {"sentiment": "positive", "topics": ["bug"]})

    assert sorted(lease["task"]["suggestions"]) == ["sentiment", "stars", "topics"]
    assert sorted(annotation.suggestions) == ["sentiment", "stars", "topics"]
