"""Writes to projects and tasks. Each records its audit event in the same transaction."""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.audit.record import audit_record
from core.errors import Conflict, ErrorList, FieldError, InvalidInput
from projects import config
from projects.label_schema import parse_schema, schema_incompatibilities
from projects.label_schema.fields import LabelSchema
from projects.models import LabelSchemaVersion, Project, Task
from projects.services.schema_versions import gold_answer_errors, project_schema, task_data_errors
from tenancy.models import Membership
from tenancy.services import changes_between

_PROJECT_FIELDS = (
    "name",
    "codename",
    "description",
    "guidelines",
    "label_schema",
    "overlap",
    "settings",
    "is_active",
    "blind",
    "required_skills",
    "required_languages",
    "gold_rate",
    "gold_min_accuracy",
    "qualification_size",
    "qualification_min_accuracy",
    "qualification_cooldown_hours",
    "max_active_per_annotator",
    "lease_seconds",
    "review_mode",
    "review_rate",
    "review_levels",
    "reject_returns_to",
    "agreement_threshold",
)


def _validate_project_fields(fields: dict[str, Any]) -> None:
    errors = ErrorList()
    if "name" in fields and not str(fields["name"]).strip():
        errors.add("name", "This field may not be blank.", "blank")
    if "overlap" in fields and not 1 <= int(fields["overlap"]) <= config.MAX_OVERLAP:
        errors.add("overlap", f"Must be between 1 and {config.MAX_OVERLAP}.", "out_of_range")
    for key in ("label_schema", "settings"):
        if key in fields and not isinstance(fields[key], dict):
            errors.add(key, "Must be a JSON object.", "not_an_object")
    skills = fields.get("required_skills", {})
    if not isinstance(skills, dict) or not all(
        isinstance(k, str) and k and isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5
        for k, v in skills.items()
    ):
        errors.add("required_skills", "Must map skill names to levels 1 to 5.", "invalid")
    languages = fields.get("required_languages", [])
    if not isinstance(languages, list) or not all(isinstance(x, str) and 0 < len(x) <= 16 for x in languages):
        errors.add("required_languages", "Must be a list of language codes.", "invalid")
    if fields.get("blind") and not str(fields.get("codename", "x")).strip():
        errors.add("codename", "A blind project needs a codename to show annotators.", "required")
    if isinstance(fields.get("label_schema"), dict) and fields["label_schema"].get("fields") != []:
        try:
            parse_schema(fields["label_schema"], max_bytes=config.label_schema_max_bytes())
        except InvalidInput as exc:
            errors.items.extend(exc.errors)
    if fields.get("review_mode") == "sample" and not 0 < float(fields.get("review_rate", 0)) <= 1:
        errors.add("review_rate", "Sampled review needs a rate above 0 and at most 1.", "out_of_range")
    errors.raise_if_any()


def _canonical_schema(document: dict[str, Any]) -> dict[str, Any]:
    # Stored spelled out (defaults included), so two equal schemas compare equal and exports are explicit.
    if not document or document.get("fields") == []:
        return {"fields": []}
    return parse_schema(document, max_bytes=config.label_schema_max_bytes()).to_document()


def project_create(*, actor: Membership, name: str, **fields: Any) -> Project:
    """Create a project in the actor's organization."""
    fields = {"name": name, **fields}
    unknown = set(fields) - set(_PROJECT_FIELDS)
    if unknown:
        raise TypeError(f"unknown project fields: {sorted(unknown)}")
    _validate_project_fields(fields)
    fields["label_schema"] = _canonical_schema(fields.get("label_schema") or {})
    with transaction.atomic():
        project = Project.objects.create(created_by=actor.user, **fields)
        LabelSchemaVersion.objects.create(
            project=project, version=project.schema_version, document=project.label_schema, created_by=actor.user
        )
        audit_record(
            action="project.create",
            target=project,
            changes={k: [None, v] for k, v in fields.items() if k != "guidelines"},
            metadata={"guidelines_chars": len(fields.get("guidelines", ""))},
        )
    return project


