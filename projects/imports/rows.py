"""One parsed row checked as a task, exactly as the bulk-create endpoint checks its items (same rules, same
messages), with the error paths relative to the row (`data.text`) instead of a request index (`[3].data.text`)."""

import hashlib
import json
from typing import Any

from projects.imports.errors import RowProblem
from projects.label_schema.fields import LabelSchema
from projects.services import TaskInput, _clean_task_items
from tenancy.errors import InvalidInput

_INDEX_PREFIX = "[0]"


def derived_external_id(item: dict[str, Any]) -> str:
    """The id of a row that names none: a digest of its content, so importing the same file twice adds nothing
    twice (two rows with the same content are the same task, and the second is reported as a duplicate)."""
    content = json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


def _relative(path: str) -> str:
    if path.startswith(_INDEX_PREFIX):
        path = path[len(_INDEX_PREFIX) :]
    return path[1:] if path.startswith(".") else path


def row_task(item: dict[str, Any], *, line: int, schema: LabelSchema | None) -> TaskInput | list[RowProblem]:
    """The row as a task to create, or every problem with it (each named by its path inside the row)."""
    if item.get("external_id") is None:
        item = {**item, "external_id": derived_external_id({k: v for k, v in item.items() if k != "external_id"})}
    try:
        [task] = _clean_task_items([item], schema)
    except InvalidInput as exc:
        return [RowProblem(line, _relative(e.field), e.code, e.message) for e in exc.errors]
    return task
