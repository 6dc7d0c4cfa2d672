"""Every call to a model goes through here: the budget, the limit of calls at once, the ModelCall row, the trail.

A call is begun in one short transaction (the project's budget row locked: the limit of calls at once is checked
and a share of the allowance, the call's max_tokens, is reserved), made with no transaction open (a generation lasts
seconds), and ended in another short transaction (the row settled, the tokens spent added to the budget, and the
`model.call` event written: who, which task, which model and endpoint, the parameters, the token counts, the
latency and the outcome, since the task's data left the platform in it). A refusal before the call (budget used up,
too many calls running, connection disabled) is on the trail too, as `denied`.

The reservation caps the call's max_tokens at what the allowance has left, so a call can never overspend it. A row
left running by a killed process stops counting toward the limit and the reservation once its `stale_after` has
passed, so the budget heals by itself.
"""

import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.db.models import Count, F, Sum
from django.utils import timezone

from core.audit.context import ActorContext, actor_context, current_actor
from core.audit.record import Outcome, audit_record
from core.context import organization_context
from llm.client import (
    DEFAULT_MAX_TOKENS,
    Delta,
    Endpoint,
    Finished,
    ModelCallError,
    chat_complete,
    chat_stream,
    request_parameters,
)
from llm.models import CallPurpose, CallState, ModelBudget, ModelCall, ModelConnection
from llm.services.connections import budget_row_locked, connection_endpoint
from projects.models import Project, Task
from tenancy.models import Membership

logger = logging.getLogger(__name__)

# How long a running call holds its place before it is presumed dead (its process killed): longer than any
# generation the platform waits for.
STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class _Begun:
    call_id: int
    endpoint: Endpoint
    parameters: dict[str, Any]


@dataclass(frozen=True)
class _Call:
    """What one call is about, carried from its beginning to its end."""

    actor: Membership | None
    connection: ModelConnection
    project: Project
    task: Task | None
    purpose: str


