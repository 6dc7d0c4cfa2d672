"""The export's hand-written statement: the native format's lines, rendered by PostgreSQL and streamed by COPY
(jsonl.py). The record formats read through the ORM only (records.py).

The statement reads what records.py's querysets choose, so that every format exports the same tasks and
annotations: their SQL goes in per chunk, as the `{tasks}` and `{annotations}` slots, with their parameters. The
ORM gives those positionally, and psycopg does not mix the two styles, so the statement's own parameter (the map
of pseudonyms) is positional too: it comes between the two subqueries' parameters.
"""

from annotation.exports.records import ANNOTATION_COLUMNS, CORRECTED, TASK_COLUMNS
from core.db import sql_statement

# The annotation columns the lines read: what every reader takes, and what orders a task's annotations.
LINE_ANNOTATION_COLUMNS = (*ANNOTATION_COLUMNS, "assignment_id", "id")

# One JSON line per task of the chunk, in task order, with every annotation that counts and its provenance.
# Annotations are aggregated per task before the join, so that tasks are never grouped by their (large) data. The
# annotator's pseudonym comes from the map of membership ids passed as the parameter: it is an HMAC keyed by the
# platform's secret, which the database does not hold. Timestamps are written as `base.iso` writes them (UTC,
# microseconds only when there are any). Index: those of the subqueries, task_project_id (project_id, id) for the
# chunk's tasks and annotation_task_id (task_id, id) for their annotations.
LINES = sql_statement(
    """
    SELECT '{"id":"' || t.uuid
           || '","external_id":' || to_json(t.external_id)::text
           || ',"data":' || t.data::text
           || ',"created_at":"'
           || replace(to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '.000000Z', 'Z')
           || '","annotations":[' || a.annotations || ']}'
      FROM ({tasks}) AS t ({task_columns})
      JOIN (SELECT a.task_id,
                   string_agg(
                       '{"id":"' || a.uuid || '","result":' || a.result::text
                       || ',"provenance":{"schema_version":' || a.schema_version
                       || ',"guidelines_version":' || a.guidelines_version
                       || ',"annotator":' || (%s::jsonb -> a.annotator_id::text)::text
                       || ',"time_spent_ms":' || a.time_spent_ms
                       || ',"review_outcome":'
                       || to_json(CASE WHEN a.is_correction THEN '{corrected}' ELSE a.review_state END)::text
                       || ',"version":' || a.version
                       || ',"created_at":"'
                       || replace(to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                                  '.000000Z', 'Z')
                       || '","suggestions":' || a.suggestions::text
                       || '}}',
                       ',' ORDER BY a.assignment_id, a.turn, a.version DESC, a.id DESC) AS annotations
              FROM ({annotations}) AS a ({annotation_columns})
             GROUP BY a.task_id) AS a ON a.task_id = t.id
     ORDER BY t.id
    """,
    task_columns=", ".join(TASK_COLUMNS),
    annotation_columns=", ".join(LINE_ANNOTATION_COLUMNS),
    corrected=CORRECTED,
    tasks="{tasks}",
    annotations="{annotations}",
)

# LINES streamed out as CSV with a delimiter and a quote that JSON text never holds (it escapes every control
# character), so each line comes out as it is, unlike COPY's text format, which doubles backslashes. A NULL line
# would read \x03.
LINES_COPY = sql_statement(
    "COPY ({lines}) TO STDOUT (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01', NULL E'\\x03')",
    lines=LINES,
)
