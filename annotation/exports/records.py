"""The rows an export reads: each task with the annotations that count, in task id order, chunk by chunk.

Which annotations count, per task:
- for each annotator's turn at the task (its assignment), the latest version of the annotation (highest `version`,
  then newest row); a version that another supersedes never counts: a reviewer's correction replaces the
  original, and is exported with the reviewer as its author and `corrected` as its review outcome;
- never a rejected annotation, nor the original of a correction (`review_state` rejected or corrected);
- with `reviewed_only`, only those a reviewer accepted, and corrections;
- never on gold tasks: those are the platform's test questions, whose answers the lab wrote itself.
A task with no annotation that counts is left out.

Each chunk of tasks is read in its own short transaction (the tenant is entered per chunk), so the job's progress
can be committed between chunks and no transaction stays open for the length of an export. Annotations recorded
after the export started are left out (`upper_id`), so later submissions never half-appear; one task's
annotations are always read together, in one statement.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Case, Exists, F, OuterRef, Q, QuerySet, When

from annotation.exports.filters import ExportFilters
from annotation.exports.pseudonyms import annotator_pseudonym
from annotation.models import Annotation, Review, ReviewState
from core.context import organization_context
from projects.models import Project, Task
from tenancy.models import Membership

CHUNK_TASKS = 2000
ITERATOR_CHUNK = 2000
CORRECTED = "corrected"

T = TypeVar("T")

# The order of a task's annotations in every format: by turn (assignments first, in the order they were made, then
# the turns of authors whose assignment is gone), the latest version of a turn first.
ANNOTATION_ORDER = ("task_id", "assignment_id", "turn", "-version", "-id")


@dataclass(frozen=True, slots=True)
class AnnotationRecord:
    id: str
    result: dict[str, Any]
    schema_version: int
    guidelines_version: int
    annotator: str  # pseudonymous
    time_spent_ms: int
    review_outcome: str  # none, pending, accepted or corrected
    version: int
    created_at: datetime
    # Per suggested field, what the answer did with the suggestion: {"shown", "kept", "agent", "score"}.
    suggestions: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TaskRecord:
    id: str
    external_id: str
    data: dict[str, Any]
    created_at: datetime
    annotations: tuple[AnnotationRecord, ...]


def export_upper_id() -> int:
    """The newest annotation id of the organization in context: an export started now reads none after it."""
    return Annotation.objects.order_by("-id").values_list("id", flat=True).first() or 0


TASK_COLUMNS = ("id", "uuid", "external_id", "data", "created_at")
# What every reader takes of an annotation that counts; `turn` is selected because DISTINCT ON and ORDER BY name it.
ANNOTATION_COLUMNS = (
    "task_id",
    "annotator_id",
    "uuid",
    "result",
    "schema_version",
    "guidelines_version",
    "time_spent_ms",
    "review_state",
    "version",
    "created_at",
    "is_correction",
    "turn",
    "suggestions",
)
_RECORD_ANNOTATION_COLUMNS = (*ANNOTATION_COLUMNS, "annotator__uuid")


class Pseudonyms:
    """Pseudonyms of one organization's members, each computed once per export."""

    def __init__(self, organization_uuid: Any) -> None:
        self.organization_uuid = organization_uuid
        self._known: dict[int, str] = {}

    def of(self, membership_id: int, membership_uuid: Any) -> str:
        name = self._known.get(membership_id)
        if name is None:
            name = annotator_pseudonym(organization_uuid=self.organization_uuid, membership_uuid=membership_uuid)
            self._known[membership_id] = name
        return name

    def of_every_member(self) -> dict[int, str]:
        """Every member's pseudonym by membership id (of the organization in context), for statements that name
        annotators themselves."""
        for membership_id, membership_uuid in Membership.objects.values_list("id", "uuid"):
            self.of(membership_id, membership_uuid)
        return dict(self._known)


def tasks_in_range(project: Project, filters: ExportFilters, after: int, last: int | None) -> QuerySet[Task]:
    """The matching tasks with ids in (after, last] (to the end when `last` is None), by the project's id index."""
    tasks = Task.objects.filter(filters.task_q(), project=project, id__gt=after)
    return tasks if last is None else tasks.filter(id__lte=last)


def _chunk_tasks(project: Project, filters: ExportFilters, after: int, size: int) -> list[Any]:
    """The next `size` matching tasks after id `after`, in id order (an index range scan of the project's tasks)."""
    return list(tasks_in_range(project, filters, after, None).order_by("id").values_list(*TASK_COLUMNS)[:size])


