"""Reads behind the dashboards: a project's progress, throughput, review outcomes and agreement by day, each
annotator's record on it, and the organization's hours and items per annotator (the workforce report).

Every figure is one SQL aggregate (GROUP BY the UTC day, or the annotator) over the rows of the period, so a page
costs a fixed number of statements however many annotations a project holds; Python only fills in the days
without rows and joins a few dozen aggregated rows to their members. Days are UTC days.

What counts as an annotator's submission: an annotation that is not a reviewer's correction (a review names the
correction it wrote), so a task answered again after a rejection counts again, and a correction counts for no
one. Statements name the organization as the scoped managers would; row policies apply too.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection

from annotation.models import Annotation, Assignment, ProjectAgreement, Review, ReviewDecision, TaskAgreement
from annotation.services.quality import annotator_pseudonym
from core.context import current_organization_id
from core.db import sql_statement
from projects.models import Project, Task
from tenancy.models import Membership

# The longest period a page draws: a bar a day stays visible at this many, and the scans stay bounded.
PERIOD_MAX_DAYS = 366
PERIOD_DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Period:
    """Whole UTC days from `since` to `until`, both included."""

    since: date
    until: date

    @classmethod
    def ending(cls, until: date, *, days: int = PERIOD_DEFAULT_DAYS) -> "Period":
        return cls(since=until - timedelta(days=days - 1), until=until)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=UTC)

    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]


def _rows(statement: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement, {"organization": current_organization_id(), **params})
        return list(cursor.fetchall())


def _range(project: Project, period: Period) -> dict[str, Any]:
    return {"project": project.pk, "start": period.start, "end": period.end}


# --- completion --------------------------------------------------------------------------------------------------

# A live task is done once it holds as many submitted assignments as its overlap; it was done on the day of the
# latest of them. Tasks done before the period are counted together (day NULL) as the period's starting point.
# Index: assignment_project_state (project_id, state, id) finds the project's submitted assignments.
_COMPLETION = sql_statement(
    """
    WITH done AS (
        SELECT s.task_id, max(s.finished_at) AS at
          FROM {assignments} s
          JOIN {tasks} t ON t.id = s.task_id
         WHERE s.organization_id = %(organization)s
           AND s.project_id = %(project)s
           AND s.state = 'submitted'
           AND t.done >= t.overlap
           AND NOT t.is_gold
         GROUP BY s.task_id
    )
    SELECT CASE WHEN at < %(start)s THEN NULL ELSE (at AT TIME ZONE 'UTC')::date END AS day, count(*)
      FROM done
     WHERE at < %(end)s
     GROUP BY 1
    """,
    assignments=Assignment,
    tasks=Task,
)

# Index: task_project_id (project_id, id).
_LIVE_TASKS = sql_statement(
    """
    SELECT count(*)
      FROM {tasks}
     WHERE organization_id = %(organization)s
       AND project_id = %(project)s
       AND NOT is_gold
    """,
    tasks=Task,
)


@dataclass(frozen=True)
class Completion:
    """Live tasks done by the end of each day of the period, out of `total` live tasks."""

    total: int
    done_by_day: list[tuple[date, int]]


def project_completion(*, project: Project, period: Period) -> Completion:
    """Tasks done so far at the end of each day (cumulative, counting the tasks done before the period)."""
    counts = dict(_rows(_COMPLETION, _range(project, period)))
    running = counts.pop(None, 0)
    done_by_day = []
    for day in period.days():
        running += counts.get(day, 0)
        done_by_day.append((day, running))
    (total,) = _rows(_LIVE_TASKS, {"project": project.pk})[0]
    return Completion(total=total, done_by_day=done_by_day)


# --- throughput ----------------------------------------------------------------------------------------------

# Index: annotation_project_id (project_id, id) for the project's annotations; the review's correction_id foreign
# key index answers the NOT EXISTS.
_SUBMISSIONS = sql_statement(
    """
    SELECT (a.created_at AT TIME ZONE 'UTC')::date AS day, count(*)
      FROM {annotations} a
     WHERE a.organization_id = %(organization)s
       AND a.project_id = %(project)s
       AND a.created_at >= %(start)s
       AND a.created_at < %(end)s
       AND NOT EXISTS (SELECT 1 FROM {reviews} r WHERE r.correction_id = a.id)
     GROUP BY 1
    """,
    annotations=Annotation,
    reviews=Review,
)


def project_submissions_by_day(*, project: Project, period: Period) -> list[tuple[date, int]]:
    """Annotations submitted each day (corrections by reviewers left out), zero on days without any."""
    counts = dict(_rows(_SUBMISSIONS, _range(project, period)))
    return [(day, counts.get(day, 0)) for day in period.days()]


# --- review outcomes -----------------------------------------------------------------------------------------

# Index: the reviews are reached from the project's annotations (annotation_project_id), then by the reviews'
# annotation_id foreign key index.
_REVIEWS = sql_statement(
    """
    SELECT (r.created_at AT TIME ZONE 'UTC')::date AS day, r.decision, count(*)
      FROM {reviews} r
      JOIN {annotations} a ON a.id = r.annotation_id
     WHERE r.organization_id = %(organization)s
       AND a.project_id = %(project)s
       AND r.created_at >= %(start)s
       AND r.created_at < %(end)s
     GROUP BY 1, 2
    """,
    reviews=Review,
    annotations=Annotation,
)

REVIEW_DECISIONS = (ReviewDecision.ACCEPT, ReviewDecision.REJECT, ReviewDecision.CORRECT)


def project_review_outcomes_by_day(*, project: Project, period: Period) -> list[tuple[date, dict[str, int]]]:
    """Decisions taken each day, at any review level: {"accept": n, "reject": n, "correct": n}."""
    counts = {(day, decision): n for day, decision, n in _rows(_REVIEWS, _range(project, period))}
    return [(day, {d.value: counts.get((day, d.value), 0) for d in REVIEW_DECISIONS}) for day in period.days()]


# --- agreement -----------------------------------------------------------------------------------------------

# A task's agreement is recomputed after each answer and review, so it is dated by the day it was last computed;
# only tasks with two answers or more have one worth averaging.
# Index: none of its own: the project's task agreements are read whole (one row per task with overlap).
_AGREEMENT = sql_statement(
    """
    SELECT (g.computed_at AT TIME ZONE 'UTC')::date AS day,
           f.key,
           avg(CASE WHEN jsonb_typeof(f.value) = 'number' THEN (f.value)::float END),
           count(*) FILTER (WHERE jsonb_typeof(f.value) = 'number')
      FROM {agreements} g
     CROSS JOIN LATERAL jsonb_each(g.fields) AS f
     WHERE g.organization_id = %(organization)s
       AND g.project_id = %(project)s
       AND g.annotations >= 2
       AND g.computed_at >= %(start)s
       AND g.computed_at < %(end)s
     GROUP BY 1, 2
    """,
    agreements=TaskAgreement,
)


@dataclass(frozen=True)
class FieldAgreementByDay:
    """One label field's mean task agreement (0 to 1) per day; None on days no task of it was scored."""

    name: str
    by_day: list[tuple[date, float | None]]
    tasks: int


