"""Routing's hand-written statements: the claim, a lease's lock and expiry, the dispatcher's queueing, the
submit, and the reads the claim makes. Each runs on every request of its kind, so each does its work in one
round trip and names the index it is planned on.

Table names and column lists come from the models (core.db), put in once when this module is imported; every
value is a named parameter. An INSERT's column list is its model's columns in declaration order, less those
left to their defaults, and its values follow that order.
"""

from annotation.models import LIVE_STATES, Annotation, AnnotatorProgress, Assignment, ConflictExclusion
from core.db import insert_columns, select_columns, sql_statement
from projects.models import Project, Task
from tenancy.models import MemberSkill, Skill

# --- the claim ---

# Create the member's progress row on the project, or lock it if it exists (ON CONFLICT DO UPDATE takes the row
# lock, which serialises the member's concurrent claims), and return it.
# Index: progress_unique_project_annotator (project_id, annotator_id), the conflict's arbiter.
PROGRESS_LOCK = sql_statement(
    """
    INSERT INTO {progress} AS p ({progress_columns})
    VALUES (%(organization)s, %(uuid)s, %(now)s, %(project)s, %(member)s,
            0, 0, 0,
            %(state)s, 0, 0, 0,
            0, 0, '',
            %(now)s, %(now)s)
        ON CONFLICT (project_id, annotator_id) DO UPDATE
       SET last_seen_at = EXCLUDED.last_seen_at
    RETURNING {progress_returned}
    """,
    progress=AnnotatorProgress,
    # Not yet paused, nor locked out of the qualification: NULL.
    progress_columns=insert_columns(AnnotatorProgress, leave_out=("locked_until", "paused_at")),
    progress_returned=select_columns(AnnotatorProgress, "p"),
)

# The member's live (queued and active) assignments on the project, oldest first, each with its task.
# Index: assignment_live (annotator_id, project_id, state, id), partial on the live states. They are spelled out
# in the text rather than passed as a parameter, so that the planner can match the index's condition.
LIVE_ASSIGNMENTS = sql_statement(
    """
    SELECT {assignment_columns}, {task_columns}
      FROM {assignments} a
      JOIN {tasks} t ON t.id = a.task_id
     WHERE a.organization_id = %(organization)s
       AND a.annotator_id = %(member)s
       AND a.project_id = %(project)s
       AND a.state IN ({live_states})
     ORDER BY a.id
    """,
    assignments=Assignment,
    tasks=Task,
    assignment_columns=select_columns(Assignment, "a"),
    task_columns=select_columns(Task, "t"),
    live_states=", ".join(f"'{state.value}'" for state in LIVE_STATES),
)

# The claim proper, for one pool of tasks: pick the first task of the pool the member may do and never had
# (locking it, skipping tasks another claim holds), assign it to them with a lease, count it taken and the member
# served; one statement. The result is one row: the task picked, the assignment and the task as written. A row
# whose assignment is NULL means the insert met the unique (task, annotator) pair: the dispatcher queued that
# task for the member between the claim's snapshot and its lock (the caller tries again).
#
# OFFSET 0 keeps the NOT EXISTS a probe of assignment_unique_task_annotator (task_id, annotator_id) per
# candidate: as a join, the planner may read the member's whole history first, a cost that grows with every task
# they do. The insert comes before the count: if the dispatcher queued this very task for the member a moment
# ago, ON CONFLICT leaves both rows as they are and the counter is not raised for nothing.
_CLAIM = """
    WITH pick AS (
        SELECT t.id
          FROM {tasks} t
         WHERE t.project_id = %(project)s
           AND {pool}
           AND NOT EXISTS (
                   SELECT 1
                     FROM {assignments} a
                    WHERE a.task_id = t.id
                      AND a.annotator_id = %(member)s
                   OFFSET 0)
           AND (t.required_skills = '{}'::jsonb
                OR NOT EXISTS (
                       SELECT 1
                         FROM jsonb_each_text(t.required_skills) r
                        WHERE COALESCE((%(skills)s::jsonb ->> r.key)::int, 0) < r.value::int))
           AND (t.language = '' OR lower(t.language) = ANY(%(languages)s))
         ORDER BY {serving_order}
         LIMIT 1
           FOR UPDATE OF t SKIP LOCKED
    ),
    ins AS (
        INSERT INTO {assignments} ({assignment_columns})
        SELECT t.organization_id, gen_random_uuid(), %(now)s, t.project_id, t.id, %(member)s,
               'active', %(source)s, t.is_gold,
               %(token)s, %(expires)s, %(now)s,
               ''
          FROM {tasks} t
          JOIN pick ON pick.id = t.id
            ON CONFLICT (task_id, annotator_id) DO NOTHING
        RETURNING *
    ),
    bump AS (
        UPDATE {tasks} t
           SET taken = t.taken + 1
          FROM ins
         WHERE t.id = ins.task_id
        RETURNING t.*
    ),
    served AS (
        UPDATE {progress} p
           SET served = p.served + 1,
               gold_served = p.gold_served + (bump.is_gold AND NOT bump.qualification)::int
          FROM bump
         WHERE p.id = %(progress)s
    )
    SELECT pick.id, {assignment_returned}, {task_returned}
      FROM pick
      LEFT JOIN ins ON true
      LEFT JOIN bump ON true
"""


