"""The project's label schema as the rest of the platform uses it: parsed once per version, validating results."""

import json
from functools import lru_cache
from typing import Any

from core.errors import FieldError
from projects.label_schema.definition import parse_schema
from projects.label_schema.fields import LabelSchema
from projects.label_schema.results import gold_answer_errors as _gold_answer_errors
from projects.label_schema.results import validate_result
from projects.label_schema.task_data import validate_task_data
from projects.models import Project, Task


@lru_cache(maxsize=256)
def _parsed(organization_id: int, project_id: int, version: int, document: str) -> LabelSchema:
    return parse_schema(json.loads(document))


def project_schema(project: Project) -> LabelSchema | None:
    """The project's current schema, or None while it has none (results are then free-form JSON objects)."""
    document = project.label_schema or {}
    if not document.get("fields"):
        return None
    return _parsed(project.organization_id, project.pk, project.schema_version, json.dumps(document, sort_keys=True))


def project_schema_fields(project: Project) -> list[dict[str, Any]]:
    """The schema's fields as canonical JSON objects (what the gold scorers and agreement take)."""
    schema = project_schema(project)
    return [] if schema is None else list(schema.to_document()["fields"])


def result_validate(*, project: Project, task: Task, result: dict[str, Any]) -> None:
    """Raise InvalidInput naming every path of `result` that breaks the project's schema."""
    schema = project_schema(project)
    if schema is not None:
        validate_result(schema, result, task.data)


def task_data_errors(schema: LabelSchema, data: Any, *, path: str) -> list[FieldError]:
    """Every way a task's data fails to give the schema's fields what they read."""
    return validate_task_data(schema, data, path=path)


def gold_answer_errors(schema: LabelSchema, answer: Any, data: Any, *, path: str) -> list[FieldError]:
    """Every way a gold answer fails the schema's rules for a result on that task."""
    return _gold_answer_errors(schema, answer, data, path=path)