def project_agreement_by_day(*, project: Project, period: Period) -> list[FieldAgreementByDay]:
    """Per field of the current schema (then any other field that was scored), the mean agreement of the tasks
    whose agreement was last computed on each day."""
    means: dict[str, dict[date, float]] = {}
    tasks: dict[str, int] = {}
    for day, name, mean, scored in _rows(_AGREEMENT, _range(project, period)):
        if scored:
            means.setdefault(name, {})[day] = mean
            tasks[name] = tasks.get(name, 0) + scored
    order = [f.get("name") for f in (project.label_schema or {}).get("fields", [])]
    names = [n for n in order if n in means] + sorted(set(means) - set(order))
    return [
        FieldAgreementByDay(name=name, by_day=[(day, means[name].get(day)) for day in period.days()], tasks=tasks[name])
        for name in names
    ]


# --- each annotator's record on a project --------------------------------------------------------------------

# Submissions, the median time on task (answers that reported none left out), live gold accuracy (the
# qualification test has its own report), and review outcomes of the annotator's own answers; beside them the
# tasks they skipped. Index: annotation_project_id, then the tasks' primary key; assignment_project_state
# (project_id, state, id) for the skips.
_ANNOTATORS = sql_statement(
    """
    WITH own AS (
        SELECT a.annotator_id,
               count(*) AS submitted,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY a.time_spent_ms)
                   FILTER (WHERE a.time_spent_ms > 0) AS median_ms,
               count(a.gold_score) FILTER (WHERE NOT t.qualification) AS gold_scored,
               avg(a.gold_score) FILTER (WHERE NOT t.qualification) AS gold_accuracy,
               count(*) FILTER (WHERE a.review_state IN ('accepted', 'rejected', 'corrected')) AS reviewed,
               count(*) FILTER (WHERE a.review_state = 'rejected') AS rejected
          FROM {annotations} a
          JOIN {tasks} t ON t.id = a.task_id
         WHERE a.organization_id = %(organization)s
           AND a.project_id = %(project)s
           AND a.created_at >= %(start)s
           AND a.created_at < %(end)s
           AND NOT EXISTS (SELECT 1 FROM {reviews} r WHERE r.correction_id = a.id)
         GROUP BY a.annotator_id
    ),
    skipped AS (
        SELECT s.annotator_id, count(*) AS skipped
          FROM {assignments} s
         WHERE s.organization_id = %(organization)s
           AND s.project_id = %(project)s
           AND s.state = 'skipped'
           AND s.finished_at >= %(start)s
           AND s.finished_at < %(end)s
         GROUP BY s.annotator_id
    )
    SELECT coalesce(own.annotator_id, skipped.annotator_id),
           coalesce(own.submitted, 0),
           own.median_ms,
           coalesce(own.gold_scored, 0),
           own.gold_accuracy,
           coalesce(own.reviewed, 0),
           coalesce(own.rejected, 0),
           coalesce(skipped.skipped, 0)
      FROM own
      FULL JOIN skipped ON skipped.annotator_id = own.annotator_id
    """,
    annotations=Annotation,
    tasks=Task,
    reviews=Review,
    assignments=Assignment,
)


