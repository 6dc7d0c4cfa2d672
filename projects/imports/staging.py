"""The staging table's statements: rows in, duplicates found, everything merged into the tasks, rows out.

Each step is one set-based statement (the rows never come back to Python). Rows come in by COPY into a temporary
table, then INSERT ... SELECT (COPY itself is refused on tables under row-level security).
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from projects.imports.rows import CheckedRow, json_bytes
from projects.models import ImportJob, ImportRow, Project, Task

_CHUNK = 2000


def _table(model: type[ImportRow] | type[Task]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def stage_rows(job: ImportJob, source_index: int, rows: Sequence[CheckedRow]) -> None:
    """Add checked rows to the job's staging rows."""
    if not rows:
        return
    # COPY is the cheapest way in for rows, but the staging table is under row-level security, which COPY FROM
    # refuses; so the batch is copied into a temporary table (this connection's own, emptied at every commit),
    # and one INSERT ... SELECT moves it on, the policy checking each row.
    payload = b"".join(_copy_line(row) for row in rows)
    with connection.cursor() as cursor:
        # Losing this commit in a database crash loses its checkpoint with it (they are one transaction), so the
        # job resumes from the checkpoint before: waiting for the flush to disk would buy nothing.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        cursor.execute(_BATCH_TABLE_DDL)
        with cursor.cursor.copy(f"COPY {_BATCH_TABLE} ({_BATCH_COLUMNS}) FROM STDIN") as copy:
            copy.write(payload)
        cursor.execute(
            f"INSERT INTO {_table(ImportRow)} (organization_id, job_id, source_index, {_BATCH_COLUMNS})"  # noqa: S608
            f" SELECT %s, %s, %s, {_BATCH_COLUMNS} FROM {_BATCH_TABLE}",
            [job.organization_id, job.pk, source_index],
        )
        # The commit empties the table too (cheaply, in one step); this is for a caller whose transaction goes on.
        cursor.execute(f"DELETE FROM {_BATCH_TABLE}")  # noqa: S608


_BATCH_TABLE = "import_row_batch"
_BATCH_COLUMNS = "line, external_id, data, priority, required_skills, language, qualification, gold_answer"
_BATCH_TABLE_DDL = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_BATCH_TABLE} (line bigint, external_id text, data jsonb,"
    " priority integer, required_skills jsonb, language text, qualification boolean, gold_answer jsonb)"
    " ON COMMIT DELETE ROWS"
)
# COPY's text format: a backslash starts an escape; tab, newline and carriage return end fields and rows.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = b"\\N"


def _copy_text(value: str) -> bytes:
    return value.translate(_COPY_ESCAPES).encode()


def _copy_json(text: bytes) -> bytes:
    # JSON text has its control characters escaped already: only its own backslashes need doubling.
    return text.replace(b"\\", b"\\\\") if b"\\" in text else text


def _copy_line(row: CheckedRow) -> bytes:
    return b"%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n" % (
        row.line,
        _copy_text(row.external_id),
        _copy_json(row.data_json),
        row.priority,
        _copy_json(json_bytes(row.required_skills)) if row.required_skills else b"{}",
        _copy_text(row.language) if row.language else b"",
        b"t" if row.qualification else b"f",
        _NULL if row.gold_answer is None else _copy_json(json_bytes(row.gold_answer)),
    )


