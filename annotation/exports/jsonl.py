"""The native format: one JSON object per task, with every annotation that counts and its provenance.

```json
{"id": "<task uuid>", "external_id": "item-1", "data": {...}, "created_at": "…Z",
 "annotations": [{"id": "<annotation uuid>", "result": {...},
                  "provenance": {"schema_version": 2, "guidelines_version": 3, "annotator": "annotator-1f…",
                                 "time_spent_ms": 5400, "review_outcome": "accepted", "version": 1,
                                 "created_at": "…Z",
                                 "suggestions": {"sentiment": {"shown": true, "kept": false,
                                                               "agent": "model-x@v3", "score": 0.83}}}}]}
```

PostgreSQL renders each line and COPY streams the lines straight into the file, never decoded: this is the export
labs pull at full size, and it stays within a small factor of a plain COPY of the same rows, where parsing every
task's JSON into Python and serialising it again cost ten times as much. The lines are compact, except that task
data and results keep PostgreSQL's rendering of the stored JSON (one space after each `:` and `,`); the tasks and
annotations are those of records.py, chosen by the same querysets, a chunk of tasks per transaction.
"""

import json
from collections.abc import Iterator
from typing import BinaryIO

from django.db import connection

from annotation.exports import sql
from annotation.exports.base import ExportWriter
from annotation.exports.records import TASK_COLUMNS, ExportSource, counting_annotations, task_chunks, tasks_in_range
from core.db import sql_statement

# Tasks per statement: more than the record formats read at once, since a chunk is a list of short strings here.
CHUNK_TASKS = 10_000


# A NULL line reads \x03 (see sql.LINES_COPY).
_NULL_LINE = 0x03


def _chunk_bounds(source: ExportSource, after: int, size: int) -> tuple[int | None, bool]:
    """The id of the chunk's last task (the `size`th matching task after `after`), and whether it is the export's
    last chunk; (None, True) when no task is left."""
    ids = tasks_in_range(source.project, source.filters, after, None).values_list("id", flat=True)
    last = next(iter(ids.order_by("id")[size - 1 : size]), None)
    if last is not None:
        return last, False
    return ids.order_by("-id").first(), True


def _copy_lines(source: ExportSource, pseudonyms: str, after: int, last: int, out: BinaryIO) -> int:
    """Write the lines of the tasks in (after, last] to `out`, newline-terminated; return how many."""
    tasks = tasks_in_range(source.project, source.filters, after, last).order_by().values_list(*TASK_COLUMNS)
    annotations = counting_annotations(source.filters, source.upper_id, after + 1, last)
    tasks_sql, tasks_params = tasks.query.sql_with_params()
    annotations_sql, annotations_params = annotations.values_list(*sql.LINE_ANNOTATION_COLUMNS).query.sql_with_params()
    statement = sql_statement(sql.LINES_COPY, tasks=tasks_sql, annotations=annotations_sql)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(statement, [*tasks_params, pseudonyms, *annotations_params]) as copy:
            for line in copy:
                if line[0] == _NULL_LINE:
                    # Only an annotator without a pseudonym makes a line NULL; every member has one: a fault.
                    raise RuntimeError("an exported annotation's author has no pseudonym")
                out.write(line)
        return int(raw.rowcount)


def task_line_chunks(source: ExportSource, out: BinaryIO, chunk_tasks: int | None = None) -> Iterator[int]:
    """Write the export's JSONL lines to `out` in task id order, at most `chunk_tasks` tasks per chunk, yielding
    how many lines each chunk wrote."""
    size = chunk_tasks or CHUNK_TASKS
    pseudonyms = ""

    def next_chunk(after: int) -> tuple[int | None, int]:
        nonlocal pseudonyms
        pseudonyms = pseudonyms or json.dumps(source.pseudonyms.of_every_member())
        last, final = _chunk_bounds(source, after, size)
        written = 0 if last is None else _copy_lines(source, pseudonyms, after, last, out)
        return (None if final else last), written

    return task_chunks(organization_id=source.organization_id, next_chunk=next_chunk)


class JsonlWriter(ExportWriter):
    extension = "jsonl"
    content_type = "application/x-ndjson"

    def write_chunks(self, source: ExportSource) -> Iterator[int]:
        # The lines arrive as UTF-8 bytes: they go to the file beneath the text stream, never decoded.
        self.out.flush()
        return task_line_chunks(source, self.out.buffer)