@dataclass(frozen=True)
class AnnotatorRecord:
    """One annotator's work on a project in the period, under the name the page may show."""

    member: Membership
    name: str  # the e-mail, or the project's pseudonym of the member on a blind project
    submitted: int
    median_seconds: float | None
    gold_scored: int
    gold_accuracy: float | None
    reviewed: int
    rejected: int
    skipped: int
    peer_agreement: float | None  # share of shared items answered alike with the others, over every field
    peer_items: int

    @property
    def rejection_rate(self) -> float | None:
        return self.rejected / self.reviewed if self.reviewed else None


def _peer_agreement(report: dict[str, Any]) -> dict[str, tuple[float, int]]:
    """pseudonym -> (observed agreement with every peer, weighted by the items they share; those items), from the
    project's agreement report as last computed."""
    agreed: dict[str, float] = {}
    shared: dict[str, int] = {}
    for field_report in report.get("fields", []):
        for pair in field_report.get("pairs", []):
            units, observed = pair.get("shared_units") or 0, pair.get("observed")
            if not units or observed is None:
                continue
            for who in (pair["annotator_a"], pair["annotator_b"]):
                agreed[who] = agreed.get(who, 0.0) + observed * units
                shared[who] = shared.get(who, 0) + units
    return {who: (agreed[who] / shared[who], shared[who]) for who in shared}


