"""The suggestion-job endpoints: start (queued after commit), follow, list, resume, and their refusals."""

import pytest

from annotation.models import SuggestionJob
from core import enqueue
from tenancy.models import Role
from tests.conftest import member_client
from tests.factories import ModelConnectionFactory, ProjectFactory, TaskFactory

SCHEMA = {"fields": [{"name": "sentiment", "type": "choices", "options": ["positive", "negative"]}]}


@pytest.fixture
def project(tenant):
    return ProjectFactory(label_schema=SCHEMA)


@pytest.fixture
def manager(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    return client


@pytest.fixture
def sent(monkeypatch):
    messages = []
    monkeypatch.setattr(enqueue, "_send", lambda name, args: messages.append((name, args)))
    return messages


def _url(project):
    return f"/api/v1/projects/{project.uuid}/suggestion-jobs/"


def test_a_manager_starts_a_job_that_is_queued_once_committed_and_follows_it(
    tenant, project, manager, sent, django_capture_on_commit_callbacks
):
    TaskFactory(project=project)
    connection = ModelConnectionFactory(model="model-a")

    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post(
            _url(project),
            {"connection": str(connection.uuid), "fields": ["sentiment"], "prompt": "Sentiment of: {{ text }}"},
            format="json",
        )

    assert response.status_code == 202, response.content
    body = response.json()
    job = SuggestionJob.objects.get()
    assert sent == [("suggestions.generate", (tenant.pk, job.pk))]
    assert {k: body[k] for k in ("id", "project", "connection", "fields", "agent", "state", "progress", "total")} == {
        "id": str(job.uuid),
        "project": str(project.uuid),
        "connection": str(connection.uuid),
        "fields": ["sentiment"],
        "agent": "model-a",
        "state": "pending",
        "progress": 0.0,
        "total": 1,
    }
    assert manager.get(f"/api/v1/suggestion-jobs/{job.uuid}").json() == body
    assert [j["id"] for j in manager.get(_url(project)).json()["results"]] == [str(job.uuid)]


def test_a_bad_start_is_a_400_naming_the_field(project, manager):
    response = manager.post(
        _url(project),
        {"connection": str(ModelConnectionFactory().uuid), "fields": ["tone"], "prompt": "{{ text"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "fields", "message": "The schema has no field 'tone'.", "code": "unknown_field"},
        {
            "field": "prompt",
            "message": "Placeholders are written {{ key }}, the key made of letters, digits and underscores (with "
            "dots for nested keys).",
            "code": "invalid_placeholder",
        },
    ]
    assert SuggestionJob.objects.count() == 0


def test_a_job_still_running_cannot_be_resumed(project, manager):
    response = manager.post(
        _url(project),
        {"connection": str(ModelConnectionFactory().uuid), "fields": ["sentiment"], "prompt": "{{ text }}"},
        format="json",
    )

    resumed = manager.post(f"/api/v1/suggestion-jobs/{response.json()['id']}/resume", {}, format="json")

    assert resumed.status_code == 409
    assert resumed.json()["detail"] == "Only a paused or failed job can be resumed; this one is pending."
