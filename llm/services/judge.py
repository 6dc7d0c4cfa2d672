"""Judge runs: a model answers some of a project's label fields on the tasks experts answered, to be measured against
them (annotation.selectors.judge compares the two).

Starting, resuming and cancelling a run are short writes, each on the trail; the run itself is queued once the
write commits and runs in the background (llm.services.judge_runner). Verdicts are rows of their own, never
annotations: they take no assignment and count toward no overlap, queue or export.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from core.audit.record import audit_record
from core.enqueue import enqueue_on_commit
from core.errors import Conflict, ErrorList, InvalidInput
from llm import permissions
from llm.judge_prompt import INSTRUCTION_MAX_CHARS, JUDGED_TYPES, FreeFormField, JudgedField
from llm.models import JudgeRun, JudgeRunState, JudgeVerdict, ModelConnection
from projects.label_schema import Field
from projects.models import Project, Task
from projects.services.schema_versions import project_schema
from tenancy.models import Membership
from tenancy.permissions import check

JUDGE_TASK_NAME = "llm.judge_run"
UNFINISHED = (JudgeRunState.PENDING, JudgeRunState.RUNNING, JudgeRunState.PAUSED)


# --- fields ----------------------------------------------------------------------------------------------------


def judge_fields_available(*, project: Project) -> list[Field]:
    """The fields of the project's schema a judge can answer, in schema order; a field shown only after another
    field's answer is included only when that field is too."""
    schema = project_schema(project)
    if schema is None:
        return []
    chosen: list[Field] = []
    names: set[str] = set()
    for field in schema:
        if field.type in JUDGED_TYPES and (field.when is None or field.when.field in names):
            chosen.append(field)
            names.add(field.name)
    return chosen


def _fields_clean(project: Project, names: Any) -> list[JudgedField]:
    """The named fields (all the judge can answer when none are named), or InvalidInput naming each bad one."""
    available = judge_fields_available(project=project)
    schema = project_schema(project)
    if names is None or names == []:
        if not available:
            what = "no label schema: name the fields" if schema is None else "no field a judge can answer"
            raise InvalidInput(
                "The run has nothing to judge.",
                errors=_one("fields", f"The project has {what} ({', '.join(JUDGED_TYPES)}).", "empty"),
            )
        return list(available)
    errors = ErrorList()
    if not isinstance(names, list) or not all(isinstance(n, str) and 0 < len(n.strip()) <= 64 for n in names):
        errors.add("fields", "Must be a list of field names.", "invalid_type")
        errors.raise_if_any("The run is invalid.")
    if schema is None:
        # Results are free-form JSON on a project without a schema, the judge's as the annotators': any names.
        if len(set(names)) != len(names):
            errors.add("fields", "A field is named twice.", "duplicate")
        errors.raise_if_any("The run is invalid.")
        return [FreeFormField(name) for name in names]
    chosen: set[str] = set()
    for index, name in enumerate(names):
        field = schema.get(name)
        where = f"fields[{index}]"
        if field is None:
            errors.add(where, f"The project's schema has no field {name!r}.", "unknown_field")
        elif field.type not in JUDGED_TYPES:
            errors.add(
                where,
                f"A judge cannot answer a {field.type} field; it answers {', '.join(JUDGED_TYPES)}.",
                "unsupported",
            )
        elif name in chosen:
            errors.add(where, f"{name!r} is named twice.", "duplicate")
        else:
            chosen.add(name)
    if not errors:
        for index, name in enumerate(names):
            field = schema.get(name)
            if field is not None and field.when is not None and field.when.field not in chosen:
                errors.add(
                    f"fields[{index}]",
                    f"{name!r} is only answered depending on {field.when.field!r}: judge that field too.",
                    "depends",
                )
    errors.raise_if_any("The run is invalid.")
    return [f for f in available if f.name in chosen]


def _one(path: str, message: str, code: str) -> list[Any]:
    errors = ErrorList()
    errors.add(path, message, code)
    return errors.items


def run_fields(run: JudgeRun) -> list[JudgedField]:
    """The run's fields as the project's schema defines them now (the run's version when nothing changed since)."""
    schema = project_schema(run.project)
    if schema is None:
        return [FreeFormField(name) for name in run.fields]
    return [f for f in schema if f.name in set(run.fields)]


# --- start, resume, cancel --------------------------------------------------------------------------------------


