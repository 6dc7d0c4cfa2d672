"""Suggestion jobs against the loopback model server: every open task given the model's suggestions (checked like
answers), a bad reply asked for once more and then recorded as failed, the budget pausing a job that resumes
without asking twice for a task, and every refusal to start naming its field."""

import json
from typing import Any

import pytest

from annotation.models import SuggestionJob
from annotation.quality.prompts import prompt_render
from annotation.services.suggestions import RunOutcome, suggestion_job_resume, suggestion_job_run, suggestion_job_start
from audit.models import AuditEvent
from config.celery import app
from core.errors import Conflict, InvalidInput, NotAllowed
from llm.models import ModelCall
from llm.services.connections import model_budget_set
from projects.models import Task
from tenancy.models import Role
from tests.factories import MembershipFactory, ModelConnectionFactory, ProjectFactory, TaskFactory
from tests.llm import conftest as llm_fixtures

SCHEMA = {
    "fields": [
        {"name": "sentiment", "type": "choices", "options": ["positive", "negative"]},
        {"name": "stars", "type": "rating", "min": 1, "max": 5},
        {"name": "note", "type": "text", "required": False},
    ]
}
PROMPT = "Review of {{ product.name }}: {{ text }}"

# The loopback model server's fixture, bound here so that pytest finds it in this module.
model_server = llm_fixtures.model_server


@pytest.fixture
def loopback(settings: Any) -> None:
    # The platform refuses loopback by default; the model server lives there.
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def project(tenant: Any) -> Any:
    return ProjectFactory(label_schema=SCHEMA, overlap=1)


@pytest.fixture
def manager(tenant: Any) -> Any:
    return MembershipFactory(role=Role.MANAGER)


def _tasks(project: Any, texts: list[str]) -> list[Any]:
    return [
        TaskFactory(project=project, external_id=f"r{i}", data={"text": text, "product": {"name": "Lamp"}})
        for i, text in enumerate(texts)
    ]


def _compact(value: Any) -> str:
    # No spaces: the loopback server counts a reply's tokens as its words, so this is one token.
    return json.dumps(value, separators=(",", ":"))


def _by_text(answers: dict[str, Any]) -> Any:
    """A reply function: the answer for the review text the last user message ends with."""

    def reply(messages: list[dict[str, Any]]) -> str:
        first_user = next(m["content"] for m in messages if m["role"] == "user")
        text = first_user.rsplit(": ", 1)[1]
        answer = answers[text]
        return answer(messages) if callable(answer) else answer

    return reply


def _start(manager: Any, project: Any, connection: Any, **fields: Any) -> SuggestionJob:
    return suggestion_job_start(
        actor=manager,
        project=project,
        connection=str(connection.uuid),
        fields=fields.pop("fields", ["sentiment", "stars"]),
        prompt=fields.pop("prompt", PROMPT),
        **fields,
    )


def _run(job: SuggestionJob) -> str:
    """Run the queued job as a worker does (the test's transaction never commits, so nothing was sent)."""
    state: str = app.tasks["suggestions.generate"].apply(args=(job.organization_id, job.pk)).get()
    job.refresh_from_db()
    return state


def _suggestions(project: Any) -> dict[str, Any]:
    return dict(Task.objects.filter(project=project).order_by("id").values_list("external_id", "suggestions"))


def _counts(job: SuggestionJob) -> dict[str, Any]:
    return {
        "state": job.state,
        "total": job.total,
        "done": job.done_count,
        "failed": job.failed_count,
        "skipped": job.skipped_count,
    }


def _job_events(job: SuggestionJob) -> list[tuple[str, str]]:
    events = AuditEvent.objects.filter(target_id=str(job.uuid)).order_by("sequence")
    return [(e.action, e.outcome) for e in events]


