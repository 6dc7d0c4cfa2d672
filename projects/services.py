"""Writes to projects and tasks. Each records its audit event in the same transaction."""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.services import audit_record
from projects import config
from projects.models import Project, Task
from tenancy.errors import ErrorList, InvalidInput
from tenancy.models import Membership
from tenancy.services import changes_between

_PROJECT_FIELDS = ("name", "codename", "description", "guidelines", "label_schema", "overlap", "settings")


def _validate_project_fields(fields: dict[str, Any]) -> None:
    errors = ErrorList()
    if "name" in fields and not str(fields["name"]).strip():
        errors.add("name", "This field may not be blank.", "blank")
    if "overlap" in fields and not 1 <= int(fields["overlap"]) <= config.MAX_OVERLAP:
        errors.add("overlap", f"Must be between 1 and {config.MAX_OVERLAP}.", "out_of_range")
    for key in ("label_schema", "settings"):
        if key in fields and not isinstance(fields[key], dict):
            errors.add(key, "Must be a JSON object.", "not_an_object")
    errors.raise_if_any()


def project_create(*, actor: Membership, name: str, **fields: Any) -> Project:
    """Create a project in the actor's organization."""
    fields = {"name": name, **fields}
    unknown = set(fields) - set(_PROJECT_FIELDS)
    if unknown:
        raise TypeError(f"unknown project fields: {sorted(unknown)}")
    _validate_project_fields(fields)
    with transaction.atomic():
        project = Project.objects.create(created_by=actor.user, **fields)
        audit_record(
            action="project.create",
            target=project,
            changes={k: [None, v] for k, v in fields.items() if k != "guidelines"},
            metadata={"guidelines_chars": len(fields.get("guidelines", ""))},
        )
    return project


def project_update(*, actor: Membership, project: Project, **fields: Any) -> Project:
    """Change a project's settings. A new schema or guidelines text gets a new version number."""
    unknown = set(fields) - set(_PROJECT_FIELDS)
    if unknown:
        raise TypeError(f"unknown project fields: {sorted(unknown)}")
    _validate_project_fields(fields)
    before = {k: getattr(project, k) for k in fields}
    changed = {k: v for k, v in fields.items() if before[k] != v}
    if not changed:
        return project
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        for key, value in changed.items():
            setattr(project, key, value)
        if "label_schema" in changed:
            project.schema_version += 1
        if "guidelines" in changed:
            project.guidelines_version += 1
        project.save()
        diff = changes_between(before, changed)
        if "guidelines" in diff:  # long text; the versions say what changed, the text itself stays out
            diff["guidelines"] = [f"v{project.guidelines_version - 1}", f"v{project.guidelines_version}"]
        audit_record(action="project.update", target=project, changes=diff)
    return project


def project_delete(*, actor: Membership, project: Project) -> None:
    """Delete a project and all its tasks, recording how much went with it."""
    with transaction.atomic():
        audit_record(
            action="project.delete", target=project, metadata={"name": project.name, "tasks": project.tasks.count()}
        )
        project.delete()


@dataclass(frozen=True)
class TaskInput:
    external_id: str
    data: dict[str, Any]
    priority: int


@dataclass(frozen=True)
class CreatedTask:
    uuid: uuid.UUID
    external_id: str


@dataclass(frozen=True)
class BulkCreateResult:
    created: list[CreatedTask]
    existing: list[str]  # external ids already in the project, left unchanged


def _clean_task_items(items: Sequence[Any]) -> list[TaskInput]:
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
        for key in sorted(set(item) - {"external_id", "data", "priority"}):
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
        if not errors:
            cleaned.append(TaskInput(external_id=external_id, data=data, priority=priority))  # type: ignore[arg-type]
    errors.raise_if_any("Some tasks are invalid; none were created.")
    return cleaned


_INSERT_BATCH = 5000


def _insert_tasks(project: Project, tasks: list[TaskInput]) -> list[CreatedTask]:
    """Insert many tasks fast. On PostgreSQL, one INSERT ... SELECT FROM unnest(arrays) per batch: a single round
    trip that still passes the row-level-security check (COPY FROM is refused on tables under RLS)."""
    created = [CreatedTask(uuid=uuid.uuid4(), external_id=t.external_id) for t in tasks]
    if not tasks:
        return created
    if connection.vendor != "postgresql":
        Task.objects.bulk_create(
            [
                Task(
                    organization_id=project.organization_id,
                    project=project,
                    uuid=c.uuid,
                    external_id=t.external_id,
                    data=t.data,
                    priority=t.priority,
                )
                for c, t in zip(created, tasks, strict=True)
            ],
            batch_size=500,
        )
        return created
    now = timezone.now()
    table = connection.ops.quote_name(Task._meta.db_table)
    sql = (
        f"INSERT INTO {table} (organization_id, project_id, created_at, uuid, external_id, data, priority) "  # noqa: S608
        "SELECT %s, %s, %s, u, e, d::jsonb, p FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::int[]) "
        "AS t(u, e, d, p)"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(tasks), _INSERT_BATCH):
            batch = tasks[start : start + _INSERT_BATCH]
            ids = created[start : start + _INSERT_BATCH]
            cursor.execute(
                sql,
                [
                    project.organization_id,
                    project.pk,
                    now,
                    [c.uuid for c in ids],
                    [t.external_id for t in batch],
                    [json.dumps(t.data, ensure_ascii=False) for t in batch],
                    [t.priority for t in batch],
                ],
            )
    return created


def task_bulk_create(*, actor: Membership, project: Project, items: Sequence[Any]) -> BulkCreateResult:
    """Add tasks to a project, all or nothing. Items whose external_id exists already are skipped unchanged,
    so a retried request creates nothing twice."""
    limit = config.bulk_max_tasks()
    if not items:
        raise InvalidInput("Send at least one task.")
    if len(items) > limit:
        raise InvalidInput(f"At most {limit} tasks per request; use an import job for more.")
    cleaned = _clean_task_items(items)
    wanted = [t.external_id for t in cleaned]
    with transaction.atomic():
        # Lock the project row: two identical requests racing would otherwise both see "new" ids and one
        # would fail on the unique constraint halfway instead of being recognised as a retry.
        Project.objects.select_for_update().filter(pk=project.pk).first()
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
