"""Writes to tasks: adding many at once, all or nothing, idempotent by external_id."""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.audit.record import audit_record
from core.db import insert_columns, sql_statement
from core.errors import ErrorList, FieldError, InvalidInput
from projects import config, permissions
from projects.label_schema.fields import LabelSchema
from projects.label_schema.suggestions import suggestion_errors, suggestions_normalised
from projects.models import Project, Task
from projects.services.projects import REQUIRED_SKILLS_INVALID, required_skills_valid
from projects.services.schema_versions import gold_answer_errors, project_schema, task_data_errors
from tenancy.models import Membership
from tenancy.permissions import check


@dataclass(frozen=True)
class TaskInput:
    external_id: str
    data: dict[str, Any]
    priority: int
    required_skills: dict[str, int]
    language: str
    gold_answer: dict[str, Any] | None
    qualification: bool
    suggestions: dict[str, Any] = field(default_factory=dict)


_TASK_KEYS = {
    "external_id",
    "data",
    "priority",
    "required_skills",
    "language",
    "gold_answer",
    "qualification",
    "suggestions",
}


def _clean_routing(item: dict[str, Any], where: str, errors: ErrorList) -> tuple[dict[str, int], str, bool]:
    skills = item.get("required_skills", {})
    if not required_skills_valid(skills):
        errors.add(f"{where}.required_skills", REQUIRED_SKILLS_INVALID, "invalid")
        skills = {}
    language = item.get("language", "")
    if not isinstance(language, str) or len(language) > 16:
        errors.add(f"{where}.language", "Must be a language code of at most 16 characters.", "invalid")
        language = ""
    qualification = item.get("qualification", False)
    if not isinstance(qualification, bool):
        errors.add(f"{where}.qualification", "Must be true or false.", "invalid")
        qualification = False
    if qualification and item.get("gold_answer") is None:
        errors.add(f"{where}.qualification", "A qualification task needs a gold_answer.", "gold_answer_required")
    return skills, language.lower(), qualification


@dataclass(frozen=True)
class CreatedTask:
    uuid: uuid.UUID
    external_id: str


@dataclass(frozen=True)
class BulkCreateResult:
    created: list[CreatedTask]
    existing: list[str]  # external ids already in the project, left unchanged


def task_items_clean(items: Sequence[Any], schema: LabelSchema | None = None) -> list[TaskInput]:
    """Check every item and report every problem, each named by its index; return them normalised."""
    errors = ErrorList()
    cleaned: list[TaskInput] = []
    first_seen: dict[str, int] = {}
    max_bytes = config.task_data_max_bytes()
    low, high = config.PRIORITY_RANGE
    for index, item in enumerate(items):
        where = f"[{index}]"
        if not isinstance(item, dict):
            errors.add(where, "Each task must be a JSON object.", "not_an_object")
            continue
        for key in sorted(set(item) - _TASK_KEYS):
            errors.add(f"{where}.{key}", "Unknown field.", "unknown_field")
        external_id = item.get("external_id")
        if external_id is None:
            external_id = str(uuid.uuid4())
        elif not isinstance(external_id, str) or not external_id.strip():
            errors.add(f"{where}.external_id", "Must be a non-empty string.", "invalid")
            external_id = None
        elif len(external_id) > config.EXTERNAL_ID_MAX_LENGTH:
            errors.add(f"{where}.external_id", f"At most {config.EXTERNAL_ID_MAX_LENGTH} characters.", "too_long")
            external_id = None
        if external_id is not None:
            if external_id in first_seen:
                errors.add(
                    f"{where}.external_id",
                    f"Duplicate external_id {external_id!r}; also at [{first_seen[external_id]}].",
                    "duplicate",
                )
            else:
                first_seen[external_id] = index
        data = item.get("data")
        if not isinstance(data, dict) or not data:
            errors.add(f"{where}.data", "Must be a non-empty JSON object.", "invalid")
        elif len(json.dumps(data, ensure_ascii=False).encode()) > max_bytes:
            errors.add(f"{where}.data", f"Larger than {max_bytes} bytes.", "too_large")
        priority = item.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high:
            errors.add(f"{where}.priority", f"Must be an integer between {low} and {high}.", "invalid")
        skills, language, qualification = _clean_routing(item, where, errors)
        gold = item.get("gold_answer")
        if gold is not None and schema is not None and isinstance(data, dict):
            errors.items.extend(gold_answer_errors(schema, gold, data, path=f"{where}.gold_answer"))
        elif gold is not None and not isinstance(gold, dict):
            errors.add(f"{where}.gold_answer", "Must be a JSON object.", "not_an_object")
        if schema is not None and isinstance(data, dict) and data:
            errors.items.extend(task_data_errors(schema, data, path=f"{where}.data"))
        # null is "no suggestions", as an exporter that writes every key for every row would put it.
        suggestions = item.get("suggestions")
        suggestions = {} if suggestions is None else suggestions
        if suggestions != {}:
            errors.items.extend(
                suggestion_errors(
                    schema, suggestions, data if isinstance(data, dict) else {}, path=f"{where}.suggestions"
                )
            )
        if not errors:
            cleaned.append(
                TaskInput(
                    external_id=external_id,  # type: ignore[arg-type]
                    data=data,  # type: ignore[arg-type]
                    priority=priority,
                    required_skills=skills,
                    language=language,
                    gold_answer=gold,
                    qualification=qualification,
                    suggestions=suggestions_normalised(suggestions),
                )
            )
    errors.raise_if_any("Some tasks are invalid; none were created.")
    return cleaned


