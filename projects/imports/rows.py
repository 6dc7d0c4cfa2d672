"""One parsed row checked as a task, exactly as the bulk-create endpoint checks its items (same rules, same
messages), with the error paths relative to the row (`data.text`) instead of a request index (`[3].data.text`).

Most rows of a large import are plain (an external_id, a data object, perhaps a priority) and valid. Those take a
short path that applies the same rules without building the endpoint's error list; a row the short path cannot
vouch for, for any reason, goes through the endpoint's own check, so every message stays the endpoint's.
"""

import hashlib
import json
from typing import Any, NamedTuple

import orjson

from core.errors import InvalidInput
from projects import config
from projects.imports.errors import RowProblem
from projects.label_schema.fields import LabelSchema
from projects.label_schema.suggestions import suggestion_errors, suggestions_normalised
from projects.services.schema_versions import task_data_errors
from projects.services.tasks import task_items_clean

_INDEX_PREFIX = "[0]"
_PLAIN_KEYS = frozenset({"external_id", "data", "priority", "suggestions"})


class CheckedRow(NamedTuple):
    """A row ready to stage: the line it starts on, the task's fields, and its data also as the JSON text to
    store (the check measured it already, so it is serialized once). A tuple: a large import makes millions."""

    line: int
    external_id: str
    data: dict[str, Any]
    data_json: bytes
    priority: int
    required_skills: dict[str, int]
    language: str
    qualification: bool
    gold_answer: dict[str, Any] | None
    suggestions: dict[str, Any]


def derived_external_id(item: dict[str, Any]) -> str:
    """The id of a row that names none: a digest of its content, so importing the same file twice adds nothing
    twice (two rows with the same content are the same task, and the second is reported as a duplicate)."""
    content = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


def _relative(path: str) -> str:
    if path.startswith(_INDEX_PREFIX):
        path = path[len(_INDEX_PREFIX) :]
    return path[1:] if path.startswith(".") else path


def json_bytes(value: Any) -> bytes:
    """`value` as compact JSON text in UTF-8. orjson does it in a fraction of the time; the standard encoder
    takes what orjson refuses (an integer beyond 64 bits, which JSON itself allows)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _data_fits(data: dict[str, Any], compact: bytes, max_bytes: int) -> bool:
    """Whether `data` is within the limit as the endpoint measures it (json.dumps with its default separators).

    That text is the compact one plus one space per separator, and every separator is followed by at least one
    byte of key or value, so it is under twice the compact length: only rows near the limit are measured again.
    """
    if len(compact) * 2 <= max_bytes:
        return True
    return len(json.dumps(data, ensure_ascii=False).encode()) <= max_bytes


def _plain_row(item: dict[str, Any], line: int, schema: LabelSchema | None, max_bytes: int) -> CheckedRow | None:
    """The row checked on the short path, or None when it needs the full check (to pass or to be reported)."""
    if not item.keys() <= _PLAIN_KEYS:
        return None
    external_id = item.get("external_id")
    data = item.get("data")
    priority = item.get("priority", 0)
    low, high = config.PRIORITY_RANGE
    if (
        type(external_id) is not str
        or not external_id.strip()
        or len(external_id) > config.EXTERNAL_ID_MAX_LENGTH
        or type(data) is not dict
        or not data
        or type(priority) is not int
        or not low <= priority <= high
    ):
        return None
    compact = json_bytes(data)
    if not _data_fits(data, compact, max_bytes):
        return None
    if schema is not None and task_data_errors(schema, data, path="data"):
        return None
    # Pre-annotated datasets are large too: valid suggestions stay on the short path.
    suggestions = item.get("suggestions")
    suggestions = {} if suggestions is None else suggestions
    if type(suggestions) is not dict or (suggestions and suggestion_errors(schema, suggestions, data)):
        return None
    return CheckedRow(
        line, external_id, data, compact, priority, {}, "", False, None, suggestions_normalised(suggestions)
    )


def row_task(
    item: dict[str, Any], *, line: int, schema: LabelSchema | None, data_max_bytes: int | None = None
) -> CheckedRow | list[RowProblem]:
    """The row as a task to create, or every problem with it (each named by its path inside the row)."""
    max_bytes = config.task_data_max_bytes() if data_max_bytes is None else data_max_bytes
    plain = _plain_row(item, line, schema, max_bytes)
    if plain is not None:
        return plain
    if item.get("external_id") is None:
        item = {**item, "external_id": derived_external_id({k: v for k, v in item.items() if k != "external_id"})}
    try:
        [task] = task_items_clean([item], schema)
    except InvalidInput as exc:
        return [RowProblem(line, _relative(e.field), e.code, e.message) for e in exc.errors]
    return CheckedRow(
        line,
        task.external_id,
        task.data,
        json_bytes(task.data),
        task.priority,
        task.required_skills,
        task.language,
        task.qualification,
        task.gold_answer,
        task.suggestions,
    )
