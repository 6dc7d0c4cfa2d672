"""Every model call inside its project's budget and limit of calls at once, on the trail with who, which task,
which model, the tokens and the outcome, whether it succeeded, failed or was refused before it left."""

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from audit.models import AuditEvent
from core.audit.context import ActorContext, actor_context
from llm.client import Delta, Finished, ModelCallError
from llm.models import CallState, ModelBudget, ModelCall
from llm.services.calls import STALE_AFTER, generation_complete, generation_stream
from llm.services.connections import model_budget_set, model_connection_update
from tenancy.models import Role
from tests.factories import MembershipFactory, ModelConnectionFactory, ProjectFactory, TaskFactory

MESSAGES = [{"role": "user", "content": "Summarise the case"}]


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]


@pytest.fixture
def world(tenant: Any, model_server: Any) -> Any:
    class World:
        owner = MembershipFactory(organization=tenant, role=Role.OWNER)
        annotator = MembershipFactory(organization=tenant, role=Role.ANNOTATOR)
        project = ProjectFactory(organization=tenant)
        connection = ModelConnectionFactory(base_url=model_server.base_url, model="model-a", name="Lab model A")

    World.task = TaskFactory(project=World.project)  # type: ignore[attr-defined]
    return World


def call_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="model.call").order_by("pk"))


def complete(world: Any, **changes: Any) -> Finished:
    fields = {
        "actor": world.annotator,
        "connection": world.connection,
        "project": world.project,
        "task": world.task,
        "purpose": "chat",
        "messages": MESSAGES,
        **changes,
    }
    return generation_complete(**fields)


def test_a_call_is_recorded_with_its_cost_and_counted_against_the_budget(world):
    with actor_context(ActorContext(user_id=world.annotator.user_id, user_label="annotator@lab")):
        finished = complete(world, parameters={"temperature": 0.1, "max_tokens": 50})

    assert finished.text == "[model-a] reply to: Summarise the case"
    call = ModelCall.objects.get()
    assert (call.state, call.purpose, call.prompt_tokens, call.completion_tokens) == ("succeeded", "chat", 3, 6)
    assert (call.member, call.task, call.tokens_reserved) == (world.annotator, world.task, 0)
    assert call.parameters == {"temperature": 0.1, "max_tokens": 50}
    assert ModelBudget.objects.get(project=world.project).tokens_used == 9
    [event] = call_events()
    assert (event.outcome, event.target_type, event.target_id) == ("success", "projects.task", str(world.task.uuid))
    assert event.actor_label == "annotator@lab"
    assert {k: event.metadata[k] for k in ("connection", "model", "endpoint", "purpose", "prompt_tokens")} == {
        "connection": "Lab model A",
        "model": "model-a",
        "endpoint": world.connection.base_url.split("//")[1].split("/")[0],
        "purpose": "chat",
        "prompt_tokens": 3,
    }
    assert event.metadata["completion_tokens"] == 6
    assert event.metadata["parameters"] == {"temperature": 0.1, "max_tokens": 50}


def test_a_failed_call_is_recorded_as_a_failure_and_spends_nothing(world, model_server):
    model_server.server_error(500)

    with pytest.raises(ModelCallError) as raised:
        complete(world)

    assert raised.value.code == "upstream_error"
    call = ModelCall.objects.get()
    assert (call.state, call.error_code, call.tokens_reserved) == ("failed", "upstream_error", 0)
    [event] = call_events()
    assert (event.outcome, event.metadata["error"]) == ("failure", "upstream_error")
    assert ModelBudget.objects.get(project=world.project).tokens_used == 0


def test_a_call_never_asks_for_more_than_the_budget_has_left(world, model_server):
    model_budget_set(actor=world.owner, project=world.project, token_limit=25)
    complete(world)  # 9 tokens spent

    complete(world, parameters={"max_tokens": 500})

    assert model_server.completions[-1].body["max_tokens"] == 16


def test_a_used_up_budget_refuses_before_anything_leaves_and_says_so(world, model_server):
    model_budget_set(actor=world.owner, project=world.project, token_limit=9)
    complete(world)  # spends all 9

    with pytest.raises(ModelCallError) as raised:
        complete(world)

    assert (raised.value.code, raised.value.message) == ("budget_exhausted", "This project's model budget is used up.")
    assert len(model_server.completions) == 1
    assert ModelCall.objects.count() == 1
    assert [e.outcome for e in call_events()] == ["success", "denied"]
    assert call_events()[-1].metadata["error"] == "budget_exhausted"


def test_the_limit_of_calls_at_once_counts_running_calls_but_not_dead_ones(world, model_server):
    model_budget_set(actor=world.owner, project=world.project, max_concurrent=1)
    running = ModelCall.objects.create(
        connection=world.connection,
        project=world.project,
        purpose="chat",
        tokens_reserved=100,
        stale_after=timezone.now() + STALE_AFTER,
    )

    with pytest.raises(ModelCallError) as raised:
        complete(world)
    assert raised.value.code == "busy"
    assert model_server.completions == []

    # The process that made it was killed: once stale it no longer holds its place.
    ModelCall.objects.filter(pk=running.pk).update(stale_after=timezone.now())
    assert complete(world).finish_reason == "stop"


def test_a_disabled_connection_is_refused_on_the_trail(world, model_server):
    model_connection_update(actor=world.owner, connection=world.connection, enabled=False)

    with pytest.raises(ModelCallError) as raised:
        complete(world)

    assert raised.value.code == "disabled"
    assert model_server.completions == []
    assert [(e.outcome, e.metadata["error"]) for e in call_events()] == [("denied", "disabled")]


def _stream(world: Any) -> list[Any]:
    async def collect() -> list[Any]:
        events = generation_stream(
            actor=world.annotator,
            connection=world.connection,
            project=world.project,
            task=world.task,
            purpose="chat",
            messages=MESSAGES,
        )
        return [event async for event in events]

    # async_to_sync runs the coroutine on another thread and brings each database call back to this one, inside
    # the test's transaction, as Django does for an async view.
    return async_to_sync(collect)()


def test_a_streamed_call_is_recorded_once_it_has_finished(world):
    events = _stream(world)

    assert [type(e) for e in events] == [Delta] * 6 + [Finished]
    call = ModelCall.objects.get()
    assert call.state == CallState.SUCCEEDED
    assert call.ttft_ms is not None
    assert call.ttft_ms <= call.latency_ms
    assert [e.outcome for e in call_events()] == ["success"]


def test_a_stream_cut_mid_reply_is_recorded_as_failed_with_its_first_token_time(world, model_server):
    model_server.disconnect(after_chunks=3)

    with pytest.raises(ModelCallError) as raised:
        _stream(world)

    assert raised.value.code == "disconnected"
    call = ModelCall.objects.get()
    assert (call.state, call.error_code) == ("failed", "disconnected")
    assert call.ttft_ms is not None
    assert [(e.outcome, e.metadata["error"]) for e in call_events()] == [("failure", "disconnected")]
