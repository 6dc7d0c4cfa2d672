"""A manager's changes to tasks already labelled, from the data browser: ask for one more annotation, make a task
gold with the answer its work settled on, or send it to adjudication.

Each takes the project's tasks locked by the caller (`task_browser.tasks_by_uuid`), changes all of them or none,
and writes one audit event naming every task (`metadata.task_ids`, so that each task's history shows it).
"""

import json
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import F

from annotation.models import Adjudication, Annotation, ReviewState, TaskAgreement
from annotation.services.dispatch import dispatch_soon
from annotation.services.quality import current_answers
from core.audit.record import audit_record
from core.errors import ErrorList
from projects import permissions
from projects.models import Project, Task
from projects.services.tasks import bulk_size_check
from tenancy.models import Membership
from tenancy.permissions import check

# The most annotations a task can ask for: more than any review design needs, and far inside the column's range.
OVERLAP_MAX = 50


def _task_ids(tasks: Sequence[Task]) -> list[str]:
    return [str(task.uuid) for task in tasks]


def tasks_requeue(*, actor: Membership, project: Project, tasks: Sequence[Task]) -> int:
    """Ask for one more annotation of each task: its overlap grows by one, so it is open again for an annotator
    who has not labelled it (the routing rules decide who). Gold tasks are served by the gold rate instead."""
    check(permissions.task_change(actor))
    bulk_size_check(tasks)
    errors = ErrorList()
    for task in tasks:
        if task.is_gold:
            errors.add(f"tasks.{task.external_id}", "A gold task is served by the gold rate, not re-queued.")
        elif task.overlap >= OVERLAP_MAX:
            errors.add(f"tasks.{task.external_id}", f"Already asks for {OVERLAP_MAX} annotations, the most.")
    errors.raise_if_any("Some of the chosen tasks cannot be re-queued; nothing was changed.")
    with transaction.atomic():
        changed = Task.objects.filter(pk__in=[t.pk for t in tasks]).update(overlap=F("overlap") + 1)
        audit_record(
            action="task.requeue",
            target=project,
            changes={"overlap": "+1"},
            metadata={"count": changed, "task_ids": _task_ids(tasks)},
        )
        dispatch_soon(organization_id=project.organization_id, project_id=project.pk)
    return changed


def _settled_answer(task: Task, project: Project) -> Any:
    """The answer a task's work settled on: its adjudication, or else the one answer its standing annotations
    agree on (accepted, corrected or not reviewed; never a rejected one). None when there is none."""
    adjudication = Adjudication.objects.filter(task=task).values_list("result", "schema_version").first()
    if adjudication is not None:
        result, schema_version = adjudication
        return result if schema_version == project.schema_version else None
    annotations = Annotation.objects.filter(task=task).exclude(review_state=ReviewState.PENDING)
    answers = current_answers(annotations, schema_version=project.schema_version)
    distinct = {_canonical(a.annotation.result) for a in answers}
    return answers[0].annotation.result if len(distinct) == 1 else None


def _canonical(result: Any) -> str:
    return json.dumps(result, sort_keys=True)


def tasks_gold_set(*, actor: Membership, project: Project, tasks: Sequence[Task], gold: bool) -> int:
    """Make tasks gold, each with the answer its work settled on as the known answer, or make them ordinary again.
    A task with no settled answer (none yet, or annotators who disagree and no adjudication) refuses the batch."""
    check(permissions.task_change(actor))
    bulk_size_check(tasks)
    answers: dict[int, Any] = {}
    if gold:
        errors = ErrorList()
        for task in tasks:
            if task.qualification:
                errors.add(f"tasks.{task.external_id}", "A qualification task is gold already.")
                continue
            answer = _settled_answer(task, project)
            if answer is None:
                errors.add(
                    f"tasks.{task.external_id}",
                    "No settled answer: it needs an accepted or agreed annotation, or an adjudication.",
                )
            answers[task.pk] = answer
        errors.raise_if_any("Some of the chosen tasks have no answer to make them gold with; nothing was changed.")
    with transaction.atomic():
        for task in tasks:
            task.is_gold = gold
            task.gold_answer = answers.get(task.pk) if gold else None
        changed = Task.objects.bulk_update(tasks, ["is_gold", "gold_answer"])
        audit_record(
            action="task.gold_set",
            target=project,
            changes={"is_gold": gold},
            metadata={"count": changed, "task_ids": _task_ids(tasks)},
        )
    return changed


def tasks_adjudication_request(*, actor: Membership, project: Project, tasks: Sequence[Task]) -> int:
    """Put tasks on the adjudication queue, whatever their agreement: a manager's doubt is reason enough. A task
    adjudicated already stays settled."""
    check(permissions.task_change(actor))
    bulk_size_check(tasks)
    settled = set(Adjudication.objects.filter(task__in=tasks).values_list("task_id", flat=True))
    errors = ErrorList()
    for task in tasks:
        if task.pk in settled:
            errors.add(f"tasks.{task.external_id}", "Adjudicated already.")
        elif task.done == 0:
            errors.add(f"tasks.{task.external_id}", "Nobody has annotated it yet.")
    errors.raise_if_any("Some of the chosen tasks cannot go to adjudication; nothing was changed.")
    with transaction.atomic():
        existing = set(TaskAgreement.objects.filter(task__in=tasks).values_list("task_id", flat=True))
        TaskAgreement.objects.filter(task__in=tasks).update(needs_adjudication=True)
        TaskAgreement.objects.bulk_create(
            [
                # bulk_create skips save(), which would take the organization from the context.
                TaskAgreement(
                    organization_id=project.organization_id, project=project, task=task, needs_adjudication=True
                )
                for task in tasks
                if task.pk not in existing
            ]
        )
        audit_record(
            action="task.adjudication_request",
            target=project,
            metadata={"count": len(tasks), "task_ids": _task_ids(tasks)},
        )
    return len(tasks)
