"""Running a judge run (the `llm.judge_run` task): the project's answered tasks in order of id, one at a time.

The model call is made in a transaction of its own (so its ModelCall row and `model.call` event stay on the trail
whatever happens next), then the verdict and the run's counters are written in another. A task with a verdict in
the run is never judged again, so a run resumed, sliced or redelivered carries on where it stopped.

Failures are classified by the call's code: a budget used up pauses the run until someone raises it and resumes;
a switched-off or refused connection fails the run (every task would fail alike); transient codes are retried a few
times with a short wait, then the task is recorded as failed and the run goes on, unless too many fail in a row.
"""

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection as db_connection
from django.db.models import F
from django.utils import timezone

from core.audit.record import Outcome, audit_record
from core.context import organization_context
from llm.client import ModelCallError
from llm.judge_prompt import JudgedField, errors_text, follow_up_message, judge_messages, reply_check
from llm.models import CallPurpose, JudgeRun, JudgeRunState, JudgeVerdict
from llm.services.calls import generation_complete
from llm.services.judge import judge_counts, judge_pending, run_fields
from projects.models import Task

logger = logging.getLogger(__name__)

# Tasks read per query; each is still judged and recorded on its own.
BATCH_SIZE = 50
# A slice of the run per Celery message, well inside the task's time limit; the next slice is queued after it.
SLICE_SECONDS = 240.0
# Retries of one call whose failure is transient (timeout, rate limit, upstream error…), with a short wait each.
TRANSIENT_RETRIES = 3
TRANSIENT_BACKOFF_SECONDS = 1.0
TRANSIENT_BACKOFF_MAX_SECONDS = 15.0
# After this many tasks failing in a row the model is presumed down and the run fails rather than burn through.
CONSECUTIVE_FAILURES_MAX = 5
# The run keeps its first problems, enough to see what went wrong without growing with the project.
ERRORS_KEPT = 20
# Codes that would fail every task alike: the run stops with the reason instead of failing task after task.
_RUN_STOPPERS = frozenset({"disabled", "refused"})
BUDGET_PAUSE_REASON = (
    "The project's model budget is used up. Raise the budget, then resume the run: it continues with the tasks "
    "not judged yet."
)


# Held by the worker running a run for as long as it runs it: a redelivered message for the same run returns at
# once instead of judging beside it. Session-level, so it outlives the short transactions of the run and goes with
# a dead worker's connection. Two 32-bit halves, as workers.base does.
_RUN_LOCK = "SELECT pg_try_advisory_lock(hashtext('llm.judge_run'), hashtext(%(run_id)s::text))"
_RUN_UNLOCK = "SELECT pg_advisory_unlock(hashtext('llm.judge_run'), hashtext(%(run_id)s::text))"


@contextmanager
def _run_lock(run_id: int) -> Iterator[bool]:
    with db_connection.cursor() as cursor:
        cursor.execute(_RUN_LOCK, {"run_id": run_id})
        row = cursor.fetchone()
    held = bool(row and row[0])
    try:
        yield held
    finally:
        if held:
            with db_connection.cursor() as cursor:
                cursor.execute(_RUN_UNLOCK, {"run_id": run_id})


class _Stop(Exception):
    """The run cannot go on: paused (the budget) or failed (the connection), with the reason."""

    def __init__(self, state: str, reason: str, code: str) -> None:
        super().__init__(reason)
        self.state = state
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class _Outcome:
    """What judging one task gave: a valid result, an invalid one with its errors, or a failed call."""

    kind: str  # "judged" | "invalid" | "failed"
    result: dict[str, Any] | None
    error: str
    attempts: int
    call_id: int | None


def _call_once(
    run: JudgeRun, task: Task, messages: Sequence[dict[str, str]]
) -> tuple[str | None, int | None, ModelCallError | None]:
    """One model call; generation_complete commits the call's row and `model.call` event itself, whatever the run
    does next. Returns (reply text, ModelCall id, None) or (None, id or None, the error)."""
    try:
        finished = generation_complete(
            actor=run.created_by,
            connection=run.connection,
            project=run.project,
            task=task,
            purpose=CallPurpose.JUDGE,
            messages=messages,
        )
    except ModelCallError as exc:
        return None, exc.call_id, exc
    return finished.text, finished.call_id, None


