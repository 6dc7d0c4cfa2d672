"""A member's own labelling work across projects, for their home page: where they may label, what they hold, what
they have done, how they fare on check questions, and what reviewers made of their latest answers."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Aggregate, Count, FloatField, OuterRef, Q, Subquery, TextField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation.models import (
    Annotation,
    AnnotatorProgress,
    Assignment,
    AssignmentState,
    Review,
    ReviewState,
)
from annotation.selectors.eligibility import member_profile, project_refusal
from projects.models import Project
from projects.selectors import project_list
from tenancy.models import Membership


@dataclass(frozen=True)
class ProjectWork:
    project: Project
    title: str  # the codename on blind projects
    blocked: str  # why no work is served now ("" when it is)
    queued: int
    active: int
    submitted: int
    gold_accuracy: float | None

    @property
    def may_label(self) -> bool:
        return not self.blocked


def member_work(*, membership: Membership) -> list[ProjectWork]:
    """Every project with a labelling form that this member is not excluded from, by name, with their standing.
    A fixed number of queries plus one exclusion check per project."""
    profile = member_profile(membership=membership)
    progress = {p.project_id: p for p in AnnotatorProgress.objects.filter(annotator=membership)}
    held: dict[tuple[int, str], int] = {}
    live = Assignment.objects.filter(annotator=membership, state__in=[AssignmentState.QUEUED, AssignmentState.ACTIVE])
    for row in live.values("project_id", "state").annotate(n=Count("id")):
        held[(row["project_id"], row["state"])] = row["n"]
    work = []
    for project in project_list().order_by("name", "id"):
        if not (project.label_schema or {}).get("fields"):
            continue
        refusal = project_refusal(membership=membership, project=project, profile=profile)
        if refusal is not None and refusal.code == "excluded":
            continue  # not theirs to see, let alone label
        standing = progress.get(project.pk)
        blocked = refusal.message if refusal is not None else ""
        if not blocked and standing is not None and standing.paused_at is not None:
            blocked = standing.paused_reason or "Your work on this project is paused."
        accuracy = None
        if standing is not None and standing.gold_scored:
            accuracy = standing.gold_score_sum / standing.gold_scored
        work.append(
            ProjectWork(
                project=project,
                title=project.display_name,
                blocked=blocked,
                queued=held.get((project.pk, AssignmentState.QUEUED), 0),
                active=held.get((project.pk, AssignmentState.ACTIVE), 0),
                submitted=standing.submitted if standing is not None else 0,
                gold_accuracy=accuracy,
            )
        )
    return work


# How many of a member's latest annotations their home page lists, and the window of "this week".
RECENT_ITEMS = 20
WEEK = timedelta(days=7)


class _Median(Aggregate):
    """PostgreSQL's exact median (continuous percentile); Django has no aggregate of its own for it."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


OUTCOME_LABELS = {
    ReviewState.NONE: "Not reviewed",
    ReviewState.PENDING: "Waiting for review",
    ReviewState.ACCEPTED: "Accepted",
    ReviewState.REJECTED: "Rejected",
    ReviewState.CORRECTED: "Corrected",
}


@dataclass(frozen=True)
class RecentItem:
    """One annotation of the member's own, as their home page lists it."""

    project_title: str  # the codename on blind projects, as everywhere an annotator looks
    external_id: str
    submitted_at: datetime
    version: int
    outcome: str  # a ReviewState value: "none" when the project does not review it
    comment: str  # the latest reviewer's comment, "" when there is none

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(ReviewState(self.outcome), self.outcome)


@dataclass(frozen=True)
class MemberStats:
    """A member's own numbers over everything they submitted."""

    submitted_week: int
    submitted_total: int
    reviewed: int  # decided by a reviewer: accepted, rejected or corrected
    accepted: int
    median_seconds: float | None  # time on task; None before the first timed submit

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.reviewed if self.reviewed else None


@dataclass(frozen=True)
class MemberHistory:
    items: list[RecentItem]
    stats: MemberStats


def _own_annotations(membership: Membership) -> Any:
    # Their own versions: the first, and each redo after a rejection. A reviewer's correction is filed under the
    # reviewer as its annotator and supersedes someone else's annotation, so it is not the reviewer's labelling.
    return Annotation.objects.filter(annotator=membership).filter(
        Q(supersedes__isnull=True) | Q(supersedes__annotator=membership)
    )


def member_history(*, membership: Membership, now: datetime | None = None) -> MemberHistory:
    """The member's latest annotations with their review outcome and comment, and their own statistics.
    Two queries, whatever the number of projects or annotations."""
    now = now or timezone.now()
    latest_comment = (
        Review.objects.filter(annotation=OuterRef("pk")).exclude(comment="").order_by("-level", "-id").values("comment")
    )
    rows = (
        _own_annotations(membership)
        .order_by("-created_at", "-id")
        .values(
            "project__name",
            "project__codename",
            "task__external_id",
            "created_at",
            "version",
            "review_state",
        )
        .annotate(comment=Coalesce(Subquery(latest_comment[:1]), Value(""), output_field=TextField()))[:RECENT_ITEMS]
    )
    items = [
        RecentItem(
            project_title=row["project__codename"] or row["project__name"],
            external_id=row["task__external_id"],
            submitted_at=row["created_at"],
            version=row["version"],
            outcome=row["review_state"],
            comment=row["comment"],
        )
        for row in rows
    ]
    decided = [ReviewState.ACCEPTED, ReviewState.REJECTED, ReviewState.CORRECTED]
    totals = _own_annotations(membership).aggregate(
        total=Count("id"),
        week=Count("id", filter=Q(created_at__gte=now - WEEK)),
        reviewed=Count("id", filter=Q(review_state__in=decided)),
        accepted=Count("id", filter=Q(review_state=ReviewState.ACCEPTED)),
        median_ms=_Median("time_spent_ms", filter=Q(time_spent_ms__gt=0)),
    )
    stats = MemberStats(
        submitted_week=totals["week"],
        submitted_total=totals["total"],
        reviewed=totals["reviewed"],
        accepted=totals["accepted"],
        median_seconds=None if totals["median_ms"] is None else totals["median_ms"] / 1000,
    )
    return MemberHistory(items=items, stats=stats)
