"""The judge-run endpoints: start (every refusal a 400 naming its field, another organization's connection refused
like a missing one), list, one run with its agreement table, cancel, resume and the verdicts."""

import uuid
from typing import Any

import pytest

from core.context import organization_context
from llm.models import JudgeRun
from tenancy.models import Role
from tests.factories import AnnotationFactory, ModelConnectionFactory, OrganizationFactory, ProjectFactory, TaskFactory
from tests.llm.judge_support import JUDGE_SCHEMA, JudgeRunFactory, JudgeVerdictFactory


@pytest.fixture
def project(tenant: Any) -> Any:
    return ProjectFactory(label_schema=JUDGE_SCHEMA)


def runs_url(project: Any) -> str:
    return f"/api/v1/projects/{project.uuid}/judge-runs/"


def test_a_manager_starts_a_run_of_every_field_a_judge_can_answer(tenant, project, api_as):
    connection = ModelConnectionFactory()

    response = api_as(tenant, Role.MANAGER).post(
        runs_url(project), {"connection": str(connection.uuid), "instruction": "Be strict."}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    run = JudgeRun.objects.get()
    assert body["id"] == str(run.uuid)
    assert {k: body[k] for k in ("connection", "fields", "instruction", "state", "total", "processed")} == {
        "connection": str(connection.uuid),
        "fields": ["sentiment", "quality"],
        "instruction": "Be strict.",
        "state": "pending",
        "total": 0,
        "processed": 0,
    }


def test_another_organizations_connection_is_refused_exactly_like_a_missing_one(tenant, project, api_as):
    other = OrganizationFactory()
    with organization_context(other.pk):
        foreign = ModelConnectionFactory()
    client = api_as(tenant, Role.MANAGER)

    as_foreign = client.post(runs_url(project), {"connection": str(foreign.uuid)}, format="json")
    as_missing = client.post(runs_url(project), {"connection": str(uuid.uuid4())}, format="json")

    assert as_foreign.status_code == as_missing.status_code == 400
    assert as_foreign.json() == as_missing.json()
    assert [e["field"] for e in as_foreign.json()["errors"]] == ["connection"]
    assert JudgeRun.objects.count() == 0


def test_an_unknown_field_is_a_400_naming_it(tenant, project, api_as):
    response = api_as(tenant, Role.MANAGER).post(
        runs_url(project),
        {"connection": str(ModelConnectionFactory().uuid), "fields": ["sentiment", "mood"]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "fields[1]", "message": "The project's schema has no field 'mood'.", "code": "unknown_field"}
    ]
    assert JudgeRun.objects.count() == 0


def test_a_reviewer_may_not_start_or_read_runs(tenant, project, api_as):
    client = api_as(tenant, Role.REVIEWER)

    started = client.post(runs_url(project), {"connection": str(ModelConnectionFactory().uuid)}, format="json")
    listed = client.get(runs_url(project))

    assert (started.status_code, listed.status_code) == (403, 403)


def test_one_run_shows_its_counts_and_the_judge_against_the_experts(tenant, project, api_as):
    run = JudgeRunFactory(project=project, fields=["sentiment"], total=1, judged=1)
    task = TaskFactory(project=project, done=3, taken=3)
    for vote in ("positive", "positive", "negative"):
        AnnotationFactory(project=project, task=task, result={"sentiment": vote})
    JudgeVerdictFactory(run=run, task=task, result={"sentiment": "positive"})

    body = api_as(tenant, Role.MANAGER).get(f"/api/v1/judge-runs/{run.uuid}").json()

    assert (body["state"], body["total"], body["judged"], body["processed"]) == ("succeeded", 1, 1, 1)
    assert body["agreement"] == {
        "verdicts": 1,
        "fields": [
            {
                "name": "sentiment",
                "type": "choices",
                "items": 1,
                # One task: observed and expected disagreement are equal with or without the judge.
                "judge_alpha": pytest.approx(0.0, abs=1e-12),
                "experts_alpha": pytest.approx(0.0, abs=1e-12),
                # The judge gave the majority's answer, but one unit has no variation: kappa is undefined.
                "kappa": None,
                "agreement": 1.0,
                "settled_units": 1,
                "reading": "The judge agrees with the experts about as well as experts agree with each other.",
            }
        ],
    }


def test_a_paused_run_is_resumed_then_cancelled_and_an_ended_one_is_a_409(tenant, project, api_as):
    run = JudgeRunFactory(project=project, state="paused")
    client = api_as(tenant, Role.MANAGER)

    resumed = client.post(f"/api/v1/judge-runs/{run.uuid}/resume", {}, format="json")
    cancelled = client.post(f"/api/v1/judge-runs/{run.uuid}/cancel", {}, format="json")
    again = client.post(f"/api/v1/judge-runs/{run.uuid}/cancel", {}, format="json")
    resumed_again = client.post(f"/api/v1/judge-runs/{run.uuid}/resume", {}, format="json")

    assert (resumed.status_code, resumed.json()["state"]) == (200, "pending")
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
    assert (again.status_code, resumed_again.status_code) == (409, 409)


def test_the_verdicts_of_a_run_in_the_order_given(tenant, project, api_as):
    run = JudgeRunFactory(project=project)
    first = JudgeVerdictFactory(run=run, result={"sentiment": "positive", "quality": 5})
    second = JudgeVerdictFactory(run=run, result=None, valid=False, attempts=2, error="result: The reply is not JSON.")

    body = api_as(tenant, Role.MANAGER).get(f"/api/v1/judge-runs/{run.uuid}/verdicts/").json()

    rows = body["results"]
    assert [(r["id"], r["external_id"], r["result"], r["valid"], r["attempts"], r["error"]) for r in rows] == [
        (str(first.uuid), first.task.external_id, {"sentiment": "positive", "quality": 5}, True, 1, ""),
        (str(second.uuid), second.task.external_id, None, False, 2, "result: The reply is not JSON."),
    ]