def test_every_open_task_gets_the_models_suggestions(
    tenant,
    project,
    manager,
    model_server,
    loopback,
):
    _tasks(project, ["Bright and sturdy.", "Broke in a week."])
    TaskFactory(project=project, external_id="finished", data={"text": "x", "product": {"name": "Lamp"}}, done=1)
    model_server.script(
        "model-a",
        _by_text(
            {
                "Bright and sturdy.": _compact({"sentiment": "positive", "stars": 5, "note": "ignored"}),
                # A reply in a Markdown fence is read from inside it.
                "Broke in a week.": '```json\n{"sentiment": "negative", "stars": 1}\n```',
            }
        ),
    )
    connection = ModelConnectionFactory(base_url=model_server.base_url)
    job = _start(manager, project, connection, agent="lamp-model@v2")

    assert _run(job) == "succeeded"

    own = str(job.uuid)
    assert _suggestions(project) == {
        "r0": {
            "sentiment": {"value": "positive", "agent": "lamp-model@v2", "score": None, "job": own},
            "stars": {"value": 5, "agent": "lamp-model@v2", "score": None, "job": own},
        },
        "r1": {
            "sentiment": {"value": "negative", "agent": "lamp-model@v2", "score": None, "job": own},
            "stars": {"value": 1, "agent": "lamp-model@v2", "score": None, "job": own},
        },
        "finished": {},
    }
    assert _counts(job) == {"state": "succeeded", "total": 2, "done": 2, "failed": 0, "skipped": 0}
    assert job.message == "2 suggested, 0 failed, 0 had this job's suggestions."
    assert job.tokens == sum(c.prompt_tokens + c.completion_tokens for c in ModelCall.objects.all())
    assert list(ModelCall.objects.values_list("purpose", "state", "member")) == [
        ("suggestion", "succeeded", None),
        ("suggestion", "succeeded", None),
    ]
    first = model_server.completions[0].messages
    assert [m["role"] for m in first] == ["system", "user"]
    assert first[1]["content"] == "Review of Lamp: Bright and sturdy."
    assert "Its keys are exactly: sentiment, stars." in first[0]["content"]
    assert _job_events(job) == [("suggestion.job_start", "success"), ("suggestion.job_finish", "success")]


def test_a_bad_reply_is_asked_for_again_once_then_the_task_is_recorded_as_failed(
    tenant,
    project,
    manager,
    model_server,
    loopback,
):
    _tasks(project, ["Fixed on retry.", "Never right.", "Not JSON at all."])
    model_server.script(
        "model-a",
        _by_text(
            {
                # A wrong value first; once told what was wrong, a good one.
                "Fixed on retry.": lambda m: _compact({"sentiment": "positive", "stars": 4 if len(m) > 2 else 9}),
                "Never right.": _compact({"sentiment": "meh"}),
                "Not JSON at all.": "I think it is positive.",
            }
        ),
    )
    job = _start(manager, project, ModelConnectionFactory(base_url=model_server.base_url))

    assert _run(job) == "succeeded"

    assert _counts(job) == {"state": "succeeded", "total": 3, "done": 1, "failed": 2, "skipped": 0}
    assert job.errors == [
        {
            "task": "r1",
            "code": "invalid_output",
            "message": "stars: missing. sentiment: 'meh' is not one of the options.",
        },
        {"task": "r2", "code": "invalid_output", "message": "The reply is not JSON."},
    ]
    assert _suggestions(project)["r0"]["stars"]["value"] == 4
    assert (_suggestions(project)["r1"], _suggestions(project)["r2"]) == ({}, {})
    retry = [r.messages for r in model_server.completions if len(r.messages) == 4]
    assert len(model_server.completions) == 6
    assert retry[0][2:] == [
        {"role": "assistant", "content": '{"sentiment":"positive","stars":9}'},
        {
            "role": "user",
            "content": "That reply cannot be used: stars: 9 is not between 1 and 5. Reply again with only the JSON "
            "object.",
        },
    ]


def test_a_task_whose_data_lacks_a_placeholders_key_fails_without_a_call(
    tenant,
    project,
    manager,
    model_server,
    loopback,
):
    TaskFactory(project=project, external_id="bare", data={"text": "No product."})
    job = _start(manager, project, ModelConnectionFactory(base_url=model_server.base_url))

    _run(job)

    assert job.errors == [
        {"task": "bare", "code": "missing_data", "message": "The task's data has no 'product.name' for the prompt."}
    ]
    assert model_server.completions == []


def test_the_budget_running_out_pauses_the_job_and_resuming_asks_only_for_what_is_left(
    tenant,
    project,
    manager,
    model_server,
    loopback,
):
    _tasks(project, ["One.", "Two.", "Three."])
    model_server.script("model-a", _compact({"sentiment": "positive", "stars": 3}))
    admin = MembershipFactory(role=Role.ADMIN)
    # One token allowed: the first call may go (its reply capped at one token) and spends more than is left.
    model_budget_set(actor=admin, project=project, token_limit=1)
    job = _start(manager, project, ModelConnectionFactory(base_url=model_server.base_url))

    assert _run(job) == "paused"

    assert _counts(job) == {"state": "paused", "total": 3, "done": 1, "failed": 0, "skipped": 0}
    assert job.message == "paused: budget used up"
    assert list(_suggestions(project).values())[1:] == [{}, {}]
    assert len(model_server.completions) == 1
    assert _job_events(job)[-1] == ("suggestion.job_pause", "success")
    denied = AuditEvent.objects.filter(action="model.call", outcome="denied").get()
    assert denied.metadata["error"] == "budget_exhausted"

    model_budget_set(actor=admin, project=project, token_limit=None)
    suggestion_job_resume(actor=manager, job=job)
    assert _run(job) == "succeeded"

    assert _counts(job) == {"state": "succeeded", "total": 3, "done": 2, "failed": 0, "skipped": 1}
    assert len(model_server.completions) == 3
    assert all(s["stars"]["value"] == 3 for s in _suggestions(project).values())
    assert [a for a, _ in _job_events(job)] == [
        "suggestion.job_start",
        "suggestion.job_pause",
        "suggestion.job_start",
        "suggestion.job_finish",
    ]