def _claim(*, pool: str, serving_order: str) -> str:
    return sql_statement(
        _CLAIM,
        pool=pool,
        serving_order=serving_order,
        tasks=Task,
        assignments=Assignment,
        progress=AnnotatorProgress,
        # Nothing finished, and claimed, not assigned by anyone.
        assignment_columns=insert_columns(Assignment, leave_out=("finished_at", "assigned_by_id")),
        assignment_returned=select_columns(Assignment, "ins"),
        task_returned=select_columns(Task, "bump"),
    )


# The claim from the live pool: open tasks, by priority, then breadth-first (tasks others already started finish
# before new ones open). Index: task_open_queue (project_id, priority DESC, taken DESC, id), partial on
# taken < overlap AND NOT is_gold, which the pool's condition repeats so that the planner can use it.
CLAIM_LIVE = _claim(pool="t.taken < t.overlap AND NOT t.is_gold", serving_order="t.priority DESC, t.taken DESC, t.id")
# The claim from the gold pool (gold tasks that are not qualification tasks), oldest first.
# Index: task_gold (project_id, id), partial on is_gold.
CLAIM_GOLD = _claim(pool="t.is_gold AND NOT t.qualification", serving_order="t.id")
# The claim from the qualification pool (the gold tasks of the entry test), oldest first.
# Index: task_gold (project_id, id), partial on is_gold.
CLAIM_QUALIFICATION = _claim(pool="t.is_gold AND t.qualification", serving_order="t.id")

# --- leases ---

# The actor's own assignment by its public id, locked, with its task and project: every heartbeat and submit
# starts with it. Index: the unique index on annotation_assignment.uuid; the task and project by primary key.
OWN_ASSIGNMENT_FOR_UPDATE = sql_statement(
    """
    SELECT {assignment_columns}, {task_columns}, {project_columns}
      FROM {assignments} a
      JOIN {tasks} t ON t.id = a.task_id
      JOIN {projects} p ON p.id = a.project_id
     WHERE a.uuid = %(uuid)s
       AND a.annotator_id = %(member)s
       AND a.organization_id = %(organization)s
       FOR UPDATE OF a
    """,
    assignments=Assignment,
    tasks=Task,
    projects=Project,
    assignment_columns=select_columns(Assignment, "a"),
    task_columns=select_columns(Task, "t"),
    project_columns=select_columns(Project, "p"),
)

# Expire a batch of lapsed leases and give their slots back: the leases found are locked, SKIP LOCKED (a lease
# being submitted right now is left alone, and two reapers never expire the same one), ended, and their tasks'
# counters lowered; returns each expired lease's public id and task.
_EXPIRE = """
    WITH lapsed AS (
        SELECT a.id
          FROM {assignments} a
         WHERE a.state = 'active'
           AND a.lease_expires_at <= %(now)s
           {among}
         ORDER BY a.lease_expires_at
         LIMIT %(limit)s
           FOR UPDATE SKIP LOCKED
    ),
    gone AS (
        UPDATE {assignments} a
           SET state = 'expired',
               finished_at = %(now)s,
               lease_token = NULL,
               lease_expires_at = NULL
          FROM lapsed
         WHERE a.id = lapsed.id
        RETURNING a.id, a.uuid, a.task_id
    ),
    freed AS (
        UPDATE {tasks} t
           SET taken = t.taken - g.n
          FROM (SELECT task_id, count(*) AS n FROM gone GROUP BY task_id) g
         WHERE t.id = g.task_id
    )
    SELECT uuid, task_id
      FROM gone
"""
# The reaper's: every lapsed lease of the organization, the longest lapsed first.
# Index: assignment_lease_out (lease_expires_at), partial on state = 'active'.
LEASES_EXPIRE = sql_statement(_EXPIRE, among="", assignments=Assignment, tasks=Task)
# A claim's: only the lapsed leases among %(ids)s, the member's own. Index: the primary key.
LEASES_EXPIRE_AMONG = sql_statement(_EXPIRE, among="AND a.id = ANY(%(ids)s)", assignments=Assignment, tasks=Task)

# --- dispatch ---

