"""Agreement recomputed from the stored annotations: per task (scores, consensus, the adjudication flag) and per
project (alpha per field, kappa per annotator pair). The reports are read through annotation.selectors.quality.

What counts as an annotator's answer on a task: the newest version of the chain their annotation started. A
reviewer's correction continues the chain of the annotation it corrects (so it replaces that answer rather than
adding a voice), a rejected newest version counts as no answer until it is redone, and only answers made under
the project's current schema version are compared — fields of an older, incompatible version may not mean the
same thing.
"""

import logging
import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils.crypto import salted_hmac

from annotation.models import (
    Adjudication,
    Annotation,
    ProjectAgreement,
    ReviewState,
    TaskAgreement,
)
from annotation.quality.agreement import FieldAgreement, consensus, field_agreement, task_agreement
from core.context import current_organization_id
from core.enqueue import enqueue_coalesced
from projects.models import Project, Task
from projects.services.schema_versions import project_schema_fields
from tenancy.models import Membership

logger = logging.getLogger(__name__)

# Types whose values cannot be merged into one without a matching rule the schema contract does not define.
_NO_CONSENSUS = frozenset({"spans", "boxes", "text"})
# Each annotator of a chat field holds a conversation of their own (their prompts, the models' replies to them):
# two annotators' answers share nothing to agree on, so the field takes no part in agreement.
_NOT_COMPARED = frozenset({"chat"})
PROJECT_RECOMPUTE_WINDOW_SECONDS = 30
_PSEUDONYM_SALT = "annotation.quality.annotator_pseudonym"
# Only what agreement reads: results can be large, the rest of the row is not needed.
_ANSWER_COLUMNS = ("id", "task_id", "annotator_id", "supersedes_id", "version", "review_state", "schema_version")


def annotator_pseudonym(*, project_uuid: UUID | str, member_uuid: UUID | str) -> str:
    """A stable id for an annotator within one project that names nobody: a keyed hash, so it cannot be reversed
    or matched across projects without the server's secret key."""
    digest = salted_hmac(_PSEUDONYM_SALT, f"{project_uuid}:{member_uuid}", algorithm="sha256").hexdigest()
    return f"anon-{digest[:12]}"


@dataclass(frozen=True)
class Answer:
    """One annotator's standing answer on a task: whose it is, and the annotation version that holds it."""

    owner_id: int  # the member who wrote the chain's first version, not a reviewer who corrected it
    annotation: Annotation


def current_answers(annotations: Iterable[Annotation], *, schema_version: int) -> list[Answer]:
    """Each annotator's standing answer among one task's annotations, in the order the annotators first answered.

    Chains are followed through `supersedes`; the newest version of each chain stands unless it was rejected or
    was made under another schema version.
    """
    rows = list(annotations)
    by_id = {a.pk: a for a in rows}
    newest: dict[int, tuple[Annotation, Annotation]] = {}  # root id -> (root, newest version)
    for annotation in rows:
        root = annotation
        seen = {root.pk}
        while root.supersedes_id is not None and root.supersedes_id in by_id and root.supersedes_id not in seen:
            root = by_id[root.supersedes_id]
            seen.add(root.pk)
        held = newest.get(root.pk)
        if held is None or (annotation.version, annotation.pk) > (held[1].version, held[1].pk):
            newest[root.pk] = (root, annotation)
    return [
        Answer(owner_id=root.annotator_id, annotation=latest)
        for _, (root, latest) in sorted(newest.items())
        if latest.review_state != ReviewState.REJECTED and latest.schema_version == schema_version
    ]


def _value(annotation: Annotation, name: str) -> Any:
    return annotation.result.get(name) if isinstance(annotation.result, dict) else None


def _finite(value: Any) -> Any:
    """None for NaN or infinity: JSON (and PostgreSQL's jsonb) have no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- one task ---------------------------------------------------------------------------------------------------


def _compared_fields(project: Project) -> list[dict[str, Any]]:
    return [spec for spec in project_schema_fields(project) if spec["type"] not in _NOT_COMPARED]


def task_agreement_recompute(*, task: Task) -> TaskAgreement:
    """Score how far the task's annotators agree, field by field, with the consensus of each field; flag the
    task for adjudication when its most disputed field falls below the project's threshold."""
    project = task.project
    fields = _compared_fields(project)
    rows = list(Annotation.objects.filter(task=task).only(*_ANSWER_COLUMNS, "result").order_by("id"))
    answers = current_answers(rows, schema_version=project.schema_version)
    scores: dict[str, float | None] = {}
    agreed: dict[str, Any] = {}
    for spec in fields:
        values = [_value(a.annotation, spec["name"]) for a in answers]
        scores[spec["name"]] = _finite(task_agreement(spec, values))
        agreed[spec["name"]] = None if spec["type"] in _NO_CONSENSUS else consensus(spec, values)
    defined = [s for s in scores.values() if s is not None]
    lowest = min(defined) if defined else None
    with transaction.atomic():
        adjudicated = Adjudication.objects.filter(task=task).exists()
        flagged = lowest is not None and len(answers) >= 2 and lowest < project.agreement_threshold and not adjudicated
        # One statement whichever of two concurrent recomputes of the task comes first: no unique-key race.
        TaskAgreement.objects.bulk_create(
            [
                TaskAgreement(
                    organization_id=current_organization_id(),
                    project_id=task.project_id,
                    task=task,
                    annotations=len(answers),
                    fields=scores,
                    score=lowest,
                    consensus=agreed,
                    needs_adjudication=flagged,
                )
            ],
            update_conflicts=True,
            unique_fields=["task"],
            update_fields=["annotations", "fields", "score", "consensus", "needs_adjudication", "computed_at"],
        )
        if flagged and Adjudication.objects.filter(task=task).exists():
            # An adjudication committed while this ran: it settled the task, whatever the scores say now.
            TaskAgreement.objects.filter(task=task).update(needs_adjudication=False)
    agreement = TaskAgreement.objects.get(task=task)
    logger.info(
        "quality.task_agreement",
        extra={"task": str(task.uuid), "score": lowest, "annotations": len(answers), "flagged": flagged},
    )
    return agreement