def project_update(*, actor: Membership, project: Project, new_schema_version: bool = False, **fields: Any) -> Project:
    """Change a project's settings. New guidelines text gets a new version number. A schema change that
    annotations already made could not survive is refused unless `new_schema_version` asks for a new version;
    a compatible one (an added option, a new optional field) amends the current version in place."""
    unknown = set(fields) - set(_PROJECT_FIELDS)
    if unknown:
        raise TypeError(f"unknown project fields: {sorted(unknown)}")
    _validate_project_fields(fields)
    if "label_schema" in fields:
        fields["label_schema"] = _canonical_schema(fields["label_schema"] or {})
    before = {k: getattr(project, k) for k in fields}
    changed = {k: v for k, v in fields.items() if before[k] != v}
    if not changed and not new_schema_version:
        return project
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        for key, value in changed.items():
            setattr(project, key, value)
        if "label_schema" in changed or new_schema_version:
            _schema_version_next(
                actor=actor, project=project, before=before.get("label_schema"), force=new_schema_version
            )
        if "guidelines" in changed:
            project.guidelines_version += 1
        project.save()
        if "overlap" in changed:
            # Each task carries its overlap so the claim's index covers it; a lower overlap never takes back
            # work already handed out (taken may exceed it; the task simply gets no new annotators).
            Task.objects.filter(project=project).update(overlap=project.overlap)
        diff = changes_between(before, changed)
        if "guidelines" in diff:  # long text; the versions say what changed, the text itself stays out
            diff["guidelines"] = [f"v{project.guidelines_version - 1}", f"v{project.guidelines_version}"]
        audit_record(action="project.update", target=project, changes=diff)
    return project


def _schema_version_next(*, actor: Membership, project: Project, before: Any, force: bool) -> None:
    """Amend the current schema version in place, or open the next one (asked for, or needed by a breaking
    change to a version that annotations already use)."""
    current = project.schema_version
    # Through the relation the annotation app declares on Project: that app builds on this one, so none of its
    # modules is imported here.
    used = project.annotations.filter(schema_version=current).exists()
    problems: list[str] = []
    if used and isinstance(before, dict) and before.get("fields"):
        problems = schema_incompatibilities(parse_schema(before), parse_schema(project.label_schema))
    if problems and not force:
        raise Conflict(
            "This change would orphan annotations made under schema version "
            f"{current}: {' '.join(problems)} Send new_schema_version=true to create version {current + 1}.",
            errors=[FieldError("label_schema", p, "incompatible") for p in problems],
        )
    if force:
        project.schema_version = current + 1
        LabelSchemaVersion.objects.create(
            project=project, version=project.schema_version, document=project.label_schema, created_by=actor.user
        )
    else:
        LabelSchemaVersion.objects.update_or_create(
            project=project,
            version=current,
            defaults={"document": project.label_schema, "created_by": actor.user},
        )


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
    required_skills: dict[str, int]
    language: str
    gold_answer: dict[str, Any] | None
    qualification: bool


_TASK_KEYS = {"external_id", "data", "priority", "required_skills", "language", "gold_answer", "qualification"}


def _clean_routing(item: dict[str, Any], where: str, errors: ErrorList) -> tuple[dict[str, int], str, bool]:
    skills = item.get("required_skills", {})
    if not isinstance(skills, dict) or not all(
        isinstance(k, str) and k and isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 5
        for k, v in skills.items()
    ):
        errors.add(f"{where}.required_skills", "Must map skill names to levels 1 to 5.", "invalid")
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


def _clean_task_items(items: Sequence[Any], schema: LabelSchema | None = None) -> list[TaskInput]:
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
                )
            )
    errors.raise_if_any("Some tasks are invalid; none were created.")
    return cleaned


_INSERT_BATCH = 5000


def _insert_tasks(project: Project, tasks: list[TaskInput]) -> list[CreatedTask]:
    """Insert many tasks fast: one INSERT ... SELECT FROM unnest(arrays) per batch, a single round trip that still
    passes the row-level-security check (COPY FROM is refused on tables under RLS)."""
    created = [CreatedTask(uuid=uuid.uuid4(), external_id=t.external_id) for t in tasks]
    if not tasks:
        return created
    now = timezone.now()
    table = connection.ops.quote_name(Task._meta.db_table)
    sql = (
        f"INSERT INTO {table} (organization_id, project_id, created_at, overlap, uuid, external_id, data, priority,"  # noqa: S608
        " required_skills, language, is_gold, qualification, gold_answer)"
        " SELECT %s, %s, %s, %s, u, e, d::jsonb, p, rs::jsonb, l, g IS NOT NULL, q, g::jsonb"
        " FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::int[], %s::text[], %s::text[], %s::bool[], %s::text[])"
        " AS t(u, e, d, p, rs, l, q, g)"
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
                    project.overlap,
                    [c.uuid for c in ids],
                    [t.external_id for t in batch],
                    [json.dumps(t.data, ensure_ascii=False) for t in batch],
                    [t.priority for t in batch],
                    [json.dumps(t.required_skills) for t in batch],
                    [t.language for t in batch],
                    [t.qualification for t in batch],
                    [None if t.gold_answer is None else json.dumps(t.gold_answer) for t in batch],
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
    cleaned = _clean_task_items(items, project_schema(project))
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
