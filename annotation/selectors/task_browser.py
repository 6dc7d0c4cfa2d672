"""The data browser's reads: a project's tasks filtered and sorted, one keyset page at a time, and one task whole.

Pages are keyset pages (`after` / `before` a task), never OFFSET, so the thousandth page costs what the first one
does. Each filter is a semi-join the planner can drive from its own index, so a rare set (the rejected items of
a million-task project) is found without walking the project's tasks:

- review outcome: `annotation_reviewed` (project, review_state, task) over the reviewed annotations only;
- disputed: `agreement_adjudication_queue`; skipped: `assignment_project_state`; annotator: the annotator FK;
- the order: `task_project_id` (project, id), the (project, external_id) unique index, `task_project_priority`.

The search box is the exception: a scan of the project's task data that stops once a page is full (annotation.sql,
TASK_DATA_CONTAINS, says why no index can serve it under row-level security).

A page never counts the whole selection: it counts up to `COUNT_CAP` matching tasks, enough to say "1,234" or
"more than 10,000" (a count of a million rows would cost more than the page itself); a first page that is not full
is its own count, and a search's further pages are not counted.
"""

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import BooleanField, F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from annotation import sql
from annotation.models import Annotation, Assignment, AssignmentState, Review, ReviewState, TaskAgreement
from annotation.selectors.reviews import task_annotation_history
from core.audit.record import HistoryEntry, audit_history
from projects.models import Project, Task
from tenancy.models import Membership

PAGE_SIZE = 50
COUNT_CAP = 10_000
STATES = ("new", "in_progress", "complete")
REVIEW_OUTCOMES = (ReviewState.PENDING, ReviewState.ACCEPTED, ReviewState.REJECTED, ReviewState.CORRECTED)
# Each order: the columns it sorts by (the last one unique within a project, so the order is total).
SORTS: dict[str, tuple[str, ...]] = {
    "imported": ("id",),
    "-imported": ("-id",),
    "external_id": ("external_id",),
    "-external_id": ("-external_id",),
    "priority": ("-priority", "id"),
}
SEARCH_WORDS_MAX = 8


@dataclass(frozen=True)
class TaskFilters:
    """What the browser shows; every part optional. `label` is (field, value): tasks with an annotation whose
    answer to `field` is `value` or contains it."""

    state: str | None = None
    annotator: Membership | None = None
    label: tuple[str, str] | None = None
    agreement_below: float | None = None
    review: str | None = None
    disputed: bool = False
    gold: bool | None = None
    skipped: bool = False
    created_from: date | None = None
    created_to: date | None = None
    text: str = ""
    sort: str = "imported"


def _search_patterns(text: str) -> list[str]:
    """One ILIKE pattern per word typed (`heart fail` finds "Heart failure"), its wildcards escaped."""
    words = text.split()[:SEARCH_WORDS_MAX]
    return ["%" + re.sub(r"([\\%_])", r"\\\1", word) + "%" for word in words]


def _label_q(name: str, value: str) -> Q:
    """An answer equal to `value` (as text or as a number), or a list of answers containing it."""
    candidates: list[Any] = [value]
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        candidates.append(int(number) if number.is_integer() else number)
    q = Q()
    for candidate in candidates:
        q |= Q(**{f"result__{name}": candidate}) | Q(**{f"result__{name}__contains": [candidate]})
    return q


