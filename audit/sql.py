"""The audit trail's hand-written statements: numbering and writing events, sealing, retention and streaming.

Table names and column lists come from the models (core.db), put in once when this module is imported; every
value is a named parameter. An INSERT's column list is its model's columns in declaration order, less those
left to their defaults, and its values follow that order. The one statement whose VALUES lists vary in length
per call takes them as `{name}` slots, filled by core.db.values_rows.
"""

from audit.models import AuditEvent, AuditSeal, AuditSequence, AuditStreamCursor, AuditSubject
from core.db import insert_columns, sql_statement

# --- recording ---

# The events' own columns, in the order of the model, as the `given` rows of NUMBER_AND_RECORD carry them: all
# but the organization (one per statement) and the number (the counter's).
EVENT_GIVEN_COLUMNS = insert_columns(AuditEvent, leave_out=("organization_id", "sequence"))

# Number and write events of distinct categories, their subjects with them, in one statement. Each category's
# counter is created or raised by one (its row lock held until the transaction ends, so numbers are gapless and
# commit in order); each event is written with its number, unless the number is taken already (ON CONFLICT DO
# NOTHING: see audit.services.recording); each subject row is written with its event. Returns, per category, the
# number given out and the new event's id, NULL when the number was taken.
#
# Slots, one row each: {counter_rows} COUNTER_ROW per category, {given_rows} GIVEN_ROW per event, {subject_rows}
# SUBJECT_ROW per subject (or EMPTY_SUBJECT_ROWS). The event insert has no conflict target, so that the skip works
# whichever unique index a forger left in place.
# Index: audit_sequence_one_per_category (organization_id, category), the counters' conflict arbiter;
# audit_event_unique_sequence (organization_id, category, sequence), probed by the event insert anyway.
NUMBER_AND_RECORD = sql_statement(
    """
    WITH numbered AS (
        INSERT INTO {counters} ({counter_columns})
        VALUES {counter_rows}
            ON CONFLICT (organization_id, category) DO UPDATE
           SET last_value = {counters}.last_value + 1
        RETURNING category, last_value
    ),
    given (ordinal, {given_columns}) AS (
        VALUES {given_rows}
    ),
    recorded AS (
        INSERT INTO {events} ({event_columns})
        SELECT %(organization)s, n.last_value, g.occurred_at, g.action, g.category, g.outcome,
               g.actor_user_id, g.actor_label, g.actor_token_prefix, g.ip, g.user_agent, g.request_id,
               g.target_type, g.target_id, g.changes, g.metadata, g.mac
          FROM given g
          JOIN numbered n ON n.category = g.category
            ON CONFLICT DO NOTHING
        RETURNING id, category, sequence, organization_id, occurred_at
    ),
    named AS (
        INSERT INTO {subjects} ({subject_columns})
        SELECT r.organization_id, s.subject, r.occurred_at, r.id
          FROM recorded r
          JOIN given g ON g.category = r.category
          JOIN (VALUES {subject_rows}) AS s (ordinal, subject) ON s.ordinal = g.ordinal
    )
    SELECT n.category, r.id, n.last_value
      FROM numbered n
      LEFT JOIN recorded r ON r.category = n.category
    """,
    counters=AuditSequence,
    events=AuditEvent,
    subjects=AuditSubject,
    # A new counter's MAC threshold is its database default.
    counter_columns=insert_columns(AuditSequence, leave_out=("mac_since", "mac_since_mac")),
    given_columns=EVENT_GIVEN_COLUMNS,
    event_columns=insert_columns(AuditEvent),
    subject_columns=insert_columns(AuditSubject),
    counter_rows="{counter_rows}",
    given_rows="{given_rows}",
    subject_rows="{subject_rows}",
)
# One category's counter, created at 1 or raised by one.
COUNTER_ROW = "(%(organization)s, %(category)s, 1)"
# One event, in the order of EVENT_GIVEN_COLUMNS after its ordinal; every value cast, so that a NULL in any row
# still has its column's type.
GIVEN_ROW = """(
    %(ordinal)s::int, %(occurred_at)s::timestamptz, %(action)s::varchar, %(category)s::varchar,
    %(outcome)s::varchar, %(actor_user_id)s::bigint, %(actor_label)s::varchar, %(actor_token_prefix)s::varchar,
    %(ip)s::inet, %(user_agent)s::varchar, %(request_id)s::varchar, %(target_type)s::varchar,
    %(target_id)s::varchar, %(changes)s::jsonb, %(metadata)s::jsonb, %(mac)s::varchar
)"""
# One object an event names, by the event's ordinal.
SUBJECT_ROW = "(%(ordinal)s::int, %(subject)s::varchar)"
# No subject at all: a row that joins no event.
EMPTY_SUBJECT_ROWS = "(NULL::int, NULL::varchar)"

