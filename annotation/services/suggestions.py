"""Writes of suggestion jobs: a model suggests answers for a project's open tasks, which annotators then find
pre-filled. Starting (or resuming) a job records its audit event and queues its run after commit; the run
(`suggestion_job_run`, called by the worker) asks the model task by task.

Each task is one short transaction of the job's tenant: the model call (llm.services.calls, which holds the
budget, the limit of calls at once, the ModelCall row and the `model.call` event), the task's new suggestions
merged into those it has, and the job's counts and checkpoint. A killed worker loses at most the task in flight,
and the next run goes on after the checkpoint. A run walks every open task again: one that already has this job's
suggestion for every field is passed over (counted as skipped), so a resumed job pays only for what is left, and
retries the tasks that failed before.

A reply that is not valid suggestions (not JSON, a value the schema refuses) is asked for once more, with the
problems named; a second bad reply fails that task. The project's budget running out pauses the job, to be resumed
once the budget is raised; a switched-off or refused connection fails it; other call failures (a timeout, an
upstream error) fail the task at hand, and too many calls at once (or a rate limit) end the run's time slice early,
for the worker to continue a little later.
"""

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from annotation import permissions
from annotation.models import SuggestionJob, SuggestionJobState
from annotation.quality.prompts import MissingData, instructions, prompt_errors, prompt_render, reply_suggestions
from core.audit.record import Outcome, audit_record
from core.context import organization_context
from core.db import sql_statement
from core.enqueue import enqueue_on_commit
from core.errors import Conflict, ErrorList
from llm.client import ModelCallError
from llm.models import CallPurpose, ModelConnection
from llm.selectors import connection_get
from llm.services.calls import generation_complete
from projects.label_schema.fields import LabelSchema
from projects.label_schema.suggestions import AGENT_MAX_LENGTH
from projects.models import Project, Task
from projects.services.schema_versions import project_schema
from tenancy.models import Membership
from tenancy.permissions import check

logger = logging.getLogger(__name__)

RUN_TASK = "suggestions.generate"
ERRORS_KEPT = 100
BATCH = 50
# A run's time slice: the worker queues the next one while tasks remain, so no message outlives the broker's
# visibility timeout however large the project.
SLICE_SECONDS = 300.0
# How long a run waits before going on when the project had too many model calls running, or a rate limit.
BUSY_WAIT_SECONDS = 10.0
_OPEN_STATES = (SuggestionJobState.PENDING, SuggestionJobState.RUNNING)
_RESUMABLE = (SuggestionJobState.PAUSED, SuggestionJobState.FAILED)
# A refusal no later call of this job would escape: the job fails, naming it.
_JOB_FATAL = frozenset({"disabled", "refused"})
_WAIT = frozenset({"busy", "rate_limited"})
BUDGET_PAUSE = "paused: budget used up"

# A task's new suggestions merged into those it has, field by field, whatever an import wrote meanwhile.
# Index: the primary key.
_TASK_SUGGESTIONS_MERGE = sql_statement(
    """
    UPDATE {tasks}
       SET suggestions = suggestions || %(entries)s::jsonb
     WHERE id = %(task)s
       AND organization_id = %(organization)s
    """,
    tasks=Task,
)


def open_tasks(project: Project) -> Any:
    """The tasks a job suggests for: those still waiting for answers, and every gold task (a gold task without the
    suggestions its neighbours have would stand out to annotators)."""
    return Task.objects.filter(project=project).filter(Q(done__lt=F("overlap")) | Q(is_gold=True))


def _clean_fields(schema: LabelSchema | None, fields: Any, errors: ErrorList) -> list[str]:
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f.strip() for f in fields):
        errors.add("fields", "Must be a non-empty list of field names.", "invalid")
        return []
    if len(set(fields)) != len(fields):
        errors.add("fields", "A field is named twice.", "duplicate")
    if schema is None:
        # A project without a schema takes free-form results: any names, any JSON values, suggestions alike.
        return list(dict.fromkeys(fields))
    unknown = [f for f in fields if schema.get(f) is None]
    for name in unknown:
        errors.add("fields", f"The schema has no field {name!r}.", "unknown_field")
    # In the schema's order, whatever the request's: the prompt and the stored job read the same either way.
    return [name for name in schema.names if name in fields]


