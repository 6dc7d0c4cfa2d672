"""The staging table's steps: rows in, duplicates found, everything merged into the tasks, rows out.

Each step is one set-based statement of projects/imports/sql.py (the rows never come back to Python). Rows come
in by COPY into a temporary table, then INSERT ... SELECT (COPY itself is refused on tables under row-level
security).
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from projects.imports import sql
from projects.imports.rows import CheckedRow, json_bytes
from projects.models import ImportJob, ImportRow, Project

_CHUNK = 2000


def stage_rows(job: ImportJob, source_index: int, rows: Sequence[CheckedRow]) -> None:
    """Add checked rows to the job's staging rows."""
    if not rows:
        return
    # COPY is the cheapest way in for rows, but the staging table is under row-level security, which COPY FROM
    # refuses; so the batch is copied into a temporary table (this connection's own, emptied at every commit),
    # and one INSERT ... SELECT moves it on, the policy checking each row.
    payload = b"".join(_copy_line(row) for row in rows)
    with connection.cursor() as cursor:
        cursor.execute(sql.SYNCHRONOUS_COMMIT_OFF)
        cursor.execute(sql.BATCH_TABLE_CREATE)
        with cursor.cursor.copy(sql.BATCH_COPY) as copy:
            copy.write(payload)
        cursor.execute(
            sql.STAGE_ROWS, {"organization": job.organization_id, "job": job.pk, "source_index": source_index}
        )
        # The commit empties the table too (cheaply, in one step); this is for a caller whose transaction goes on.
        cursor.execute(sql.BATCH_EMPTY)


# COPY's text format: a backslash starts an escape; tab, newline and carriage return end fields and rows.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = b"\\N"


def _copy_text(value: str) -> bytes:
    return value.translate(_COPY_ESCAPES).encode()


def _copy_json(text: bytes) -> bytes:
    # JSON text has its control characters escaped already: only its own backslashes need doubling.
    return text.replace(b"\\", b"\\\\") if b"\\" in text else text


def _copy_line(row: CheckedRow) -> bytes:
    # In the order of sql.BATCH_COLUMNS, the staging table's own.
    return b"%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n" % (
        row.line,
        _copy_text(row.external_id),
        _copy_json(row.data_json),
        row.priority,
        _copy_json(json_bytes(row.required_skills)) if row.required_skills else b"{}",
        _copy_text(row.language) if row.language else b"",
        b"t" if row.qualification else b"f",
        _NULL if row.gold_answer is None else _copy_json(json_bytes(row.gold_answer)),
        _copy_json(json_bytes(row.suggestions)) if row.suggestions else b"{}",
    )


@contextmanager
def _staged_reads(cursor: Any) -> Iterator[None]:
    """Plan the statements that read a job's staging rows for what they are: many, and sorted in memory.

    They run right after the rows were staged, before any statistics know of them; the planner would take the
    staging rows for a handful and sort them (on disk, for a large import) rather than read them in order from
    the (job, id) index. Sorting by external_id gets memory enough for a large import (this transaction only).
    """
    for setting in sql.STAGED_READS_PLAN:
        cursor.execute(setting)
    yield
    # On an error the rollback (of the transaction or savepoint) undoes the settings; the aborted transaction
    # would refuse a RESET.
    for setting in sql.STAGED_READS_RESET:
        cursor.execute(setting)


@dataclass(frozen=True)
class Duplicate:
    source_index: int
    line: int
    external_id: str
    first_source_index: int
    first_line: int


def staged_duplicates(job: ImportJob, *, limit: int) -> tuple[list[Duplicate], int]:
    """Rows whose external_id an earlier row of the same import has (the first `limit`, in file order), and how
    many there are in all. The earlier row is the one kept."""
    staged = {"job": job.pk, "organization": job.organization_id}
    with connection.cursor() as cursor, _staged_reads(cursor):
        cursor.execute(sql.STAGED_HAS_DUPLICATES, staged)
        row = cursor.fetchone()
        if not (row and row[0]):
            return [], 0
        cursor.execute(sql.STAGED_DUPLICATES, {**staged, "limit": max(limit, 1)})
        fetched = cursor.fetchall()
    total = int(fetched[0][5])
    found = [Duplicate(int(s), int(ln), str(e), int(fs), int(fl)) for s, ln, e, fs, fl, _ in fetched[:limit]]
    return found, total


def drop_later_duplicates(job: ImportJob) -> None:
    """Keep the first row of each external_id, drop the rest (they were reported as errors).

    By primary key, a chunk at a time: memory stays bounded however many duplicates there are, and no plan can
    turn the deletion into a rescan of the staging rows per row.
    """
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                sql.LATER_DUPLICATE_IDS, {"job": job.pk, "organization": job.organization_id, "limit": _CHUNK * 5}
            )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return
            cursor.execute(sql.STAGED_ROWS_DELETE, {"ids": ids})


def staged_count(job: ImportJob) -> int:
    return ImportRow.objects.filter(job=job).count()


def clear_staged(job: ImportJob) -> None:
    ImportRow.objects.filter(job=job).delete()


@dataclass(frozen=True)
class MergeResult:
    created: int
    updated: int


def merge_staged(job: ImportJob, project: Project, *, update_existing: bool) -> MergeResult:
    """Create a task for each staged row whose external_id the project lacks; with `update_existing`, replace
    the content of existing tasks whose staged row differs. Runs in the caller's transaction, which holds the
    project's row lock (so no other writer adds the same external_ids halfway).

    One INSERT ... ON CONFLICT statement does it all: each row meets its task through the unique index on
    (project, external_id), whatever the planner believes about the tables' sizes. A join between the staging
    rows and the tasks would depend on those beliefs, and right after a large import (statistics not gathered
    yet) a nested loop over every task of the organization per row is what it may pick.
    """
    statement = sql.MERGE_NEW_AND_CHANGED if update_existing else sql.MERGE_NEW
    params: dict[str, Any] = {
        "project": project.pk,
        "now": timezone.now(),
        "overlap": project.overlap,
        "job": job.pk,
        "organization": job.organization_id,
    }
    with connection.cursor() as cursor, _staged_reads(cursor):
        cursor.execute(statement, params)
        row = cursor.fetchone()
    created, updated = (int(row[0]), int(row[1])) if row else (0, 0)
    return MergeResult(created=created, updated=updated)