# Move the counters of %(categories)s past every event of their category, so that the next number is free
# whatever was forged ahead of it (this transaction holds the counters' row locks already).
# Index: audit_sequence_one_per_category (organization_id, category); audit_event_unique_sequence
# (organization_id, category, sequence) gives each category's last number.
COUNTERS_SKIP_TAKEN = sql_statement(
    """
    UPDATE {counters} c
       SET last_value = GREATEST(c.last_value, (
               SELECT max(e.sequence)
                 FROM {events} e
                WHERE e.organization_id = c.organization_id
                  AND e.category = c.category))
     WHERE c.organization_id = %(organization)s
       AND c.category = ANY(%(categories)s)
    """,
    counters=AuditSequence,
    events=AuditEvent,
)

# --- sealing ---

# Take the transaction-level advisory lock of one chain (an organization's category), if no other sealer holds
# it. No table.
SEAL_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext('audit.seal'), hashtext(%(chain)s))"

# A batch of a chain's seals (each event's number and hash) in one statement, arrays unnested into rows.
# Index: audit_seal_unique (organization_id, category, sequence), kept up by the insert.
SEALS_INSERT = sql_statement(
    """
    INSERT INTO {seals} ({seal_columns})
    SELECT %(organization)s, %(category)s, s, h
      FROM unnest(%(sequences)s::bigint[], %(hashes)s::text[]) AS t(s, h)
    """,
    seals=AuditSeal,
    seal_columns=insert_columns(AuditSeal),
)

# --- retention ---

# Delete a category's events numbered up to %(through)s and their subject rows (found through the ids the events'
# deletion returns), in one statement; returns how many events went.
# Index: audit_event_unique_sequence (organization_id, category, sequence); the subjects' event_id index.
EVENTS_EXPIRE = sql_statement(
    """
    WITH expired AS (
        DELETE FROM {events}
         WHERE organization_id = %(organization)s
           AND category = %(category)s
           AND sequence <= %(through)s
        RETURNING id
    ),
    unnamed AS (
        DELETE FROM {subjects}
         WHERE organization_id = %(organization)s
           AND event_id IN (SELECT id FROM expired)
    )
    SELECT count(*)
      FROM expired
    """,
    events=AuditEvent,
    subjects=AuditSubject,
)

# Whether the connected role may delete from the table named %(table)s. No index (the catalog's).
MAY_DELETE = "SELECT has_table_privilege(current_user, %(table)s, 'DELETE')"

# --- streaming ---

# The category's stream cursor, created at 0 if it has none yet.
# Index: audit_stream_cursor_unique (organization_id, category), the conflict's arbiter.
STREAM_CURSOR_ENSURE = sql_statement(
    """
    INSERT INTO {cursors} ({cursor_columns})
    VALUES (%(organization)s, %(category)s, 0, now())
        ON CONFLICT (organization_id, category) DO NOTHING
    """,
    cursors=AuditStreamCursor,
    cursor_columns=insert_columns(AuditStreamCursor),
)