def test_a_switched_off_connection_fails_the_job_which_can_be_resumed_later(
    tenant,
    project,
    manager,
    model_server,
    loopback,
):
    _tasks(project, ["One."])
    connection = ModelConnectionFactory(base_url=model_server.base_url)
    job = _start(manager, project, connection)
    connection.enabled = False
    connection.save()

    assert _run(job) == "failed"

    assert (job.state, job.message) == ("failed", "This model connection is switched off.")
    assert _job_events(job)[-1] == ("suggestion.job_finish", "failure")
    SuggestionJob.objects.filter(pk=job.pk).update(state="running")
    with pytest.raises(Conflict, match=r"^Only a paused or failed job can be resumed; this one is running\.$"):
        suggestion_job_resume(actor=manager, job=job)


def test_starting_refuses_each_bad_field_by_name_and_writes_nothing(tenant, project, manager):
    connection = ModelConnectionFactory(enabled=False)

    with pytest.raises(InvalidInput) as refused:
        suggestion_job_start(
            actor=manager,
            project=project,
            connection=str(connection.uuid),
            fields=["sentiment", "tone", "sentiment"],
            prompt="Rate {{ text }} and {{ broken",
            agent="x" * 201,
        )

    assert [(e.field, e.code, e.message) for e in refused.value.errors] == [
        ("fields", "duplicate", "A field is named twice."),
        ("fields", "unknown_field", "The schema has no field 'tone'."),
        (
            "prompt",
            "invalid_placeholder",
            "Placeholders are written {{ key }}, the key made of letters, digits and underscores (with dots for "
            "nested keys).",
        ),
        ("connection", "disabled", "This model connection is switched off."),
        ("agent", "invalid", "Must be a text of at most 200 characters."),
    ]
    assert SuggestionJob.objects.count() == 0


def test_only_managers_may_start_a_job(tenant, project):
    reviewer = MembershipFactory(role=Role.REVIEWER)

    with pytest.raises(NotAllowed, match=r"^Generating suggestions needs the manager role or higher\.$"):
        _start(reviewer, project, ModelConnectionFactory())


def test_task_data_is_put_into_the_prompt_as_data_never_expanded_again():
    data = {"text": "{{ secret }} and }}{{", "n": [1, {"a": True}], "secret": "leaked"}

    assert prompt_render("Text: {{ text }} / {{n}}", data) == 'Text: {{ secret }} and }}{{ / [1,{"a":true}]'


def test_a_run_works_for_its_time_slice_and_the_next_one_goes_on_after_the_checkpoint(
    tenant,
    project,
    manager,
    model_server,
    loopback,
):
    _tasks(project, ["One.", "Two."])
    model_server.script("model-a", _compact({"sentiment": "positive", "stars": 3}))
    job = _start(manager, project, ModelConnectionFactory(base_url=model_server.base_url))

    assert suggestion_job_run(organization_id=tenant.pk, job_id=job.pk, slice_seconds=0) == RunOutcome(finished=False)
    job.refresh_from_db()
    assert (_counts(job), job.checkpoint, model_server.completions) == (
        {"state": "running", "total": 2, "done": 0, "failed": 0, "skipped": 0},
        0,
        [],
    )

    assert suggestion_job_run(organization_id=tenant.pk, job_id=job.pk) == RunOutcome(finished=True)
    job.refresh_from_db()
    assert _counts(job) == {"state": "succeeded", "total": 2, "done": 2, "failed": 0, "skipped": 0}


def test_a_rate_limit_ends_the_slice_to_go_on_after_the_wait_the_model_asked_for(
    tenant,
    project,
    manager,
    model_server,
    loopback,
):
    _tasks(project, ["One."])
    model_server.script("model-a", _compact({"sentiment": "negative", "stars": 1}))
    model_server.rate_limit(retry_after=7, times=1)
    job = _start(manager, project, ModelConnectionFactory(base_url=model_server.base_url))

    assert suggestion_job_run(organization_id=tenant.pk, job_id=job.pk) == RunOutcome(finished=False, wait_seconds=7)
    job.refresh_from_db()
    assert (job.state, job.done_count, job.failed_count, job.checkpoint) == ("running", 0, 0, 0)

    assert suggestion_job_run(organization_id=tenant.pk, job_id=job.pk) == RunOutcome(finished=True)
    job.refresh_from_db()
    assert (job.state, job.done_count) == ("succeeded", 1)
