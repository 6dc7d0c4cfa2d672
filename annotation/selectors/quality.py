"""Reads of quality: the project's agreement report as last computed, and each annotator's gold accuracy."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.db.models import Avg, Count
from django.db.models.functions import TruncDate

from annotation.models import Annotation, AnnotatorProgress, ProjectAgreement
from projects.models import Project
from tenancy.models import Membership


def project_agreement(*, project: Project) -> ProjectAgreement | None:
    """The project's agreement report as last computed; None until the first computation."""
    return ProjectAgreement.objects.filter(project=project).first()


@dataclass(frozen=True)
class GoldDay:
    day: date
    scored: int
    accuracy: float


@dataclass(frozen=True)
class GoldAccuracy:
    """One annotator's gold record on a project: overall (as the pause rule sees it), by day, and the pause."""

    annotator: Membership
    gold_scored: int
    accuracy: float | None
    qualification_state: str
    paused_at: datetime | None
    paused_reason: str
    by_day: list[GoldDay] = field(default_factory=list)


def gold_accuracy_report(*, project: Project, since: datetime) -> list[GoldAccuracy]:
    """Per annotator: gold accuracy by UTC day since `since` (live gold tasks, not the qualification test), with
    the running figures and the pause state the router acts on. Annotators ordered by member id."""
    days = (
        Annotation.objects.filter(
            project=project, is_gold=True, gold_score__isnull=False, task__qualification=False, created_at__gte=since
        )
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("annotator_id", "day")
        .annotate(scored=Count("id"), accuracy=Avg("gold_score"))
        .order_by("annotator_id", "day")
    )
    by_member: dict[int, list[GoldDay]] = {}
    for row in days:
        by_member.setdefault(row["annotator_id"], []).append(
            GoldDay(day=row["day"], scored=row["scored"], accuracy=row["accuracy"])
        )
    progress = {p.annotator_id: p for p in AnnotatorProgress.objects.filter(project=project)}
    members = Membership.objects.filter(pk__in=set(progress) | set(by_member)).select_related("user").order_by("id")
    report = []
    for member in members:
        standing = progress.get(member.pk)
        report.append(
            GoldAccuracy(
                annotator=member,
                gold_scored=standing.gold_scored if standing else 0,
                accuracy=standing.gold_accuracy if standing else None,
                qualification_state=standing.qualification_state if standing else "not_started",
                paused_at=standing.paused_at if standing else None,
                paused_reason=standing.paused_reason if standing else "",
                by_day=by_member.get(member.pk, []),
            )
        )
    return report