def suggestion_job_start(
    *,
    actor: Membership,
    project: Project,
    connection: Any,
    fields: Any,
    prompt: Any,
    agent: Any = "",
) -> SuggestionJob:
    """Start a job: the model behind `connection` (a connection's id) suggests `fields` for the project's open
    tasks, asked with `prompt` filled from each task's data. `agent` names the suggestions (the model by default)."""
    check(permissions.suggestion_generate(actor))
    errors = ErrorList()
    chosen = _clean_fields(project_schema(project), fields, errors)
    errors.items.extend(prompt_errors(prompt))
    model_connection = connection_get(uuid=str(connection)) if isinstance(connection, str) else None
    if model_connection is None:
        errors.add("connection", "No model connection of the organization has this id.", "not_found")
    elif not model_connection.enabled:
        errors.add("connection", "This model connection is switched off.", "disabled")
    if not isinstance(agent, str) or len(agent) > AGENT_MAX_LENGTH:
        errors.add("agent", f"Must be a text of at most {AGENT_MAX_LENGTH} characters.", "invalid")
    errors.raise_if_any()
    assert model_connection is not None
    with transaction.atomic():
        job = SuggestionJob.objects.create(
            project=project,
            created_by=actor,
            connection=model_connection,
            fields=chosen,
            prompt=prompt,
            agent=agent.strip() or model_connection.model,
            total=open_tasks(project).count(),
        )
        audit_record(
            action="suggestion.job_start",
            target=job,
            metadata={
                "project": str(project.uuid),
                "connection": model_connection.name,
                "model": model_connection.model,
                "fields": chosen,
                "agent": job.agent,
                "tasks": job.total,
            },
        )
        enqueue_on_commit(RUN_TASK, job.organization_id, job.pk)
    return job


def suggestion_job_resume(*, actor: Membership, job: SuggestionJob) -> SuggestionJob:
    """Run a paused (or failed) job again: it passes over the tasks it has suggested for, and does the rest."""
    check(permissions.suggestion_generate(actor))
    with transaction.atomic():
        job = SuggestionJob.objects.select_for_update().get(pk=job.pk)
        if job.state not in _RESUMABLE:
            raise Conflict(f"Only a paused or failed job can be resumed; this one is {job.state}.")
        job.state = SuggestionJobState.PENDING
        job.message = ""
        job.finished_at = None
        job.save(update_fields=["state", "message", "finished_at", "updated_at"])
        audit_record(action="suggestion.job_start", target=job, metadata={"resumed": True, "agent": job.agent})
        enqueue_on_commit(RUN_TASK, job.organization_id, job.pk)
    return job


@dataclass(frozen=True)
class RunOutcome:
    finished: bool  # False: the slice ended with tasks left; the worker queues the next one
    wait_seconds: float = 0.0  # how long the next slice should wait (the project's calls were busy)


@dataclass(frozen=True)
class _TaskOutcome:
    entries: dict[str, Any] | None  # the suggestions to store, None when the task failed
    tokens: int
    error: dict[str, Any] | None = None


class _StopJob(Exception):
    """The job cannot go on now: paused (budget) or failed (the connection refuses)."""

    def __init__(self, state: str, message: str, code: str) -> None:
        super().__init__(message)
        self.state, self.message, self.code = state, message, code


