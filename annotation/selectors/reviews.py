"""Reads of the review and adjudication work: what waits for a reviewer, a task's annotation history, the tasks
flagged for adjudication."""

from django.db.models import Prefetch, Q, QuerySet

from annotation.models import Annotation, Assignment, Review, ReviewState, TaskAgreement
from projects.models import Project, Task
from tenancy.models import Membership


def annotation_all() -> "QuerySet[Annotation]":
    """Every annotation of the organization, with its project and task, for lookups by public id."""
    return Annotation.objects.select_related("project", "task")


def review_pending(*, reviewer: Membership, project: Project) -> "QuerySet[Annotation]":
    """The project's annotations waiting for a review, at any level, that this reviewer may take: never their own
    work (nor a correction of it), nor one they already decided at the first level (a second level is a second
    pair of eyes)."""
    return (
        Annotation.objects.filter(project=project, review_state=ReviewState.PENDING)
        .exclude(annotator=reviewer)
        .exclude(assignment__annotator=reviewer)
        .exclude(reviews__reviewer=reviewer)
    )


def review_queue(*, reviewer: Membership, project: Project, level: int) -> "QuerySet[Annotation]":
    """Annotations waiting for this reviewer at `level`, oldest first, with what the queue shows of each."""
    return (
        review_pending(reviewer=reviewer, project=project)
        .filter(review_level=level)
        .select_related("task", "annotator__user", "supersedes")
        .order_by("id")
    )


def review_pending_for(*, reviewer: Membership, annotation: Annotation) -> bool:
    """Whether `annotation` is in `reviewer`'s queue now (waiting at its level, not their own work)."""
    if annotation.review_state != ReviewState.PENDING:
        return False
    queue = review_queue(reviewer=reviewer, project=annotation.project, level=annotation.review_level)
    return queue.filter(pk=annotation.pk).exists()


def member_annotates_in(*, member: Membership, project: Project) -> bool:
    """Whether the member takes part in the project as an annotator: was served one of its tasks, or has an answer
    of their own in it. A reviewer's correction answers someone else's assignment, so it does not count."""
    if Assignment.objects.filter(project=project, annotator=member).exists():
        return True
    own = Q(assignment__isnull=True) | Q(assignment__annotator=member)
    return Annotation.objects.filter(own, project=project, annotator=member).exists()


def task_annotation_history(*, task: Task) -> "QuerySet[Annotation]":
    """Every version of every annotation of the task, oldest first, each with its reviews."""
    reviews = Review.objects.select_related("reviewer__user", "correction").order_by("level", "id")
    return (
        Annotation.objects.filter(task=task)
        .select_related("task", "annotator__user", "assignment", "supersedes")
        .prefetch_related(Prefetch("reviews", queryset=reviews))
        .order_by("id")
    )


def adjudication_queue(*, project: Project) -> "QuerySet[TaskAgreement]":
    """Tasks flagged for adjudication, lowest agreement first, with every annotation of each task loaded."""
    annotations = Annotation.objects.select_related("annotator__user").order_by("id")
    return (
        TaskAgreement.objects.filter(project=project, needs_adjudication=True)
        .select_related("task")
        .prefetch_related(Prefetch("task__annotations", queryset=annotations))
        .order_by("score", "id")
    )