def task_browse_queryset(*, project: Project, filters: TaskFilters) -> QuerySet[Task]:
    """The project's tasks matching `filters`, unordered."""
    tasks = Task.objects.filter(project=project)
    if filters.state == "new":
        tasks = tasks.filter(taken=0, done=0)
    elif filters.state == "in_progress":
        tasks = tasks.filter(done__lt=F("overlap")).exclude(taken=0, done=0)
    elif filters.state == "complete":
        tasks = tasks.filter(done__gte=F("overlap"))
    if filters.gold is not None:
        tasks = tasks.filter(is_gold=filters.gold)
    if filters.created_from is not None:
        tasks = tasks.filter(created_at__gte=_day_start(filters.created_from))
    if filters.created_to is not None:
        tasks = tasks.filter(created_at__lt=_day_start(filters.created_to + timedelta(days=1)))
    annotations = Annotation.objects.filter(project=project)
    if filters.annotator is not None:
        tasks = tasks.filter(id__in=annotations.filter(annotator=filters.annotator).values("task_id"))
    if filters.review is not None:
        tasks = tasks.filter(id__in=annotations.filter(review_state=filters.review).values("task_id"))
    if filters.label is not None:
        tasks = tasks.filter(id__in=annotations.filter(_label_q(*filters.label)).values("task_id"))
    agreements = TaskAgreement.objects.filter(project=project)
    if filters.disputed:
        tasks = tasks.filter(id__in=agreements.filter(needs_adjudication=True).values("task_id"))
    if filters.agreement_below is not None:
        tasks = tasks.filter(id__in=agreements.filter(score__lt=filters.agreement_below).values("task_id"))
    if filters.skipped:
        skipped = Assignment.objects.filter(project=project, state=AssignmentState.SKIPPED)
        tasks = tasks.filter(id__in=skipped.values("task_id"))
    for index, pattern in enumerate(_search_patterns(filters.text)):
        # The pattern is a bound parameter; the SQL around it is a constant.
        contains = RawSQL(sql.TASK_DATA_CONTAINS, [pattern], output_field=BooleanField())  # noqa: S611
        tasks = tasks.alias(**{f"data_contains_{index}": contains}).filter(**{f"data_contains_{index}": True})
    return tasks


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


@dataclass
class TaskRow:
    """One row of the browser: the task and what its row shows beyond it."""

    task: Task
    preview: str
    reviews: dict[str, int] = field(default_factory=dict)
    agreement: float | None = None
    disputed: bool = False


@dataclass
class TaskPage:
    rows: list[TaskRow]
    after: uuid.UUID | None  # pass as `after` for the next page; None on the last
    before: uuid.UUID | None  # pass as `before` for the previous page; None on the first
    count: int | None  # matching tasks, up to COUNT_CAP; None when a search was not counted
    capped: bool


def _keyset(tasks: QuerySet[Task], columns: tuple[str, ...], anchor: Task, *, forward: bool) -> QuerySet[Task]:
    """The tasks after (or before) `anchor` in the order `columns`: a row comparison spelled out column by
    column, since each column may run its own direction."""
    condition = Q()
    equal = Q()
    for column in columns:
        name = column.lstrip("-")
        descending = column.startswith("-") == forward
        value = getattr(anchor, name)
        condition |= equal & Q(**{f"{name}__{'lt' if descending else 'gt'}": value})
        equal &= Q(**{name: value})
    return tasks.filter(condition)


def _reversed(columns: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c[1:] if c.startswith("-") else f"-{c}" for c in columns)


def _preview(data: Any, limit: int = 160) -> str:
    """The first text of the task's data, to recognise the task by."""
    stack = [data]
    while stack:
        value = stack.pop(0)
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            return text if len(text) <= limit else text[: limit - 1] + "…"
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return ""


def task_browse(
    *,
    project: Project,
    filters: TaskFilters,
    after: uuid.UUID | None = None,
    before: uuid.UUID | None = None,
    size: int = PAGE_SIZE,
) -> TaskPage:
    """One page of the project's tasks matching `filters`, in `filters.sort` order, after or before a task."""
    matching = task_browse_queryset(project=project, filters=filters)
    columns = SORTS[filters.sort]
    forward = after is not None or before is None
    anchor_id = after if forward else before
    anchor = Task.objects.filter(project=project, uuid=anchor_id).first() if anchor_id else None
    page = matching
    if anchor is not None:
        page = _keyset(page, columns, anchor, forward=forward)
    backwards = anchor is not None and not forward
    page = page.order_by(*(_reversed(columns) if backwards else columns))
    tasks = list(page.select_related("agreement")[: size + 1])
    more = len(tasks) > size
    tasks = tasks[:size]
    if backwards:
        tasks.reverse()
    rows = _rows(project, tasks)
    # A first page with room to spare holds every match: counting them again would repeat its scan. A search or a
    # label value reads the data itself (no index can serve it): counting its matches would cost a second scan of
    # the project, so such a page says only that there are more.
    if anchor is None and not more:
        count: int | None = len(tasks)
    elif filters.text or filters.label is not None:
        count = None
    else:
        count = matching.order_by()[: COUNT_CAP + 1].count()
    has_next = more if not backwards else True
    has_previous = (more if backwards else anchor is not None) and bool(tasks)
    return TaskPage(
        rows=rows,
        after=tasks[-1].uuid if tasks and has_next else None,
        before=tasks[0].uuid if tasks and has_previous else None,
        count=None if count is None else min(count, COUNT_CAP),
        capped=count is not None and count > COUNT_CAP,
    )