def _call(
    run: JudgeRun, task: Task, messages: Sequence[dict[str, str]]
) -> tuple[str | None, int | None, ModelCallError | None, int]:
    """A call retried while its failure is transient; returns the last outcome and the calls made."""
    calls = 0
    while True:
        text, call_id, error = _call_once(run, task, messages)
        calls += 1
        if error is None or not error.transient or calls > TRANSIENT_RETRIES:
            return text, call_id, error, calls
        wait = error.retry_after if error.retry_after is not None else TRANSIENT_BACKOFF_SECONDS * 2 ** (calls - 1)
        time.sleep(max(0.0, min(wait, TRANSIENT_BACKOFF_MAX_SECONDS)))


def _judge_task(run: JudgeRun, task: Task, fields: Sequence[JudgedField]) -> _Outcome:
    messages = judge_messages(
        fields=fields, guidelines=run.project.guidelines or "", task_data=task.data, instruction=run.instruction
    )
    attempts = 0
    last_result: dict[str, Any] | None = None
    last_errors = ""
    last_call: int | None = None
    # The first reply, and one correction with the problems named: a model that cannot fit the schema twice is
    # recorded as invalid rather than asked forever.
    for round_ in range(2):
        text, call_id, error, calls = _call(run, task, messages)
        attempts += calls
        last_call = call_id or last_call
        if error is not None:
            if error.code == "budget_exhausted":
                raise _Stop(JudgeRunState.PAUSED, BUDGET_PAUSE_REASON, error.code)
            if error.code in _RUN_STOPPERS:
                raise _Stop(JudgeRunState.FAILED, f"The model connection refused the call: {error.message}", error.code)
            return _Outcome("failed", None, f"{error.code}: {error.message}", attempts, last_call)
        assert text is not None
        checked = reply_check(text, fields=fields, task_data=task.data if isinstance(task.data, dict) else {})
        if checked.valid:
            return _Outcome("judged", checked.result, "", attempts, call_id)
        last_result, last_errors = checked.result, errors_text(checked.errors)
        if round_ == 0:
            messages = [*messages, {"role": "assistant", "content": text}, follow_up_message(checked.errors)]
    return _Outcome("invalid", last_result, last_errors, attempts, last_call)


def _record(run_id: int, organization_id: int, task: Task, outcome: _Outcome) -> str:
    """Write the task's verdict and the run's counters in one transaction; returns the run's state now."""
    with organization_context(organization_id):
        run = JudgeRun.objects.select_for_update().get(pk=run_id)
        if JudgeVerdict.objects.filter(run=run, task=task).exists():
            return str(run.state)  # judged meanwhile by a run this worker does not know of: the first verdict stands
        JudgeVerdict.objects.create(
            run=run,
            task=task,
            result=outcome.result,
            valid=outcome.kind == "judged",
            attempts=outcome.attempts,
            error=outcome.error,
            call_id=outcome.call_id,
        )
        updates: dict[str, Any] = {outcome.kind: F(outcome.kind) + 1, "updated_at": timezone.now()}
        if outcome.kind != "judged" and len(run.errors) < ERRORS_KEPT:
            updates["errors"] = [*run.errors, {"task": task.external_id, "error": outcome.error[:500]}]
        JudgeRun.objects.filter(pk=run.pk).update(**updates)
        return str(run.state)


def _stop(run_id: int, organization_id: int, state: str, reason: str, code: str) -> str:
    with organization_context(organization_id):
        run = JudgeRun.objects.select_for_update().get(pk=run_id)
        if run.state != JudgeRunState.RUNNING:
            return str(run.state)  # cancelled meanwhile: that stands
        run.state = state
        run.reason = reason
        run.finished_at = timezone.now() if state == JudgeRunState.FAILED else None
        run.save(update_fields=["state", "reason", "finished_at", "updated_at"])
        changes = {"state": [JudgeRunState.RUNNING, state]}
        metadata = {**judge_counts(run), "reason": reason, "error": code}
        if state == JudgeRunState.PAUSED:
            audit_record(action="judge_run.pause", target=run, changes=changes, metadata=metadata)
        else:
            audit_record(
                action="judge_run.fail", target=run, outcome=Outcome.FAILURE, changes=changes, metadata=metadata
            )
    logger.info("judge_run.stopped", extra={"run_id": run_id, "state": state, "cause": code})
    return state


