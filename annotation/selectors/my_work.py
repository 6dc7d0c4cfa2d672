"""A member's own labelling work across projects, for their home page: where they may label, what they hold, what
they have done, and how they fare on check questions."""

from dataclasses import dataclass

from django.db.models import Count

from annotation.models import AnnotatorProgress, Assignment, AssignmentState
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