def _rows(project: Project, tasks: list[Task]) -> list[TaskRow]:
    """The rows, with each task's review outcomes counted in one grouped read."""
    outcomes: dict[int, dict[str, int]] = {}
    reviewed = (
        Annotation.objects.filter(project=project, task_id__in=[t.pk for t in tasks])
        .exclude(review_state=ReviewState.NONE)
        .values_list("task_id", "review_state")
    )
    for task_id, state in reviewed:
        counts = outcomes.setdefault(task_id, {})
        counts[state] = counts.get(state, 0) + 1
    rows = []
    for task in tasks:
        agreement = getattr(task, "agreement", None)
        rows.append(
            TaskRow(
                task=task,
                preview=_preview(task.data),
                reviews=outcomes.get(task.pk, {}),
                agreement=agreement.score if agreement is not None else None,
                disputed=bool(agreement is not None and agreement.needs_adjudication),
            )
        )
    return rows


def task_for_browser(*, project: Project, task_uuid: uuid.UUID) -> Task | None:
    return Task.objects.filter(project=project, uuid=task_uuid).select_related("agreement").first()


def tasks_by_uuid(*, project: Project, uuids: list[uuid.UUID]) -> list[Task]:
    """The project's tasks among `uuids` (foreign or unknown ids drop out), locked for a bulk change."""
    return list(Task.objects.filter(project=project, uuid__in=uuids).select_for_update().order_by("id"))


_SHOWN_BY_ANNOTATIONS = (AssignmentState.SUBMITTED, AssignmentState.REJECTED)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str
    who: str
    detail: str = ""


@dataclass
class TaskFile:
    """Everything the task page shows about one task."""

    task: Task
    annotations: list[Annotation]
    reviews: list[Review]
    assignments: list[Assignment]
    timeline: list[TimelineEntry]
    seen_by: list[HistoryEntry]


def task_file(*, project: Project, task: Task, history_limit: int = 50) -> TaskFile:
    """The task with every annotation version, review and assignment, its timeline, and who read it."""
    annotations = list(task_annotation_history(task=task))
    reviews = [review for annotation in annotations for review in annotation.reviews.all()]
    assignments = list(
        Assignment.objects.filter(project=project, task=task).select_related("annotator__user").order_by("id")
    )
    timeline: list[TimelineEntry] = [TimelineEntry(task.created_at, "imported", "", f"priority {task.priority}")]
    for assignment in assignments:
        who = assignment.annotator.user.email
        if assignment.claimed_at is not None:
            timeline.append(TimelineEntry(assignment.claimed_at, "claimed", who))
        # A submit (later perhaps rejected) is the annotation's own entry and the rejection the review's; the
        # other ways a turn ends have no row of their own but the assignment.
        if assignment.finished_at is not None and assignment.state not in _SHOWN_BY_ANNOTATIONS:
            timeline.append(TimelineEntry(assignment.finished_at, assignment.state, who, assignment.reason))
    for annotation in annotations:
        what = "submitted" if annotation.version == 1 else f"version {annotation.version}"
        timeline.append(TimelineEntry(annotation.created_at, what, annotation.annotator.user.email))
    for review in reviews:
        timeline.append(
            TimelineEntry(review.created_at, f"review: {review.decision}", review.reviewer.user.email, review.comment)
        )
    timeline.sort(key=lambda entry: entry.at)
    return TaskFile(
        task=task,
        annotations=annotations,
        reviews=reviews,
        assignments=assignments,
        timeline=timeline,
        seen_by=audit_history(subject_id=str(task.uuid), limit=history_limit),
    )