def judge_counts(run: JudgeRun) -> dict[str, Any]:
    """What the trail records of a run's progress."""
    return {"total": run.total, "judged": run.judged, "invalid": run.invalid, "failed": run.failed}


def judge_run_start(
    *,
    actor: Membership,
    project: Project,
    connection: ModelConnection | None,
    fields: list[str] | None = None,
    instruction: str = "",
) -> JudgeRun:
    """Have `connection`'s model judge the project's answered tasks on `fields` (every field it can answer when
    None); the run is queued once this commits. A missing connection is refused like another organization's."""
    check(permissions.judge_run(actor))
    errors = ErrorList()
    if connection is None:
        errors.add("connection", "No such model connection.", "not_found")
    elif not connection.enabled:
        errors.add("connection", "This model connection is switched off.", "disabled")
    if not isinstance(instruction, str) or len(instruction) > INSTRUCTION_MAX_CHARS:
        errors.add("instruction", f"Must be text of at most {INSTRUCTION_MAX_CHARS} characters.", "invalid")
    errors.raise_if_any("The run is invalid.")
    assert connection is not None
    chosen = _fields_clean(project, fields)
    with transaction.atomic():
        busy = JudgeRun.objects.filter(project=project, connection=connection, state__in=UNFINISHED).first()
        if busy is not None:
            raise Conflict(
                f"This model is already judging the project (run {busy.uuid}, {busy.state}); cancel it or wait."
            )
        run = JudgeRun.objects.create(
            project=project,
            connection=connection,
            fields=[f.name for f in chosen],
            schema_version=project.schema_version,
            instruction=instruction.strip(),
            created_by=actor,
            total=judge_candidates(project).count(),
        )
        audit_record(
            action="judge_run.start",
            target=run,
            metadata={
                "project": str(project.uuid),
                "connection": connection.name,
                "model": connection.model,
                "fields": run.fields,
                "schema_version": run.schema_version,
                "tasks": run.total,
            },
        )
        enqueue_on_commit(JUDGE_TASK_NAME, project.organization_id, run.pk)
    return run


def judge_run_resume(*, actor: Membership, run: JudgeRun) -> JudgeRun:
    """Take up a paused or failed run again: it judges only the tasks without a verdict in it."""
    check(permissions.judge_run(actor))
    with transaction.atomic():
        run = JudgeRun.objects.select_for_update().get(pk=run.pk)
        if run.state not in (JudgeRunState.PAUSED, JudgeRunState.FAILED):
            raise Conflict(f"Only a paused or failed run can be resumed; this one is {run.state}.")
        previous = run.state
        run.state = JudgeRunState.PENDING
        run.reason = ""
        run.finished_at = None
        run.save(update_fields=["state", "reason", "finished_at", "updated_at"])
        audit_record(action="judge_run.resume", target=run, changes={"state": [previous, run.state]})
        enqueue_on_commit(JUDGE_TASK_NAME, run.organization_id, run.pk)
    return run


def judge_run_cancel(*, actor: Membership, run: JudgeRun) -> JudgeRun:
    """Stop a run that has not ended; the verdicts it gave are kept (409 once it has ended)."""
    check(permissions.judge_run(actor))
    with transaction.atomic():
        run = JudgeRun.objects.select_for_update().get(pk=run.pk)
        if run.state not in UNFINISHED:
            raise Conflict(f"The run has ended already ({run.state}).")
        previous = run.state
        run.state = JudgeRunState.CANCELLED
        run.reason = f"Cancelled by {actor.user.email}."
        run.finished_at = timezone.now()
        run.save(update_fields=["state", "reason", "finished_at", "updated_at"])
        audit_record(
            action="judge_run.cancel", target=run, changes={"state": [previous, run.state]}, metadata=judge_counts(run)
        )
    return run


# --- the tasks a run judges ----------------------------------------------------------------------------------


def judge_candidates(project: Project) -> Any:
    # `done` counts submitted answers (kept by the routing statements): a task nobody answered has nothing to be
    # compared with. Gold tasks are left out as the project's agreement leaves them out.
    return Task.objects.filter(project=project, done__gte=1, is_gold=False)


def judge_pending(run: JudgeRun) -> Any:
    judged = JudgeVerdict.objects.filter(run=run).values("task_id")
    return judge_candidates(run.project).exclude(pk__in=judged).order_by("id")