# --- one project ------------------------------------------------------------------------------------------------


def _field_report(result: FieldAgreement) -> dict[str, Any]:
    return {
        "name": result.name,
        "type": result.type,
        "level": result.level,
        "alpha": _finite(result.alpha),
        "alpha_interval": _finite(result.alpha_interval),
        "components": {k: _finite(v) for k, v in result.components.items()},
        "units": result.units,
        "pairs": [
            {
                "annotator_a": pair.annotator_a,
                "annotator_b": pair.annotator_b,
                "kappa": _finite(pair.kappa),
                "observed": _finite(pair.observed),
                "shared_units": pair.shared_units,
                "shared_tasks": pair.shared_tasks,
            }
            for pair in result.pairs
        ],
    }


def _project_answers(project: Project) -> dict[int, list[Answer]]:
    """task id -> its standing answers, for every live task that has two answers or more."""
    by_task: dict[int, list[Answer]] = {}
    rows = (
        Annotation.objects.filter(project=project, is_gold=False)
        .only(*_ANSWER_COLUMNS, "result")
        .order_by("task_id", "id")
    )
    batch: list[Annotation] = []

    def flush() -> None:
        answers = current_answers(batch, schema_version=project.schema_version)
        if len(answers) >= 2:
            by_task[batch[0].task_id] = answers

    for annotation in rows.iterator(chunk_size=2000):
        if batch and annotation.task_id != batch[0].task_id:
            flush()
            batch = []
        batch.append(annotation)
    if batch:
        flush()
    return by_task


def project_agreement_recompute(*, project: Project) -> ProjectAgreement:
    """Chance-corrected agreement over the project's tasks that two or more annotators answered: Krippendorff's
    alpha per field at its level of measurement, Cohen's kappa per annotator pair, under pseudonymous ids."""
    fields = _compared_fields(project)
    by_task = _project_answers(project)
    owners = sorted({a.owner_id for answers in by_task.values() for a in answers})
    member_uuids = dict(Membership.objects.filter(pk__in=owners).values_list("pk", "uuid"))
    pseudonym = {pk: annotator_pseudonym(project_uuid=project.uuid, member_uuid=member_uuids[pk]) for pk in owners}
    reports = []
    for spec in fields:
        data: dict[Hashable, dict[Hashable, Any]] = {
            task_id: {pseudonym[a.owner_id]: _value(a.annotation, spec["name"]) for a in answers}
            for task_id, answers in by_task.items()
        }
        reports.append(_field_report(field_agreement(spec, data)))
    tasks_of: dict[int, int] = dict.fromkeys(owners, 0)
    for answers in by_task.values():
        for a in answers:
            tasks_of[a.owner_id] += 1
    flags = TaskAgreement.objects.filter(project=project, needs_adjudication=True).count()
    report = {
        "schema_version": project.schema_version,
        "tasks": len(by_task),
        "annotators": [
            {"id": pseudonym[pk], "tasks": tasks_of[pk]} for pk in sorted(owners, key=pseudonym.__getitem__)
        ],
        "fields": reports,
        "adjudication": {
            "threshold": project.agreement_threshold,
            "needed": flags,
            "done": Adjudication.objects.filter(project=project).count(),
        },
    }
    ProjectAgreement.objects.bulk_create(
        [
            ProjectAgreement(
                organization_id=current_organization_id(), project=project, report=report, tasks=len(by_task)
            )
        ],
        update_conflicts=True,
        unique_fields=["project"],
        update_fields=["report", "tasks", "computed_at"],
    )
    logger.info("quality.project_agreement", extra={"project": str(project.uuid), "tasks": len(by_task)})
    return ProjectAgreement.objects.get(project=project)


def project_agreement_soon(*, organization_id: int, project_id: int) -> bool:
    """Ask for one project recompute about `PROJECT_RECOMPUTE_WINDOW_SECONDS` from now, after commit; the asks of
    every submit in that window share it. Returns whether this call scheduled it.

    The run is delayed past the window on purpose: it then sees every answer whose ask was coalesced into it,
    where an immediate run would miss the rest of a burst until the next submit.
    """
    window = PROJECT_RECOMPUTE_WINDOW_SECONDS
    return enqueue_coalesced(
        "quality.project_agreement", organization_id, project_id, within_seconds=window, countdown=window + 2
    )
