"""Reads of suggestions: how often annotators kept what was suggested to them, per field and per agent."""

from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet

from annotation.models import Annotation, SuggestionJob
from core.db import sql_statement
from projects.models import Project

# Each annotation's recorded outcome per suggested field, counted twice over: per field and per agent. Annotations
# without any suggestion (the empty object) are passed over before their outcomes are unpacked.
# Index: annotation_project_id (project_id, id).
_ACCEPTANCE = sql_statement(
    """
    SELECT GROUPING(s.key) = 0 AS by_field,
           CASE WHEN GROUPING(s.key) = 0 THEN s.key ELSE coalesce(s.value ->> 'agent', '') END AS name,
           count(*) FILTER (WHERE (s.value ->> 'shown')::boolean) AS shown,
           count(*) FILTER (WHERE (s.value ->> 'shown')::boolean AND (s.value ->> 'kept')::boolean) AS kept
      FROM {annotations} a
     CROSS JOIN LATERAL jsonb_each(a.suggestions) AS s (key, value)
     WHERE a.project_id = %(project)s
       AND a.organization_id = %(organization)s
       AND a.suggestions <> '{}'::jsonb
     GROUP BY GROUPING SETS ((s.key), (coalesce(s.value ->> 'agent', '')))
     ORDER BY 1 DESC, 2
    """,
    annotations=Annotation,
)


@dataclass(frozen=True)
class AcceptanceRow:
    """Of the suggestions shown for one field (or from one agent), how many the answer kept."""

    name: str
    shown: int
    kept: int

    @property
    def rate(self) -> float | None:
        return self.kept / self.shown if self.shown else None


@dataclass(frozen=True)
class SuggestionAcceptance:
    by_field: list[AcceptanceRow]
    by_agent: list[AcceptanceRow]


def suggestion_acceptance(*, project: Project) -> SuggestionAcceptance:
    """Acceptance of suggestions on the project: kept / shown, per field and per agent (an agent "" is one that
    gave no name), each ordered by name. Every annotator's submission counts, a reworked answer once more; a field
    whose suggestions were never shown is listed with 0 shown."""
    with connection.cursor() as cursor:
        cursor.execute(_ACCEPTANCE, {"project": project.pk, "organization": project.organization_id})
        rows = cursor.fetchall()
    by_field = [AcceptanceRow(name, int(shown), int(kept)) for is_field, name, shown, kept in rows if is_field]
    by_agent = [AcceptanceRow(name, int(shown), int(kept)) for is_field, name, shown, kept in rows if not is_field]
    return SuggestionAcceptance(by_field=by_field, by_agent=by_agent)


def suggestion_job_all() -> QuerySet[SuggestionJob]:
    """Every suggestion job of the organization in context, with what its API shape names."""
    return SuggestionJob.objects.select_related("project", "connection")


def suggestion_job_list(*, project: Project) -> QuerySet[SuggestionJob]:
    """The project's suggestion jobs, newest first."""
    return suggestion_job_all().filter(project=project).order_by("-id")
