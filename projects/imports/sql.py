"""The import's hand-written statements: rows into the staging table, duplicates found and dropped, the merge
into the tasks. Each is one set-based statement over a job's staging rows, which never come back to Python.

Table names and column lists come from the models (core.db), put in once when this module is imported; every
value is a named parameter. An INSERT's column list is its model's columns in declaration order, less those
left to their defaults, and its values follow that order.
"""

from core.db import insert_columns, sql_statement
from projects.models import ImportRow, Task

# A temporary table (this connection's own, emptied at every commit) that a batch is copied into: COPY FROM is
# refused on the staging table itself, which is under row-level security.
BATCH_TABLE = "import_row_batch"
# What a checked row carries: the staging row's columns but whose job and source it is.
BATCH_COLUMNS = insert_columns(ImportRow, leave_out=("organization_id", "job_id", "source_index"))

# Losing this commit in a database crash loses its checkpoint with it (they are one transaction), so the job
# resumes from the checkpoint before: waiting for the flush to disk would buy nothing. No table.
SYNCHRONOUS_COMMIT_OFF = "SET LOCAL synchronous_commit TO OFF"

# The batch table, made once per connection, with the staging table's columns for a checked row. No index.
BATCH_TABLE_CREATE = sql_statement(
    """
    CREATE TEMPORARY TABLE IF NOT EXISTS {batch} (
        line bigint,
        external_id text,
        data jsonb,
        priority integer,
        required_skills jsonb,
        language text,
        qualification boolean,
        gold_answer jsonb,
        suggestions jsonb
    ) ON COMMIT DELETE ROWS
    """,
    batch=BATCH_TABLE,
)

# A batch of rows in, in COPY's text format. No index.
BATCH_COPY = sql_statement("COPY {batch} ({batch_columns}) FROM STDIN", batch=BATCH_TABLE, batch_columns=BATCH_COLUMNS)

# The batch moved on to the job's staging rows, the row policy checking each row.
# Index: importrow_job_order (job_id, id), kept up by the insert.
STAGE_ROWS = sql_statement(
    """
    INSERT INTO {rows} ({row_columns})
    SELECT %(organization)s, %(job)s, %(source_index)s, {batch_columns}
      FROM {batch}
    """,
    rows=ImportRow,
    row_columns=insert_columns(ImportRow),
    batch=BATCH_TABLE,
    batch_columns=BATCH_COLUMNS,
)

# The batch table emptied, for a caller whose transaction goes on (the commit empties it too). No index.
BATCH_EMPTY = sql_statement("DELETE FROM {batch}", batch=BATCH_TABLE)

# Plan the reads of a job's staging rows for what they are: many, and sorted in memory. They run right after the
# rows were staged, before any statistics know of them; the planner would take the staging rows for a handful and
# sort them (on disk, for a large import) rather than read them in order from importrow_job_order. Sorting by
# external_id gets memory enough for a large import. Transaction-local; the reset undoes them. No table.
STAGED_READS_PLAN = (
    "SET LOCAL enable_bitmapscan = off",
    "SET LOCAL enable_seqscan = off",
    "SET LOCAL work_mem = '64MB'",
)
STAGED_READS_RESET = (
    "RESET enable_bitmapscan",
    "RESET enable_seqscan",
    "RESET work_mem",
)

# Whether any external_id comes twice in the job's rows: most imports have no duplicate at all, and finding that
# out takes one sort of the ids, not three windows. Index: importrow_job_order (job_id, id).
STAGED_HAS_DUPLICATES = sql_statement(
    """
    SELECT EXISTS (
               SELECT 1
                 FROM {rows}
                WHERE job_id = %(job)s
                  AND organization_id = %(organization)s
                GROUP BY external_id
               HAVING count(*) > 1)
    """,
    rows=ImportRow,
)

# The rows whose external_id an earlier row of the job has (the first %(limit)s, in file order), with that earlier
# row's place and, on every row, how many such rows there are in all: one pass, where a second query for the count
# would sort all the staging rows again. Index: importrow_job_order (job_id, id).
STAGED_DUPLICATES = sql_statement(
    """
    SELECT source_index, line, external_id, first_source, first_line, count(*) OVER ()
      FROM (SELECT id, source_index, line, external_id,
                   first_value(source_index) OVER w AS first_source,
                   first_value(line) OVER w AS first_line,
                   row_number() OVER w AS n
              FROM {rows}
             WHERE job_id = %(job)s
               AND organization_id = %(organization)s
            WINDOW w AS (PARTITION BY external_id ORDER BY id)
           ) ranked
     WHERE n > 1
     ORDER BY id
     LIMIT %(limit)s
    """,
    rows=ImportRow,
)