def counting_annotations(filters: ExportFilters, upper_id: int, first: int, last: int) -> QuerySet[Annotation]:
    """The annotations that count of tasks with ids in [first, last], in ANNOTATION_ORDER, annotated with
    `is_correction` and `turn`: an index range scan of this chunk's tasks whatever the size of the project."""
    # A version and the one superseding it belong to the same task: bounding both to the chunk's tasks keeps this
    # check an index lookup too (unbounded, the planner may hash every annotation of the organization).
    in_chunk = {"task_id__gte": first, "task_id__lte": last}
    superseded = Annotation.objects.filter(supersedes_id=OuterRef("pk"), id__lte=upper_id, **in_chunk)
    rows = (
        # No project condition: the task id range bounds the read, and a project index would tempt the planner
        # (before statistics exist, right after a large load) into scanning the whole project for every chunk.
        # Annotations of another project's tasks in the range are dropped by the readers' join with the chunk's
        # tasks, like those of filtered-out tasks.
        Annotation.objects.filter(id__lte=upper_id, **in_chunk)
        .exclude(review_state__in=[ReviewState.REJECTED, ReviewState.CORRECTED])
        .annotate(
            is_correction=Exists(
                Review.objects.filter(
                    correction_id=OuterRef("pk"), annotation__task_id__gte=first, annotation__task_id__lte=last
                )
            )
        )
        .filter(~Exists(superseded))
    )
    if filters.reviewed_only:
        rows = rows.filter(Q(review_state=ReviewState.ACCEPTED) | Q(is_correction=True))
    # One annotation per turn: the assignment's latest version (whoever wrote it), or one author's latest when the
    # assignment is gone. DISTINCT ON keeps the first row of each turn in this order; readers keep the order too.
    return (
        rows.annotate(turn=Case(When(assignment_id__isnull=True, then=F("annotator_id"))))
        .order_by(*ANNOTATION_ORDER)
        .distinct("task_id", "assignment_id", "turn")
    )


def _records(tasks: list[Any], rows: Any, pseudonyms: Pseudonyms) -> Iterator[TaskRecord]:
    """Join the chunk's tasks (in id order) with their annotations that count (in task order)."""
    by_id = {task[0]: task for task in tasks}
    current: int | None = None
    annotations: list[AnnotationRecord] = []

    def record(task_id: int) -> TaskRecord:
        _, task_uuid, external_id, data, created = by_id[task_id]
        return TaskRecord(str(task_uuid), external_id, data, created, tuple(annotations))

    for row in rows.iterator(chunk_size=ITERATOR_CHUNK):
        task_id, annotator_id, ann_uuid, result, schema_v, guidelines_v, spent, review = row[:8]
        version, created, is_correction, _, suggestions, annotator_uuid = row[8:]
        if task_id not in by_id:
            continue  # a task of the id range that is not the chunk's (filtered out, or another project's)
        if task_id != current:
            if current is not None:
                yield record(current)
            current, annotations = task_id, []
        annotations.append(
            AnnotationRecord(
                id=str(ann_uuid),
                result=result,
                schema_version=schema_v,
                guidelines_version=guidelines_v,
                annotator=pseudonyms.of(annotator_id, annotator_uuid),
                time_spent_ms=spent,
                review_outcome=CORRECTED if is_correction else review,
                version=version,
                created_at=created,
                suggestions=suggestions,
            )
        )
    if current is not None:
        yield record(current)


def task_chunks(*, organization_id: int, next_chunk: Callable[[int], tuple[int | None, T]]) -> Iterator[T]:
    """Walk the export's tasks in id order, one chunk per short transaction of the organization: `next_chunk(after)`
    reads the chunk after task id `after` and returns its last task id (None when it was the last chunk) and what it
    read. Memory holds one chunk, never the whole export."""
    after = 0
    while True:
        with organization_context(organization_id):
            last, chunk = next_chunk(after)
        if chunk:
            yield chunk
        if last is None:
            return
        after = last


@dataclass(frozen=True)
class ExportSource:
    """What one export reads: the organization's project, its filters, and the newest annotation it may include."""

    organization_id: int
    project: Project
    filters: ExportFilters
    upper_id: int
    pseudonyms: Pseudonyms


def task_record_chunks(source: ExportSource, chunk_tasks: int | None = None) -> Iterator[list[TaskRecord]]:
    """The export's tasks with their annotations that count, in id order, at most `chunk_tasks` (default
    CHUNK_TASKS) tasks per chunk."""
    size = chunk_tasks or CHUNK_TASKS

    def next_chunk(after: int) -> tuple[int | None, list[TaskRecord]]:
        tasks = _chunk_tasks(source.project, source.filters, after, size)
        if not tasks:
            return None, []
        rows = counting_annotations(source.filters, source.upper_id, tasks[0][0], tasks[-1][0]).values_list(
            *_RECORD_ANNOTATION_COLUMNS
        )
        return (tasks[-1][0] if len(tasks) == size else None), list(_records(tasks, rows, source.pseudonyms))

    return task_chunks(organization_id=source.organization_id, next_chunk=next_chunk)
