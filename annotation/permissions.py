"""Who may do what with the work on projects: routing control, exclusions, review, adjudication, quality, exports.

Each rule once, over the acting member and what it acts on where that matters. A rule answers None when the actor
may, or the refusal in the words the member reads; services `check` it before they write and pages and API views
ask `allows` what to show (tenancy.permissions). Claiming, heartbeats, submits, skips and releases are no rule of
role: any member may label, the routing decides what (annotation.selectors.eligibility), and a lease is its
holder's alone.
"""

from django.db.models import Q

from annotation.models import Annotation, AnnotatorProgress, ConflictExclusion, Review
from annotation.selectors.eligibility import exclusion_applies, exclusion_applies_to
from annotation.selectors.reviews import member_annotates_in
from projects.models import Project, Task
from tenancy.models import Membership, Role
from tenancy.permissions import Refusal


def _manager(actor: Membership, refusal: str) -> Refusal:
    return None if actor.role_enum.at_least(Role.MANAGER) else refusal


# --- routing control ---


def assignment_assign(actor: Membership) -> Refusal:
    """Put a task in a named annotator's queue."""
    return _manager(actor, "Only managers, admins and owners may assign tasks.")


def assignment_revoke(actor: Membership) -> Refusal:
    """Take a queued or leased task back from its annotator."""
    return _manager(actor, "Only managers, admins and owners may take work back.")


_STANDING = "Only managers, admins and owners may change annotators' standing."


def progress_pause(actor: Membership) -> Refusal:
    """Stop serving an annotator new work on a project."""
    return _manager(actor, _STANDING)


def progress_unpause(actor: Membership, progress: AnnotatorProgress) -> Refusal:
    """Let a paused annotator work on the project again; a pause is never lifted by the one it stopped."""
    if refusal := _manager(actor, _STANDING):
        return refusal
    if progress.annotator_id == actor.pk:
        return "You cannot lift your own pause; ask another manager."
    return None


def project_dispatch(actor: Membership) -> Refusal:
    """Fill the project's queues now instead of at the next periodic run."""
    return _manager(actor, _STANDING)


# --- conflict-of-interest exclusions ---


def exclusion_create(actor: Membership) -> Refusal:
    """Add a rule keeping a member, or everyone with an attribute value, off a project or off all."""
    return _manager(actor, "Only managers, admins and owners may manage conflict-of-interest exclusions.")


def exclusion_delete(actor: Membership, exclusion: ConflictExclusion) -> Refusal:
    """Remove a rule. Nobody lifts a rule that keeps themselves off work: that is the conflict it guards."""
    if refusal := exclusion_create(actor):
        return refusal
    if exclusion_applies_to(exclusion, actor):
        return "This exclusion applies to you; another manager must remove it."
    return None


# --- review and adjudication ---


def review(actor: Membership, project: Project) -> Refusal:
    """See and judge others' labels on the project: reviewers and above whom no conflict-of-interest rule keeps
    off it, since judging labels is labelling work too."""
    if not actor.role_enum.at_least(Role.REVIEWER):
        return f"This action needs the {Role.REVIEWER.value} role or higher."
    if exclusion_applies(membership=actor, project=project) is not None:
        return "You are excluded from this project."
    return None


def review_gold_answer(actor: Membership, project: Project) -> Refusal:
    """See a gold task's known answer while reviewing: only one who does not annotate in the project, since a known
    answer would let an annotator pass the gold checks that score them."""
    if member_annotates_in(member=actor, project=project):
        return "Gold answers are not shown to those who annotate in this project."
    return None


def review_decide(actor: Membership, annotation: Annotation) -> Refusal:
    """Decide on this annotation: nobody reviews their own work, a correction of it included (the author of the
    version, or the annotator whose turn it answers)."""
    if annotation.annotator_id == actor.pk or (
        annotation.assignment is not None and annotation.assignment.annotator_id == actor.pk
    ):
        return "You cannot review your own annotation, nor a correction of it."
    return None


def review_second_level(actor: Membership, annotation: Annotation) -> Refusal:
    """Decide at the second level: someone other than whoever decided at the first."""
    if Review.objects.filter(annotation=annotation, level=1, reviewer=actor).exists():
        return "You reviewed this annotation at the first level; the second level is someone else's."
    return None


def adjudicate(actor: Membership, task: Task) -> Refusal:
    """Settle a disputed task: a reviewer, but not one who annotated (or corrected) it, since they took a side."""
    if refusal := review(actor, task.project):
        return refusal
    if Annotation.objects.filter(task=task).filter(Q(annotator=actor) | Q(assignment__annotator=actor)).exists():
        return "You annotated this task; someone else must adjudicate it."
    return None


# --- quality and data out ---


def quality_read(actor: Membership) -> Refusal:
    """See a project's agreement report and each annotator's gold accuracy, by name."""
    return _manager(actor, "Quality reports need the manager role or higher.")


def export_manage(actor: Membership) -> Refusal:
    """Start an export of a project's results, or download one."""
    return _manager(actor, "Exports need the manager role or higher.")


def suggestion_generate(actor: Membership) -> Refusal:
    """Have a model suggest answers for a project's tasks (spending its model budget), and follow such jobs."""
    return _manager(actor, "Generating suggestions needs the manager role or higher.")


def workforce_read(actor: Membership) -> Refusal:
    """See every member's hours and items: what people are paid by is the administrators' business."""
    return None if actor.role_enum.at_least(Role.ADMIN) else "Only owners and admins may read the workforce report."