# The ids of up to %(limit)s rows that repeat an earlier row's external_id (the first of each is kept).
# Index: importrow_job_order (job_id, id).
LATER_DUPLICATE_IDS = sql_statement(
    """
    SELECT id
      FROM (SELECT id, row_number() OVER (PARTITION BY external_id ORDER BY id) AS n
              FROM {rows}
             WHERE job_id = %(job)s
               AND organization_id = %(organization)s
           ) ranked
     WHERE n > 1
     LIMIT %(limit)s
    """,
    rows=ImportRow,
)

# Staging rows removed by id. Index: the primary key.
STAGED_ROWS_DELETE = sql_statement("DELETE FROM {rows} WHERE id = ANY(%(ids)s)", rows=ImportRow)

# The merge: a task for each of the job's rows whose external_id the project lacks, in file order; returns how
# many tasks were created and how many updated. A row just inserted has no deleting or locking transaction yet
# (xmax 0); an updated one has this one. Each row meets its task through the conflict's arbiter, whatever the
# planner believes about the tables' sizes (a join could pick a nested loop over every task of the organization
# per row, right after a large import, statistics not gathered yet).
# Index: importrow_job_order (job_id, id) for the rows; task_unique_external_id (project_id, external_id).
_MERGE = """
    WITH merged AS (
        INSERT INTO {tasks} ({task_columns})
        SELECT r.organization_id, gen_random_uuid(), %(now)s, %(project)s,
               r.external_id, r.data, r.priority, %(overlap)s,
               r.required_skills, r.language, r.gold_answer IS NOT NULL, r.qualification, r.gold_answer,
               r.suggestions
          FROM {rows} r
         WHERE r.job_id = %(job)s
           AND r.organization_id = %(organization)s
         ORDER BY r.id
            ON CONFLICT (project_id, external_id) {on_conflict}
        RETURNING (xmax = 0) AS inserted
    )
    SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
      FROM merged
"""
# The task's counters start at their database default (nothing taken, nothing done).
_TASK_COLUMNS = insert_columns(Task, leave_out=("taken", "done"))

# The merge that leaves existing tasks as they are.
MERGE_NEW = sql_statement(_MERGE, on_conflict="DO NOTHING", tasks=Task, task_columns=_TASK_COLUMNS, rows=ImportRow)
# The merge that also replaces the content of existing tasks whose staged row differs. Suggestions are merged field
# by field (a field the row suggests replaces the task's; the others stay, a model's among them). Whether a task is
# gold, and whether it is a qualification task, is fixed when it is created: changing either would move it between
# routing pools under annotators' feet (a gold task's answer may change).
MERGE_NEW_AND_CHANGED = sql_statement(
    _MERGE,
    on_conflict=sql_statement(
        """
        DO UPDATE
           SET data = EXCLUDED.data,
               priority = EXCLUDED.priority,
               required_skills = EXCLUDED.required_skills,
               language = EXCLUDED.language,
               suggestions = {tasks}.suggestions || EXCLUDED.suggestions,
               gold_answer = CASE WHEN {tasks}.is_gold AND EXCLUDED.gold_answer IS NOT NULL
                                  THEN EXCLUDED.gold_answer
                                  ELSE {tasks}.gold_answer END
         WHERE {tasks}.data IS DISTINCT FROM EXCLUDED.data
            OR {tasks}.priority <> EXCLUDED.priority
            OR {tasks}.required_skills IS DISTINCT FROM EXCLUDED.required_skills
            OR {tasks}.language <> EXCLUDED.language
            OR {tasks}.suggestions || EXCLUDED.suggestions IS DISTINCT FROM {tasks}.suggestions
            OR ({tasks}.is_gold AND EXCLUDED.gold_answer IS NOT NULL
                AND {tasks}.gold_answer IS DISTINCT FROM EXCLUDED.gold_answer)
        """,
        tasks=Task,
    ),
    tasks=Task,
    task_columns=_TASK_COLUMNS,
    rows=ImportRow,
)
