"""The judge on the quality page: the latest run against the experts, and the form that starts, resumes and cancels
runs (its refusals shown as the page's message, nothing written)."""

from typing import Any

import pytest
from django.test import Client

from llm.models import JudgeRun
from tenancy.models import Role
from tests.conftest import session_client
from tests.factories import AnnotationFactory, ModelConnectionFactory, ProjectFactory, TaskFactory
from tests.llm.judge_support import JUDGE_SCHEMA, JudgeRunFactory, JudgeVerdictFactory


@pytest.fixture
def project(tenant: Any) -> Any:
    return ProjectFactory(label_schema=JUDGE_SCHEMA)


def quality(project: Any) -> str:
    return f"/projects/{project.uuid}/quality"


def judge_url(project: Any) -> str:
    return f"/projects/{project.uuid}/quality/judge"


def manager_client(tenant: Any) -> Client:
    client, _ = session_client(tenant, Role.MANAGER)
    return client


def test_the_quality_page_shows_the_latest_run_against_the_experts(tenant, project):
    run = JudgeRunFactory(project=project, fields=["sentiment"], total=2, judged=2)
    for majority in ("positive", "negative"):
        task = TaskFactory(project=project, done=2, taken=2)
        for _ in range(2):
            AnnotationFactory(project=project, task=task, result={"sentiment": majority})
        JudgeVerdictFactory(run=run, task=task, result={"sentiment": majority})

    html = manager_client(tenant).get(quality(project)).content.decode()

    assert "Judge vs experts" in html
    assert f'data-judge-run="{run.uuid}"' in html
    assert '<tr data-field="sentiment">' in html
    assert "The judge agrees with the experts about as well as experts agree with each other." in html
    assert "100% of 2" in html


def test_a_manager_starts_a_run_from_the_page(tenant, project):
    connection = ModelConnectionFactory()

    response = manager_client(tenant).post(
        judge_url(project), {"action": "start", "connection": str(connection.uuid), "field_names": ["quality"]}
    )

    assert response.status_code == 302
    assert response["Location"] == quality(project) + "#judge"
    run = JudgeRun.objects.get()
    assert (run.connection_id, run.fields, run.state) == (connection.pk, ["quality"], "pending")


def test_a_refused_start_is_the_pages_message_and_writes_nothing(tenant, project):
    connection = ModelConnectionFactory()
    client = manager_client(tenant)
    JudgeRunFactory(project=project, connection=connection, state="running")

    response = client.post(judge_url(project), {"action": "start", "connection": str(connection.uuid)}, follow=True)

    assert JudgeRun.objects.count() == 1
    assert "This model is already judging the project" in response.content.decode()


def test_a_paused_run_is_resumed_and_cancelled_from_the_page(tenant, project):
    run = JudgeRunFactory(project=project, state="paused", reason="The project's model budget is used up.")
    client = manager_client(tenant)

    page = client.get(quality(project)).content.decode()
    client.post(judge_url(project), {"action": "resume", "run": str(run.uuid)})
    run.refresh_from_db()
    resumed = run.state
    client.post(judge_url(project), {"action": "cancel", "run": str(run.uuid)})
    run.refresh_from_db()

    assert 'value="resume">Resume run</button>' in page
    assert "The project&#x27;s model budget is used up." in page
    assert (resumed, run.state) == ("pending", "cancelled")