def project_annotator_records(*, project: Project, period: Period) -> list[AnnotatorRecord]:
    """Every annotator who submitted or skipped work on the project in the period, most submissions first.

    Agreement with peers is the project's agreement report as last computed (all time): its pairs are named by
    pseudonym, which is matched to each member here. Pseudonyms replace e-mails on blind projects."""
    rows = _rows(_ANNOTATORS, _range(project, period))
    members = Membership.objects.filter(pk__in=[row[0] for row in rows]).select_related("user").in_bulk()
    agreement = ProjectAgreement.objects.filter(project=project).values_list("report", flat=True).first() or {}
    peers = _peer_agreement(agreement)
    records = []
    for member_id, submitted, median_ms, gold_scored, gold_accuracy, reviewed, rejected, skipped in rows:
        member = members[member_id]
        pseudonym = annotator_pseudonym(project_uuid=project.uuid, member_uuid=member.uuid)
        peer, peer_items = peers.get(pseudonym, (None, 0))
        records.append(
            AnnotatorRecord(
                member=member,
                name=pseudonym if project.blind else member.user.email,
                submitted=submitted,
                median_seconds=None if median_ms is None else median_ms / 1000,
                gold_scored=gold_scored,
                gold_accuracy=gold_accuracy,
                reviewed=reviewed,
                rejected=rejected,
                skipped=skipped,
                peer_agreement=peer,
                peer_items=peer_items,
            )
        )
    records.sort(key=lambda r: (-r.submitted, r.name))
    return records


# --- the workforce report ------------------------------------------------------------------------------------

# Per member across the organization (or one project): items submitted and the time on task they reported, and
# apart from that the time they held leases (claimed to submitted, skipped, released, expired or revoked: the
# latest lease of each assignment). No index serves the period across projects: both scans are of the
# organization's rows in the period, bounded by the period's length.
_WORKFORCE = sql_statement(
    """
    WITH own AS (
        SELECT a.annotator_id,
               count(*) AS items,
               sum(a.time_spent_ms) AS time_spent_ms,
               count(DISTINCT a.project_id) AS projects
          FROM {annotations} a
         WHERE a.organization_id = %(organization)s
           AND (%(project)s::bigint IS NULL OR a.project_id = %(project)s::bigint)
           AND a.created_at >= %(start)s
           AND a.created_at < %(end)s
           AND NOT EXISTS (SELECT 1 FROM {reviews} r WHERE r.correction_id = a.id)
         GROUP BY a.annotator_id
    ),
    leased AS (
        SELECT s.annotator_id,
               count(*) AS leases,
               sum(extract(epoch FROM s.finished_at - s.claimed_at)) AS lease_seconds,
               count(*) FILTER (WHERE s.state = 'skipped') AS skipped
          FROM {assignments} s
         WHERE s.organization_id = %(organization)s
           AND (%(project)s::bigint IS NULL OR s.project_id = %(project)s::bigint)
           AND s.finished_at >= %(start)s
           AND s.finished_at < %(end)s
           AND s.claimed_at IS NOT NULL
           AND s.finished_at >= s.claimed_at
         GROUP BY s.annotator_id
    )
    SELECT coalesce(own.annotator_id, leased.annotator_id),
           coalesce(own.items, 0),
           coalesce(own.time_spent_ms, 0),
           coalesce(own.projects, 0),
           coalesce(leased.leases, 0),
           coalesce(leased.lease_seconds, 0),
           coalesce(leased.skipped, 0)
      FROM own
      FULL JOIN leased ON leased.annotator_id = own.annotator_id
    """,
    annotations=Annotation,
    reviews=Review,
    assignments=Assignment,
)


@dataclass(frozen=True)
class WorkforceRow:
    """One member's work in the period: items and hours by two measures."""

    member: Membership
    items: int
    hours_on_task: float  # the time on task the labelling page reported with each submission
    projects: int
    leases: int
    hours_leased: float  # from each lease's claim to its end, idle time included
    skipped: int


def workforce_report(*, period: Period, project: Project | None = None) -> list[WorkforceRow]:
    """Every member who submitted or held work in the period (on `project`, or on any), by e-mail."""
    rows = _rows(_WORKFORCE, {"project": project.pk if project else None, "start": period.start, "end": period.end})
    members = Membership.objects.filter(pk__in=[row[0] for row in rows]).select_related("user").in_bulk()
    report = [
        WorkforceRow(
            member=members[member_id],
            items=items,
            hours_on_task=time_spent_ms / 3_600_000,
            projects=projects,
            leases=leases,
            hours_leased=float(lease_seconds) / 3600,
            skipped=skipped,
        )
        for member_id, items, time_spent_ms, projects, leases, lease_seconds, skipped in rows
    ]
    report.sort(key=lambda r: r.member.user.email)
    return report
