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

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q

from annotation.models import Annotation, Review, ReviewState
from projects.exports.filters import ExportFilters
from projects.exports.pseudonyms import annotator_pseudonym
from projects.models import Project, Task
from tenancy.context import organization_context

CHUNK_TASKS = 2000
ITERATOR_CHUNK = 2000
CORRECTED = "corrected"


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


_TASK_COLUMNS = ("id", "uuid", "external_id", "data", "created_at")
_ANNOTATION_COLUMNS = (
    "task_id",
    "assignment_id",
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
    "annotator__uuid",
)


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


def _chunk_tasks(project: Project, filters: ExportFilters, after: int, size: int) -> list[Any]:
    """The next `size` matching tasks after id `after`, in id order (an index range scan of the project's tasks)."""
    return list(
        Task.objects.filter(filters.task_q(), project=project, id__gt=after)
        .order_by("id")
        .values_list(*_TASK_COLUMNS)[:size]
    )


def _annotations(filters: ExportFilters, upper_id: int, first: int, last: int) -> Any:
    """The candidate annotations of tasks with ids in [first, last], by task, turn and newest version first: an
    index range scan of this chunk's tasks whatever the size of the project."""
    # A version and the one superseding it belong to the same task: bounding both to the chunk's tasks keeps this
    # check an index lookup too (unbounded, the planner may hash every annotation of the organization).
    in_chunk = {"task_id__gte": first, "task_id__lte": last}
    superseded = Annotation.objects.filter(supersedes_id=OuterRef("pk"), id__lte=upper_id, **in_chunk)
    rows = (
        # No project condition: the task id range bounds the read, and a project index would tempt the planner
        # (before statistics exist, right after a large load) into scanning the whole project for every chunk.
        # Annotations of another project's tasks in the range are skipped by the caller, like filtered-out tasks.
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
    return rows.order_by("task_id", "assignment_id", "-version", "-id").values_list(*_ANNOTATION_COLUMNS)


def _records(tasks: list[Any], rows: Any, pseudonyms: Pseudonyms) -> Iterator[TaskRecord]:
    """Join the chunk's tasks (in id order) with their annotations (in task order), keeping those that count."""
    by_id = {task[0]: task for task in tasks}
    current: int | None = None
    annotations: list[AnnotationRecord] = []
    seen: set[tuple[int | None, int | None]] = set()

    def record(task_id: int) -> TaskRecord:
        _, task_uuid, external_id, data, created = by_id[task_id]
        return TaskRecord(str(task_uuid), external_id, data, created, tuple(annotations))

    for row in rows.iterator(chunk_size=ITERATOR_CHUNK):
        task_id, assignment_id, annotator_id, ann_uuid, result, schema_v, guidelines_v, spent, review = row[:9]
        version, created, is_correction, annotator_uuid = row[9:]
        if task_id not in by_id:
            continue  # a task of the id range that is not the chunk's (filtered out, or another project's)
        if task_id != current:
            if current is not None:
                yield record(current)
            current, annotations, seen = task_id, [], set()
        # One turn: the assignment's versions (whoever wrote them), or one author's when the assignment is gone.
        # Rows come newest version first within a turn, so the first one seen is the one that counts.
        turn = (assignment_id, annotator_id if assignment_id is None else None)
        if turn in seen:
            continue
        seen.add(turn)
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
            )
        )
    if current is not None:
        yield record(current)


def task_record_chunks(
    *,
    organization_id: int,
    project: Project,
    filters: ExportFilters,
    upper_id: int,
    pseudonyms: Pseudonyms,
    chunk_tasks: int | None = None,
) -> Iterator[list[TaskRecord]]:
    """The export's tasks in id order, at most `chunk_tasks` (default CHUNK_TASKS) tasks per chunk, each chunk read
    in its own transaction of the organization; memory holds one chunk, never the whole export."""
    size = chunk_tasks or CHUNK_TASKS
    after = 0
    while True:
        with organization_context(organization_id):
            tasks = _chunk_tasks(project, filters, after, size)
            chunk = []
            if tasks:
                rows = _annotations(filters, upper_id, tasks[0][0], tasks[-1][0])
                chunk = list(_records(tasks, rows, pseudonyms))
        if chunk:
            yield chunk
        if len(tasks) < size:
            return
        after = tasks[-1][0]