def _metadata(about: _Call, parameters: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    endpoint_host = about.connection.base_url.split("://", 1)[-1].split("/", 1)[0]
    return {
        "connection": about.connection.name,
        "model": about.connection.model,
        "endpoint": endpoint_host,
        "purpose": about.purpose,
        "project": str(about.project.uuid),
        "task": str(about.task.uuid) if about.task is not None else None,
        "parameters": dict(parameters),
        **extra,
    }


def _target(call: _Call) -> Any:
    # The task when there is one: "who sent task X's data where" is then in the task's own history.
    return call.task if call.task is not None else call.project


def _refuse(call: _Call, parameters: Mapping[str, Any], error: ModelCallError) -> ModelCallError:
    audit_record(
        action="model.call",
        target=_target(call),
        outcome=Outcome.DENIED,
        metadata=_metadata(call, parameters, error=error.code),
    )
    return error


def _begin(call: _Call, overrides: Mapping[str, Any] | None) -> _Begun | ModelCallError:
    """Reserve the call's place and tokens, or record why it may not be made (the refusal is returned, not raised,
    so that its event commits with the transaction)."""
    if call.purpose not in CallPurpose.values:
        raise ValueError(f"unknown model call purpose {call.purpose!r}")
    endpoint = connection_endpoint(call.connection)
    parameters = request_parameters(endpoint, overrides)
    if not call.connection.enabled:
        return _refuse(call, parameters, ModelCallError("disabled", "This model connection is switched off."))
    now = timezone.now()
    budget = budget_row_locked(project=call.project)
    running = ModelCall.objects.filter(project=call.project, state=CallState.RUNNING, stale_after__gt=now)
    held = running.aggregate(calls=Count("id"), reserved=Sum("tokens_reserved"))
    max_tokens = int(parameters.get("max_tokens") or DEFAULT_MAX_TOKENS)
    if held["calls"] >= budget.max_concurrent:
        message = "This project has as many model calls running as it may; try again in a moment."
        return _refuse(call, parameters, ModelCallError("busy", message))
    if budget.token_limit is not None:
        left = budget.token_limit - budget.tokens_used - (held["reserved"] or 0)
        if left <= 0:
            return _refuse(
                call, parameters, ModelCallError("budget_exhausted", "This project's model budget is used up.")
            )
        max_tokens = min(max_tokens, left)
    parameters["max_tokens"] = max_tokens
    row = ModelCall.objects.create(
        connection=call.connection,
        project=call.project,
        task=call.task,
        member=call.actor,
        purpose=call.purpose,
        parameters=parameters,
        tokens_reserved=max_tokens,
        stale_after=now + STALE_AFTER,
    )
    return _Begun(call_id=row.pk, endpoint=endpoint, parameters=parameters)


def _in_tenant(organization_id: int, who: ActorContext, function: Any, *args: Any) -> Any:
    # Each phase of a call commits on its own when the caller holds no transaction, as it must not: inside one, the
    # budget row's lock would be held for the whole generation, and every other call of the project would wait.
    with actor_context(who), organization_context(organization_id):
        return function(*args)


def _begun(call: _Call, who: ActorContext, overrides: Mapping[str, Any] | None) -> _Begun:
    outcome = _in_tenant(call.connection.organization_id, who, _begin, call, overrides)
    if isinstance(outcome, ModelCallError):
        raise outcome
    return cast(_Begun, outcome)


def _end(call: _Call, begun: _Begun, result: Finished | ModelCallError, ttft_ms: float | None = None) -> None:
    finished = result if isinstance(result, Finished) else None
    spent = finished.prompt_tokens + finished.completion_tokens if finished else 0
    row = ModelCall.objects.select_for_update().get(pk=begun.call_id)
    row.state = CallState.SUCCEEDED if finished else CallState.FAILED
    row.tokens_reserved = 0
    if finished:
        row.prompt_tokens = finished.prompt_tokens
        row.completion_tokens = finished.completion_tokens
        row.ttft_ms = finished.ttft_ms
        row.latency_ms = finished.latency_ms
    else:
        row.ttft_ms = ttft_ms
        row.error_code = result.code if isinstance(result, ModelCallError) else ""
    row.finished_at = timezone.now()
    if row.latency_ms is None:
        row.latency_ms = (row.finished_at - row.created_at).total_seconds() * 1000
    row.save()
    if spent:
        ModelBudget.objects.filter(project=call.project).update(tokens_used=F("tokens_used") + spent)
    audit_record(
        action="model.call",
        target=_target(call),
        outcome=Outcome.SUCCESS if finished else Outcome.FAILURE,
        metadata=_metadata(
            call,
            begun.parameters,
            call=str(row.uuid),
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            ttft_ms=None if row.ttft_ms is None else round(row.ttft_ms, 1),
            latency_ms=round(row.latency_ms, 1),
            finish_reason=finished.finish_reason if finished else None,
            error=None if finished else row.error_code,
        ),
    )
    logger.info(
        "model.call",
        extra={"call_id": begun.call_id, "outcome": row.state, "tokens": spent, "latency_ms": row.latency_ms},
    )


def generation_complete(
    *,
    actor: Membership | None,
    connection: ModelConnection,
    project: Project,
    task: Task | None,
    purpose: str,
    messages: Sequence[Mapping[str, str]],
    parameters: Mapping[str, Any] | None = None,
) -> Finished:
    """One whole reply (Celery jobs, sync code), inside the budget and on the trail. Raises ModelCallError.

    Call it with no transaction open: it commits the call's beginning and its end on its own, in the connection's
    organization. Finished.call_id (and ModelCallError.call_id once the call was made) names the ModelCall row."""
    call = _Call(actor, connection, project, task, purpose)
    who = current_actor()
    begun = _begun(call, who, parameters)
    try:
        finished = chat_complete(begun.endpoint, messages, begun.parameters)
    except ModelCallError as exc:
        _in_tenant(connection.organization_id, who, _end, call, begun, exc)
        exc.call_id = begun.call_id
        raise
    _in_tenant(connection.organization_id, who, _end, call, begun, finished)
    return replace(finished, call_id=begun.call_id)


def generation_stream(
    *,
    actor: Membership | None,
    connection: ModelConnection,
    project: Project,
    task: Task | None,
    purpose: str,
    messages: Sequence[Mapping[str, str]],
    parameters: Mapping[str, Any] | None = None,
) -> AsyncIterator[Delta | Finished]:
    """A reply streamed piece by piece (async views), inside the budget and on the trail. Raises ModelCallError.

    Who is acting is read now, when the stream is asked for (inside the request); the stream itself runs later,
    after the view has returned, so it carries the actor and the organization into each short transaction itself.
    """
    call = _Call(actor, connection, project, task, purpose)
    return _stream(call, current_actor(), messages, parameters)


async def _stream(
    call: _Call, who: ActorContext, messages: Sequence[Mapping[str, str]], parameters: Mapping[str, Any] | None
) -> AsyncIterator[Delta | Finished]:
    organization_id = call.connection.organization_id
    begun: _Begun = await sync_to_async(_begun)(call, who, parameters)
    first_at: float | None = None
    started = time.monotonic()

    def ttft() -> float | None:
        return None if first_at is None else (first_at - started) * 1000

    try:
        async for event in chat_stream(begun.endpoint, messages, begun.parameters):
            if isinstance(event, Delta) and first_at is None:
                first_at = time.monotonic()
            if isinstance(event, Finished):
                await sync_to_async(_in_tenant)(organization_id, who, _end, call, begun, event)
                event = replace(event, call_id=begun.call_id)
            yield event
    except ModelCallError as exc:
        await sync_to_async(_in_tenant)(organization_id, who, _end, call, begun, exc, ttft())
        exc.call_id = begun.call_id
        raise
    except BaseException:
        # The person went away (the browser closed the stream) or the server is stopping: the call ends as a
        # failure on the trail.
        cancelled = ModelCallError("cancelled", "The call was cancelled.")
        await sync_to_async(_in_tenant)(organization_id, who, _end, call, begun, cancelled, ttft())
        raise
