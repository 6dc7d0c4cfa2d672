"""Reads of model connections, budgets, calls and judge runs, always within the organization in context."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db.models import Count, F, QuerySet, Sum
from django.utils import timezone

from llm.models import CallState, JudgeRun, JudgeVerdict, ModelBudget, ModelCall, ModelConnection
from projects.models import Project


def connection_list() -> QuerySet[ModelConnection]:
    """The organization's connections, by name."""
    return ModelConnection.objects.order_by("name")


def connection_by_name(*, name: str) -> ModelConnection | None:
    return ModelConnection.objects.filter(name=name).first()


def connections_by_name(*, names: list[str]) -> dict[str, ModelConnection]:
    """The named connections that exist, by name (a chat field names several)."""
    return {c.name: c for c in ModelConnection.objects.filter(name__in=names)}


def connection_get(*, uuid: str | UUID) -> ModelConnection | None:
    return ModelConnection.objects.filter(uuid=uuid).first()


def budget_for(*, project: Project) -> ModelBudget | None:
    """The project's budget row, if one was ever set or used."""
    return ModelBudget.objects.filter(project=project).first()


def call_list(*, project: Project) -> QuerySet[ModelCall]:
    """A project's model calls, newest first."""
    return ModelCall.objects.filter(project=project).select_related("connection").order_by("-id")


def running_call_count(*, project: Project) -> int:
    """Calls of the project running now (a row older than its stale_after no longer counts)."""
    return ModelCall.objects.filter(project=project, state=CallState.RUNNING, stale_after__gt=timezone.now()).count()


# --- what connections were used for lately ---


@dataclass(frozen=True)
class ConnectionUsage:
    calls: int
    tokens: int


def connection_usage_since(*, since: datetime) -> dict[int, ConnectionUsage]:
    """Calls made and tokens spent through each connection since `since`, by connection id (absent: none)."""
    rows = (
        ModelCall.objects.filter(created_at__gte=since)
        .values("connection_id")
        .annotate(calls=Count("id"), tokens=Sum(F("prompt_tokens") + F("completion_tokens")))
        .order_by()
    )
    return {row["connection_id"]: ConnectionUsage(row["calls"], row["tokens"] or 0) for row in rows}


# --- judge runs ---


def judge_run_all() -> QuerySet[JudgeRun]:
    """The organization's judge runs, with what their pages and bodies name."""
    return JudgeRun.objects.select_related("project", "connection", "created_by__user")


def judge_run_list(*, project: Project) -> QuerySet[JudgeRun]:
    """A project's judge runs, newest first."""
    return judge_run_all().filter(project=project).order_by("-id")


def judge_run_latest(*, project: Project) -> JudgeRun | None:
    """The project's newest run: the one its quality page reports on."""
    return judge_run_list(project=project).first()


def judge_verdict_list(*, run: JudgeRun) -> QuerySet[JudgeVerdict]:
    """A run's verdicts in the order they were given."""
    return JudgeVerdict.objects.filter(run=run).select_related("task", "call").order_by("id")
