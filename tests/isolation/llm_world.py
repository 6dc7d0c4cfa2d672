"""The models-in-the-loop part of a populated tenant: two model connections (one never called, so it may be
deleted; one with a finished call on record), and the project's model budget."""

from types import SimpleNamespace

from django.utils import timezone

from llm.models import CallState, ModelCall
from llm.services.connections import model_budget_set, model_connection_create

# A public address given literally: vetted without a DNS lookup, and never contacted by these suites.
MODEL_ENDPOINT = "http://93.184.216.34:8000/v1"


def populate_llm(world: SimpleNamespace) -> None:
    """`model_connection` (unused), `model_connection_used` with `model_call`, and the project's budget."""
    world.model_connection = model_connection_create(
        actor=world.owner,
        name=f"{world.prefix} model",
        base_url=MODEL_ENDPOINT,
        model=f"{world.prefix}-model-7b",
        api_key=f"{world.prefix}-model-key",
    )
    world.model_connection_used = model_connection_create(
        actor=world.owner, name=f"{world.prefix} used model", base_url=MODEL_ENDPOINT, model=f"{world.prefix}-70b"
    )
    world.model_budget = model_budget_set(actor=world.owner, project=world.project, token_limit=100_000)
    # A call as the service leaves one once it has finished (the suites never reach a model server).
    world.model_call = ModelCall.objects.create(
        connection=world.model_connection_used,
        project=world.project,
        task=world.task,
        member=world.owner,
        purpose="chat",
        state=CallState.SUCCEEDED,
        parameters={"max_tokens": 64},
        prompt_tokens=12,
        completion_tokens=30,
        latency_ms=420.0,
        stale_after=timezone.now(),
        finished_at=timezone.now(),
    )