class _Wait(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _begin(job_id: int) -> SuggestionJob | None:
    """Mark the job running (a new run of a pending job starts its counts over); None when it is not open."""
    job = SuggestionJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None or job.state not in _OPEN_STATES:
        return None
    if job.state == SuggestionJobState.PENDING:
        job.state = SuggestionJobState.RUNNING
        job.started_at = timezone.now()
        job.total = open_tasks(job.project).count()
        job.done_count = job.failed_count = job.skipped_count = 0
        job.errors = []
        job.checkpoint = 0
        job.save()
    return job


def suggestion_job_run(*, organization_id: int, job_id: int, slice_seconds: float = SLICE_SECONDS) -> RunOutcome:
    """Work on a job for up to `slice_seconds`, a task per transaction; resumable. Called outside any transaction
    and tenant context (each step enters the job's tenant itself)."""
    deadline = time.monotonic() + slice_seconds
    with organization_context(organization_id):
        job = _begin(job_id)
        if job is None:
            return RunOutcome(finished=True)
        project, model_connection = job.project, job.connection
        schema = project_schema(project)
    if schema is not None and any(schema.get(name) is None for name in job.fields):
        with organization_context(organization_id):
            gone = _StopJob(SuggestionJobState.FAILED, "The project's schema no longer has these fields.", "schema")
            _stop(job, gone)
        return RunOutcome(finished=True)
    while True:
        with organization_context(organization_id):
            batch = list(open_tasks(project).filter(id__gt=job.checkpoint).order_by("id")[:BATCH])
        if not batch:
            with organization_context(organization_id):
                _finish(job)
            return RunOutcome(finished=True)
        for task in batch:
            if time.monotonic() >= deadline:
                return RunOutcome(finished=False)
            # The model is asked with no transaction open (generation_complete commits the call and its event, a
            # refusal included, on its own); what it gave is then stored in a short transaction of its own.
            outcome = None
            if not _has_own(job, task):
                try:
                    outcome = _ask(job, project, model_connection, schema, task)
                except _Wait as wait:
                    return RunOutcome(finished=False, wait_seconds=wait.seconds)
                except _StopJob as stop:
                    with organization_context(organization_id):
                        _stop(job, stop)
                    return RunOutcome(finished=True)
            with organization_context(organization_id):
                _store(job, task, outcome)


def suggestion_job_abandon(*, organization_id: int, job_id: int, message: str) -> None:
    """Fail a job whose run keeps crashing (the worker gave up); the suggestions it stored stay. Resumable."""
    with organization_context(organization_id):
        job = SuggestionJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state not in _OPEN_STATES:
            return
        _stop(job, _StopJob(SuggestionJobState.FAILED, message[:1000], "crashed"))


def _has_own(job: SuggestionJob, task: Task) -> bool:
    own = str(job.uuid)
    return all(isinstance(e := task.suggestions.get(name), dict) and e.get("job") == own for name in job.fields)


def _store(job: SuggestionJob, task: Task, outcome: "_TaskOutcome | None") -> None:
    """Record one task's outcome in the caller's transaction: skipped (it has this job's suggestions already), or
    the model's suggestions merged into the task's, or the failure."""
    if outcome is None:
        _record(job, task, skipped=True)
        return
    if outcome.entries is not None:
        with db_connection.cursor() as cursor:
            cursor.execute(
                _TASK_SUGGESTIONS_MERGE,
                {"entries": json.dumps(outcome.entries), "task": task.pk, "organization": task.organization_id},
            )
    _record(job, task, tokens=outcome.tokens, error=outcome.error, done=outcome.entries is not None)


def _record(
    job: SuggestionJob,
    task: Task,
    *,
    skipped: bool = False,
    done: bool = False,
    tokens: int = 0,
    error: dict[str, Any] | None = None,
) -> None:
    job.checkpoint = task.pk
    job.tokens += tokens
    if skipped:
        job.skipped_count += 1
    elif done:
        job.done_count += 1
    else:
        job.failed_count += 1
        if error is not None and len(job.errors) < ERRORS_KEPT:
            job.errors = [*job.errors, error]
    job.save(
        update_fields=[
            "checkpoint",
            "tokens",
            "skipped_count",
            "done_count",
            "failed_count",
            "errors",
            "updated_at",
        ]
    )


def _ask(
    job: SuggestionJob, project: Project, model_connection: ModelConnection, schema: LabelSchema | None, task: Task
) -> _TaskOutcome:
    """The model's suggestions for one task: asked once, and once more if the first reply is not usable."""
    try:
        prompt = prompt_render(job.prompt, task.data)
    except MissingData as exc:
        return _TaskOutcome(None, 0, _error(task, "missing_data", str(exc)))
    messages = [
        {"role": "system", "content": instructions(schema, job.fields)},
        {"role": "user", "content": prompt},
    ]
    tokens = 0
    problems: list[str] = []
    for attempt in (1, 2):
        try:
            finished = generation_complete(
                actor=None,
                connection=model_connection,
                project=project,
                task=task,
                purpose=CallPurpose.SUGGESTION,
                messages=messages,
            )
        except ModelCallError as exc:
            if exc.code == "budget_exhausted":
                raise _StopJob(SuggestionJobState.PAUSED, BUDGET_PAUSE, exc.code) from exc
            if exc.code in _JOB_FATAL:
                raise _StopJob(SuggestionJobState.FAILED, exc.message, exc.code) from exc
            if exc.code in _WAIT:
                raise _Wait(exc.retry_after or BUSY_WAIT_SECONDS) from exc
            return _TaskOutcome(None, tokens, _error(task, exc.code, exc.message))
        tokens += finished.prompt_tokens + finished.completion_tokens
        values, problems = reply_suggestions(schema, job.fields, finished.text, task.data)
        if not problems:
            own = str(job.uuid)
            entries = {name: {"value": values[name], "agent": job.agent, "score": None, "job": own} for name in values}
            return _TaskOutcome(entries, tokens)
        if attempt == 1:
            messages = [
                *messages,
                {"role": "assistant", "content": finished.text},
                {
                    "role": "user",
                    "content": "That reply cannot be used: "
                    + " ".join(problems)
                    + " Reply again with only the JSON object.",
                },
            ]
    return _TaskOutcome(None, tokens, _error(task, "invalid_output", " ".join(problems)))


def _error(task: Task, code: str, message: str) -> dict[str, Any]:
    return {"task": task.external_id, "code": code, "message": message[:500]}


def _stop(job: SuggestionJob, stop: _StopJob) -> None:
    job.state = stop.state
    job.message = stop.message
    if stop.state == SuggestionJobState.FAILED:
        job.finished_at = timezone.now()
    job.save(update_fields=["state", "message", "finished_at", "updated_at"])
    paused = stop.state == SuggestionJobState.PAUSED
    audit_record(
        action="suggestion.job_pause" if paused else "suggestion.job_finish",
        target=job,
        outcome=Outcome.SUCCESS if paused else Outcome.FAILURE,
        metadata={**_counts(job), "reason": stop.code},
    )
    logger.info("suggestion_job.stopped", extra={"job_id": job.pk, "state": job.state, "reason": stop.code})


def _finish(job: SuggestionJob) -> None:
    job.state = SuggestionJobState.SUCCEEDED
    job.finished_at = timezone.now()
    job.message = (
        f"{job.done_count} suggested, {job.failed_count} failed, {job.skipped_count} had this job's suggestions."
    )
    job.save(update_fields=["state", "finished_at", "message", "updated_at"])
    audit_record(action="suggestion.job_finish", target=job, metadata=_counts(job))


def _counts(job: SuggestionJob) -> dict[str, Any]:
    return {
        "total": job.total,
        "done": job.done_count,
        "failed": job.failed_count,
        "skipped": job.skipped_count,
        "tokens": job.tokens,
    }