# Reserve one of the task's slots for the member (state queued): lock the task if it has a free slot, insert the
# assignment unless the member had the task already, count it taken; returns the new assignment's id, if any.
# Index: the task's primary key; assignment_unique_task_annotator (task_id, annotator_id), the conflict's arbiter.
ASSIGNMENT_QUEUE = sql_statement(
    """
    WITH slot AS (
        SELECT t.id, t.organization_id, t.project_id, t.is_gold
          FROM {tasks} t
         WHERE t.id = %(task)s
           AND t.taken < t.overlap
           FOR UPDATE
    ),
    ins AS (
        INSERT INTO {assignments} ({assignment_columns})
        SELECT organization_id, gen_random_uuid(), %(now)s, project_id, id, %(member)s,
               'queued', %(source)s, is_gold,
               %(by)s, ''
          FROM slot
            ON CONFLICT (task_id, annotator_id) DO NOTHING
        RETURNING id, task_id
    ),
    bump AS (
        UPDATE {tasks} t
           SET taken = t.taken + 1
          FROM ins
         WHERE t.id = ins.task_id
    )
    SELECT id
      FROM ins
    """,
    tasks=Task,
    assignments=Assignment,
    # Queued: no lease yet, nothing finished.
    assignment_columns=insert_columns(
        Assignment, leave_out=("lease_token", "lease_expires_at", "claimed_at", "finished_at")
    ),
)

# --- submit ---

# Mark the leased assignment submitted, count the task done and the member's submission, and return whether the
# assignment was still active with the (id, version) of its latest earlier annotation, if any. Every part also
# names the organization, as the scoped managers would; row policies apply too.
# Index: the assignment's and the task's primary keys; progress_unique_project_annotator (project_id,
# annotator_id); the annotations' assignment_id foreign-key index.
ASSIGNMENT_FINISH = sql_statement(
    """
    WITH finished AS (
        UPDATE {assignments}
           SET state = %(submitted)s,
               finished_at = %(now)s
         WHERE id = %(assignment)s
           AND organization_id = %(organization)s
           AND state = %(active)s
        RETURNING task_id
    ),
    counted AS (
        UPDATE {tasks} t
           SET done = t.done + 1
          FROM finished
         WHERE t.id = finished.task_id
           AND t.organization_id = %(organization)s
    ),
    progressed AS (
        UPDATE {progress} p
           SET submitted = p.submitted + 1
         WHERE p.project_id = %(project)s
           AND p.annotator_id = %(member)s
           AND p.organization_id = %(organization)s
           AND EXISTS (SELECT 1 FROM finished)
    )
    SELECT (SELECT count(*) FROM finished), previous.id, previous.version
      FROM (SELECT 1) AS one
      LEFT JOIN LATERAL (
               SELECT id, version
                 FROM {annotations}
                WHERE assignment_id = %(assignment)s
                  AND organization_id = %(organization)s
                ORDER BY version DESC
                LIMIT 1
           ) AS previous ON true
    """,
    assignments=Assignment,
    tasks=Task,
    progress=AnnotatorProgress,
    annotations=Annotation,
)

# --- reads (annotation.selectors) ---

# The member's current skill levels by name (expired ones left out) and the conflict-of-interest rules that may
# concern them on the project, in one statement. The organization filter is the one the scoped managers add;
# row-level security applies as well. Index: member_skill_unique (membership_id, skill_id) and the skills'
# primary key; the exclusions' project_id and membership_id foreign-key indexes.
MEMBER_ROUTING_FACTS = sql_statement(
    """
    SELECT (SELECT coalesce(jsonb_object_agg(s.name, ms.level), '{}'::jsonb)
              FROM {member_skills} ms
              JOIN {skills} s ON s.id = ms.skill_id
             WHERE ms.organization_id = %(organization)s
               AND ms.membership_id = %(member)s
               AND (ms.expires_at IS NULL OR ms.expires_at > %(now)s)),
           (SELECT coalesce(jsonb_agg(jsonb_build_array(e.membership_id, e.attribute, e.value)), '[]'::jsonb)
              FROM {exclusions} e
             WHERE e.organization_id = %(organization)s
               AND (e.project_id = %(project)s OR e.project_id IS NULL)
               AND (e.membership_id = %(member)s OR e.membership_id IS NULL))
    """,
    member_skills=MemberSkill,
    skills=Skill,
    exclusions=ConflictExclusion,
)

# The organization's project with this public id, for a claim. Index: the unique index on
# projects_project.uuid.
PROJECT_TO_CLAIM = sql_statement(
    """
    SELECT {project_columns}
      FROM {projects} p
     WHERE p.uuid = %(uuid)s
       AND p.organization_id = %(organization)s
    """,
    projects=Project,
    project_columns=select_columns(Project, "p"),
)


# The data browser's search box (selectors.task_browser): a task whose data, as JSON text, holds the word typed
# (one condition per word; the parameter is an ILIKE pattern with its wildcards escaped). No index serves it, on
# purpose: under the tables' forced row-level security, PostgreSQL uses an index only for leakproof operators (the
# policy must be applied first), and neither full-text (@@) nor trigram or LIKE matching is leakproof, so a GIN
# index would cost every import and never be read. It is a scan of the project's tasks that stops at a page.
TASK_DATA_CONTAINS = "data::text ILIKE %s"
