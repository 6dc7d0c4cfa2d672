"""CSV: one row per annotation, one column per label field, every cell safe to open in a spreadsheet.

Columns: task_id, external_id, annotation_id, annotator, schema_version, guidelines_version, time_spent_ms,
review_outcome, version, created_at, data (the task data as JSON), suggestions (per suggested field, JSON
`{"shown", "kept", "agent", "score"}`; empty when nothing was suggested), then one column per field of the label schema
(the current schema's in order, then fields only older versions had), or a single `result` column (JSON) for a
project without a schema. A field's value is written as is when it is text or a number, as JSON otherwise
(multiple choices, spans, boxes, rankings, rubrics), with keys sorted so the same data always gives the same
cell; an absent field is an empty cell.

Formula safety: a cell holding text that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a
leading `'`, so no spreadsheet runs it as a formula. Numbers are never prefixed (a negative rating stays -2).
"""

import csv
import json
from typing import Any

from annotation.exports.base import TaskRecordWriter, iso
from annotation.exports.records import TaskRecord

FIXED_COLUMNS = (
    "task_id",
    "external_id",
    "annotation_id",
    "annotator",
    "schema_version",
    "guidelines_version",
    "time_spent_ms",
    "review_outcome",
    "version",
    "created_at",
    "data",
    "suggestions",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text a spreadsheet would read as a formula, made inert with a leading quote."""
    return f"'{text}" if text.startswith(FORMULA_START) else text


def cell(value: Any) -> str:
    """One CSV cell: empty for None, plain for numbers, JSON for lists and objects, formula-safe for text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return neutralise(value)
    return neutralise(json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True))


class CsvWriter(TaskRecordWriter):
    extension = "csv"
    content_type = "text/csv; charset=utf-8"

    def begin(self) -> None:
        self.fields = self.context.field_names()
        self.writer = csv.writer(self.out, lineterminator="\r\n")
        self.writer.writerow([*FIXED_COLUMNS, *(self.fields or ["result"])])

    def write_task(self, record: TaskRecord) -> int:
        data = cell(record.data)
        for a in record.annotations:
            fixed = [
                cell(record.id),
                cell(record.external_id),
                cell(a.id),
                cell(a.annotator),
                cell(a.schema_version),
                cell(a.guidelines_version),
                cell(a.time_spent_ms),
                cell(a.review_outcome),
                cell(a.version),
                cell(iso(a.created_at)),
                data,
                cell(a.suggestions or None),
            ]
            values = [cell(a.result.get(name)) for name in self.fields] if self.fields else [cell(a.result)]
            self.writer.writerow(fixed + values)
        return len(record.annotations)