@contextmanager
def _staged_reads(cursor: Any) -> Iterator[None]:
    """Plan the statements that read a job's staging rows for what they are: many, and sorted in memory.

    They run right after the rows were staged, before any statistics know of them; the planner would take the
    staging rows for a handful and sort them (on disk, for a large import) rather than read them in order from
    the (job, id) index. Sorting by external_id gets memory enough for a large import (this transaction only).
    """
    cursor.execute("SET LOCAL enable_bitmapscan = off")
    cursor.execute("SET LOCAL enable_seqscan = off")
    cursor.execute("SET LOCAL work_mem = '64MB'")
    yield
    # On an error the rollback (of the transaction or savepoint) undoes the settings; the aborted transaction
    # would refuse a RESET.
    cursor.execute("RESET enable_bitmapscan")
    cursor.execute("RESET enable_seqscan")
    cursor.execute("RESET work_mem")


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
    # One pass: the window counts every duplicate while the first `limit` of them come back (a second query for
    # the count would sort all the staging rows again).
    sql = (
        "SELECT source_index, line, external_id, first_source, first_line, count(*) OVER () FROM ("  # noqa: S608
        "  SELECT id, source_index, line, external_id,"
        "    first_value(source_index) OVER w AS first_source, first_value(line) OVER w AS first_line,"
        "    row_number() OVER w AS n"
        f"  FROM {_table(ImportRow)} WHERE job_id = %s AND organization_id = %s"
        "  WINDOW w AS (PARTITION BY external_id ORDER BY id)"
        ") ranked WHERE n > 1 ORDER BY id LIMIT %s"
    )
    table = _table(ImportRow)
    with connection.cursor() as cursor, _staged_reads(cursor):
        # Most imports have no duplicate at all: finding that out takes one sort of the ids, not three windows.
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {table} WHERE job_id = %s AND organization_id = %s"  # noqa: S608
            " GROUP BY external_id HAVING count(*) > 1)",
            [job.pk, job.organization_id],
        )
        row = cursor.fetchone()
        if not (row and row[0]):
            return [], 0
        cursor.execute(sql, [job.pk, job.organization_id, max(limit, 1)])
        fetched = cursor.fetchall()
    total = int(fetched[0][5])
    found = [Duplicate(int(s), int(ln), str(e), int(fs), int(fl)) for s, ln, e, fs, fl, _ in fetched[:limit]]
    return found, total


def drop_later_duplicates(job: ImportJob) -> None:
    """Keep the first row of each external_id, drop the rest (they were reported as errors).

    By primary key, a chunk at a time: memory stays bounded however many duplicates there are, and no plan can
    turn the deletion into a rescan of the staging rows per row.
    """
    table = _table(ImportRow)
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY external_id ORDER BY id) AS n"  # noqa: S608
                f" FROM {table} WHERE job_id = %s AND organization_id = %s) ranked WHERE n > 1 LIMIT %s",
                [job.pk, job.organization_id, _CHUNK * 5],
            )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return
            cursor.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [ids])  # noqa: S608


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
    tasks, rows = _table(Task), _table(ImportRow)
    if update_existing:
        # Whether a task is gold, and whether it is a qualification task, is fixed when it is created: changing
        # either would move it between routing pools under annotators' feet.
        on_conflict = (
            " ON CONFLICT (project_id, external_id) DO UPDATE SET data = EXCLUDED.data, priority = EXCLUDED.priority,"
            " required_skills = EXCLUDED.required_skills, language = EXCLUDED.language,"
            f" gold_answer = CASE WHEN {tasks}.is_gold AND EXCLUDED.gold_answer IS NOT NULL"
            f" THEN EXCLUDED.gold_answer ELSE {tasks}.gold_answer END"
            f" WHERE {tasks}.data IS DISTINCT FROM EXCLUDED.data OR {tasks}.priority <> EXCLUDED.priority"
            f" OR {tasks}.required_skills IS DISTINCT FROM EXCLUDED.required_skills"
            f" OR {tasks}.language <> EXCLUDED.language OR ({tasks}.is_gold AND EXCLUDED.gold_answer IS NOT NULL"
            f" AND {tasks}.gold_answer IS DISTINCT FROM EXCLUDED.gold_answer)"
        )
    else:
        on_conflict = " ON CONFLICT (project_id, external_id) DO NOTHING"
    # A row just inserted has no deleting or locking transaction yet (xmax 0); an updated one has this one.
    sql = (
        f"WITH merged AS (INSERT INTO {tasks} (organization_id, project_id, created_at, overlap, uuid, external_id,"  # noqa: S608
        " data, priority, required_skills, language, is_gold, qualification, gold_answer)"
        " SELECT r.organization_id, %s, %s, %s, gen_random_uuid(), r.external_id, r.data, r.priority,"
        " r.required_skills, r.language, r.gold_answer IS NOT NULL, r.qualification, r.gold_answer"
        f" FROM {rows} r WHERE r.job_id = %s AND r.organization_id = %s ORDER BY r.id"
        f"{on_conflict} RETURNING (xmax = 0) AS inserted)"
        " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
    )
    with connection.cursor() as cursor, _staged_reads(cursor):
        cursor.execute(sql, [project.pk, timezone.now(), project.overlap, job.pk, job.organization_id])
        row = cursor.fetchone()
    created, updated = (int(row[0]), int(row[1])) if row else (0, 0)
    return MergeResult(created=created, updated=updated)