def _begin(run_id: int, organization_id: int) -> JudgeRun | None:
    """Mark a pending run running (its total recounted: a resumed run may find new answered tasks); None when the
    run is gone or not one to run."""
    with organization_context(organization_id):
        run = (
            JudgeRun.objects.select_for_update(of=("self",))
            .select_related("project", "connection", "created_by")
            .filter(pk=run_id)
            .first()
        )
        if run is None or run.state not in (JudgeRunState.PENDING, JudgeRunState.RUNNING):
            return None
        if run.state == JudgeRunState.PENDING:
            run.state = JudgeRunState.RUNNING
            run.started_at = run.started_at or timezone.now()
            run.total = run.processed + judge_pending(run).count()
            run.save(update_fields=["state", "started_at", "total", "updated_at"])
        return run


def _finish(run_id: int, organization_id: int) -> str:
    with organization_context(organization_id):
        run = JudgeRun.objects.select_for_update().get(pk=run_id)
        if run.state != JudgeRunState.RUNNING:
            return str(run.state)
        run.state = JudgeRunState.SUCCEEDED
        run.finished_at = timezone.now()
        run.save(update_fields=["state", "finished_at", "updated_at"])
        audit_record(
            action="judge_run.finish",
            target=run,
            changes={"state": [JudgeRunState.RUNNING, run.state]},
            metadata=judge_counts(run),
        )
    logger.info("judge_run.finished", extra={"run_id": run_id, "judged": run.judged, "invalid": run.invalid})
    return str(run.state)


def judge_run_execute(*, organization_id: int, run_id: int, seconds: float = SLICE_SECONDS) -> str:
    """Judge the run's remaining tasks for up to `seconds`; returns the run's state, "continued" when tasks remain
    for the next slice, "held" when another worker runs it, "missing" when it is gone."""
    deadline = time.monotonic() + seconds
    with _run_lock(run_id) as held:
        if not held:
            return "held"
        run = _begin(run_id, organization_id)
        if run is None:
            with organization_context(organization_id):
                state = JudgeRun.objects.filter(pk=run_id).values_list("state", flat=True).first()
            return str(state or "missing")
        fields = run_fields(run)
        if not fields:
            return _stop(
                run_id,
                organization_id,
                JudgeRunState.FAILED,
                "None of the run's fields is in the schema any more.",
                "schema",
            )
        failures_in_a_row = 0
        while True:
            with organization_context(organization_id):
                batch = list(judge_pending(run)[:BATCH_SIZE])
            if not batch:
                return _finish(run_id, organization_id)
            for task in batch:
                if time.monotonic() >= deadline:
                    return "continued"
                try:
                    outcome = _judge_task(run, task, fields)
                except _Stop as stop:
                    return _stop(run_id, organization_id, stop.state, stop.reason, stop.code)
                state = _record(run_id, organization_id, task, outcome)
                if state != JudgeRunState.RUNNING:
                    return state  # cancelled while the task was judged
                failures_in_a_row = failures_in_a_row + 1 if outcome.kind == "failed" else 0
                if failures_in_a_row >= CONSECUTIVE_FAILURES_MAX:
                    reason = (
                        f"The model failed on {failures_in_a_row} tasks in a row; the last error: {outcome.error}. "
                        "Resume the run once the model answers again."
                    )
                    return _stop(run_id, organization_id, JudgeRunState.FAILED, reason, "failures")


def judge_run_abandon(*, organization_id: int, run_id: int, message: str) -> None:
    """Fail a run its worker could not carry on (an error no retry fixes), with the reason, unless it has ended."""
    with organization_context(organization_id):
        run = JudgeRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.state not in (JudgeRunState.PENDING, JudgeRunState.RUNNING):
            return
        previous = run.state
        run.state = JudgeRunState.FAILED
        run.reason = message
        run.finished_at = timezone.now()
        run.save(update_fields=["state", "reason", "finished_at", "updated_at"])
        audit_record(
            action="judge_run.fail",
            target=run,
            outcome=Outcome.FAILURE,
            changes={"state": [previous, run.state]},
            metadata={**judge_counts(run), "reason": message},
        )