_INSERT_BATCH = 5000

# A batch of new tasks in one statement: one array per field, unnested into rows. A single round trip that still
# passes the row-level-security check (COPY FROM is refused on tables under RLS). Reads no index; the insert
# keeps up task_unique_external_id (project_id, external_id), which refuses a task created meanwhile.
_TASKS_INSERT = sql_statement(
    """
    INSERT INTO {tasks} ({task_columns})
    SELECT %(organization)s, u, %(now)s, %(project)s,
           e, d::jsonb, p, %(overlap)s,
           rs::jsonb, l, g IS NOT NULL, q, g::jsonb, s::jsonb
      FROM unnest(%(uuids)s::uuid[], %(external_ids)s::text[], %(data)s::text[], %(priorities)s::int[],
                  %(required_skills)s::text[], %(languages)s::text[], %(qualifications)s::bool[],
                  %(gold_answers)s::text[], %(suggestions)s::text[])
           AS t(u, e, d, p, rs, l, q, g, s)
    """,
    tasks=Task,
    # The counters start at their database default (nothing taken, nothing done).
    task_columns=insert_columns(Task, leave_out=("taken", "done")),
)


def _insert_tasks(project: Project, tasks: list[TaskInput]) -> list[CreatedTask]:
    """Insert many tasks fast: one statement per batch of `_INSERT_BATCH`."""
    created = [CreatedTask(uuid=uuid.uuid4(), external_id=t.external_id) for t in tasks]
    if not tasks:
        return created
    now = timezone.now()
    with connection.cursor() as cursor:
        for start in range(0, len(tasks), _INSERT_BATCH):
            batch = tasks[start : start + _INSERT_BATCH]
            ids = created[start : start + _INSERT_BATCH]
            cursor.execute(
                _TASKS_INSERT,
                {
                    "organization": project.organization_id,
                    "project": project.pk,
                    "now": now,
                    "overlap": project.overlap,
                    "uuids": [c.uuid for c in ids],
                    "external_ids": [t.external_id for t in batch],
                    "data": [json.dumps(t.data, ensure_ascii=False) for t in batch],
                    "priorities": [t.priority for t in batch],
                    "required_skills": [json.dumps(t.required_skills) for t in batch],
                    "languages": [t.language for t in batch],
                    "qualifications": [t.qualification for t in batch],
                    "gold_answers": [None if t.gold_answer is None else json.dumps(t.gold_answer) for t in batch],
                    "suggestions": [json.dumps(t.suggestions, ensure_ascii=False) for t in batch],
                },
            )
    return created


def task_bulk_create(*, actor: Membership, project: Project, items: Sequence[Any]) -> BulkCreateResult:
    """Add tasks to a project, all or nothing. Items whose external_id exists already are skipped unchanged,
    so a retried request creates nothing twice."""
    check(permissions.task_create(actor))
    limit = config.bulk_max_tasks()
    if not items:
        raise InvalidInput("Send at least one task.")
    if len(items) > limit:
        raise InvalidInput(f"At most {limit} tasks per request; use an import job for more.")
    cleaned = task_items_clean(items, project_schema(project))
    wanted = [t.external_id for t in cleaned]
    with transaction.atomic():
        # Lock the project row: two identical requests racing would otherwise both see "new" ids and one
        # would fail on the unique constraint halfway instead of being recognised as a retry. NO KEY, as the import's
        # merge takes it: rows referencing the project (their foreign-key checks) do not wait on it.
        Project.objects.select_for_update(no_key=True).filter(pk=project.pk).first()
        existing = set(
            Task.objects.filter(project=project, external_id__in=wanted).values_list("external_id", flat=True)
        )
        new = [t for t in cleaned if t.external_id not in existing]
        try:
            created = _insert_tasks(project, new)
        except IntegrityError as exc:
            raise InvalidInput("Tasks conflict with ones created at the same moment; retry the request.") from exc
        audit_record(
            action="task.bulk_create",
            target=project,
            metadata={"created": len(created), "existing": len(existing), "requested": len(cleaned)},
        )
    return BulkCreateResult(created=created, existing=sorted(existing))


# A bulk change from the data browser names at most this many tasks: a page, or a selection the page built.
BULK_CHANGE_MAX = 1000


def bulk_size_check(tasks: Sequence[Task]) -> None:
    """A bulk change names at least one task and at most BULK_CHANGE_MAX."""
    if not tasks or len(tasks) > BULK_CHANGE_MAX:
        message = f"Choose between 1 and {BULK_CHANGE_MAX} tasks."
        raise InvalidInput(message, errors=[FieldError("tasks", message)])


def tasks_priority_set(*, actor: Membership, project: Project, tasks: Sequence[Task], priority: Any) -> int:
    """Give `tasks` (the project's, locked by the caller) one priority; one event names them all."""
    check(permissions.task_change(actor))
    low, high = config.PRIORITY_RANGE
    if isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high:
        message = f"Must be an integer between {low} and {high}."
        raise InvalidInput(message, errors=[FieldError("priority", message)])
    bulk_size_check(tasks)
    with transaction.atomic():
        changed = Task.objects.filter(project=project, pk__in=[t.pk for t in tasks]).update(priority=priority)
        audit_record(
            action="task.priority_set",
            target=project,
            changes={"priority": priority},
            metadata={"count": changed, "task_ids": [str(t.uuid) for t in tasks]},
        )
    return changed
