"""Managers' control of annotators' standing on a project: pause, unpause, and a dispatch run on demand.

A pause here is per project (gold accuracy fell below the project's threshold, or a manager stopped someone);
the organization-wide pause of a member is `tenancy.services.members.membership_pause`.
"""

from django.db import transaction
from django.utils import timezone

from annotation import permissions
from annotation.models import AnnotatorProgress
from annotation.services.dispatch import DispatchResult, dispatch_soon, project_dispatch
from core.audit.record import audit_record
from core.errors import Conflict
from projects.models import Project
from tenancy.models import Membership
from tenancy.permissions import check


def progress_pause(*, actor: Membership, progress: AnnotatorProgress, reason: str = "") -> AnnotatorProgress:
    """Stop serving the annotator new work on this project; a paused one only gets a new reason."""
    check(permissions.progress_pause(actor))
    reason = reason.strip()[:300]
    if progress.paused_at is not None and progress.paused_reason == reason:
        return progress
    before = progress.paused_reason if progress.paused_at is not None else None
    with transaction.atomic():
        progress.paused_at = progress.paused_at or timezone.now()
        progress.paused_reason = reason
        progress.save(update_fields=["paused_at", "paused_reason", "updated_at"])
        # The member is the target: their trail is where "who stopped me, and why" is looked for.
        audit_record(
            action="progress.pause",
            target=progress.annotator,
            changes={"paused_reason": [before, reason]},
            metadata={"project": str(progress.project.uuid), "paused_at": progress.paused_at.isoformat()},
        )
    return progress


def progress_unpause(*, actor: Membership, progress: AnnotatorProgress) -> AnnotatorProgress:
    """Let a paused annotator work on the project again, with a fresh gold record.

    The gold tally restarts: otherwise the very next gold task would judge the old accuracy and pause again.
    """
    check(permissions.progress_unpause(actor, progress))
    if progress.paused_at is None:
        raise Conflict(f"{progress.annotator.user.email} is not paused on this project.")
    before = {
        "paused_at": progress.paused_at.isoformat(),
        "paused_reason": progress.paused_reason,
        "gold_scored": progress.gold_scored,
        "gold_accuracy": round(progress.gold_accuracy, 4) if progress.gold_accuracy is not None else None,
    }
    with transaction.atomic():
        progress.paused_at = None
        progress.paused_reason = ""
        progress.gold_scored = 0
        progress.gold_score_sum = 0.0
        progress.save(update_fields=["paused_at", "paused_reason", "gold_scored", "gold_score_sum", "updated_at"])
        audit_record(
            action="progress.unpause",
            target=progress.annotator,
            changes={
                "paused_at": [before["paused_at"], None],
                "paused_reason": [before["paused_reason"], None],
                "gold_scored": [before["gold_scored"], 0],
            },
            metadata={"project": str(progress.project.uuid), "gold_accuracy_before": before["gold_accuracy"]},
        )
        dispatch_soon(organization_id=progress.organization_id, project_id=progress.project_id)
    return progress


def project_dispatch_now(*, actor: Membership, project: Project) -> DispatchResult:
    """Run the dispatcher for the project now, instead of at the next beat; the run is recorded with its counts."""
    check(permissions.project_dispatch(actor))
    with transaction.atomic():
        result = project_dispatch(project=project)
        audit_record(
            action="project.dispatch",
            target=project,
            metadata={"annotators": result.annotators, "queued": result.queued, "returned": result.returned},
        )
    return result
