"""Writes of annotation results: submit (fenced by the lease), with gold scoring and the annotator's standing."""

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from annotation import config, sql
from annotation.models import (
    Annotation,
    AnnotatorProgress,
    Assignment,
    AssignmentState,
    QualificationState,
    ReviewState,
)
from annotation.quality.scoring import score_against_gold
from annotation.quality.suggestions import suggestion_outcomes
from annotation.selectors.chat import chat_result_errors
from annotation.services.dispatch import dispatch_soon
from annotation.services.leases import LeaseLost, lease_check
from core.audit.record import Outcome, audit_record
from core.db import prepared_cursor
from core.enqueue import enqueue_on_commit
from core.errors import FieldError, InvalidInput
from projects.models import Project, Task
from projects.services.schema_versions import project_schema_fields, result_validate
from tenancy.models import Membership

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Submitted:
    annotation: Annotation
    created: bool  # False when the same lease was submitted before: the first result stands


def _check_result(project: Project, task: Task, result: Any, time_spent_ms: Any) -> None:
    if not isinstance(result, dict):
        raise InvalidInput("The result must be a JSON object.", errors=[])
    if len(json.dumps(result)) > config.result_max_bytes():
        raise InvalidInput(f"The result is larger than {config.result_max_bytes()} bytes.")
    if isinstance(time_spent_ms, bool) or not isinstance(time_spent_ms, int) or not 0 <= time_spent_ms <= 86_400_000:
        raise InvalidInput(
            "The request has invalid fields.",
            errors=[FieldError("time_spent_ms", "Must be an integer number of milliseconds, 0 to 24 h.", "invalid")],
        )
    result_validate(project=project, task=task, result=result)


def _review_state_for(project: Project, task: Task) -> str:
    """Whether this annotation waits for review: all of them, a sample drawn per annotation, or none. Gold
    answers are scored, not reviewed."""
    if task.is_gold or project.review_mode == "none":
        return ReviewState.NONE
    if project.review_mode == "all" or random.random() < project.review_rate:  # noqa: S311 - sampling, not secrets
        return ReviewState.PENDING
    return ReviewState.NONE


def annotation_submit(
    *,
    actor: Membership,
    assignment: Assignment,
    lease_token: Any,
    result: Any,
    time_spent_ms: Any = 0,
    now: datetime | None = None,
) -> Submitted:
    """Record the result of a leased task. The lease token fences out a holder whose lease was taken over; the
    same lease submitted twice returns the first annotation (the retry of a lost response)."""
    now = now or timezone.now()
    project = assignment.project
    task = assignment.task
    with transaction.atomic():
        if assignment.state == AssignmentState.SUBMITTED and str(lease_token) == str(assignment.lease_token):
            previous = Annotation.objects.filter(assignment=assignment).order_by("-version").first()
            if previous is not None:
                return Submitted(annotation=previous, created=False)
        lease_check(assignment=assignment, lease_token=lease_token)
        _check_result(project, task, result, time_spent_ms)
        # A chat answer names messages: they must be this assignment's conversation, along a path of its tree.
        chat_errors = chat_result_errors(assignment=assignment, result=result)
        if chat_errors:
            raise InvalidInput("The annotation does not match its conversations.", errors=chat_errors)
        # A task returned after a rejected review is answered again on the same assignment: a new version.
        rejected = _assignment_finish(assignment=assignment, actor=actor, now=now)
        # Reworked answers after a rejection are always reviewed again, whatever the sample would say.
        review_state = (
            ReviewState.PENDING
            if rejected is not None and project.review_mode != "none"
            else _review_state_for(project, task)
        )
        annotation = Annotation.objects.create(
            project=project,
            task=task,
            assignment=assignment,
            annotator=actor,
            result=result,
            schema_version=project.schema_version,
            guidelines_version=project.guidelines_version,
            time_spent_ms=time_spent_ms,
            is_gold=task.is_gold,
            version=1 if rejected is None else rejected[1] + 1,
            supersedes_id=None if rejected is None else rejected[0],
            review_state=review_state,
            review_level=1 if review_state == ReviewState.PENDING else 0,
            # Decided here from the task and the result, never taken from the client: it feeds the acceptance report.
            suggestions=suggestion_outcomes(project=project, task=task, result=result),
        )
        if task.is_gold and isinstance(task.gold_answer, dict):
            _score_gold(actor=actor, project=project, task=task, annotation=annotation, now=now)
        dispatch_soon(organization_id=project.organization_id, project_id=project.pk)
        if not task.is_gold and task.overlap >= 2:
            enqueue_on_commit("quality.task_agreement", project.organization_id, task.pk)
        # Last: from here to the commit the organization's annotation counter is locked (see AuditSequence).
        audit_record(
            action="annotation.submit",
            target=annotation,
            metadata={
                "task": str(task.uuid),
                "assignment": str(assignment.uuid),
                "lease_token_prefix": str(assignment.lease_token)[:8],
                "time_spent_ms": time_spent_ms,
                "gold": task.is_gold,
            },
        )
    assignment.state = AssignmentState.SUBMITTED
    return Submitted(annotation=annotation, created=True)


def _assignment_finish(*, assignment: Assignment, actor: Membership, now: datetime) -> tuple[int, int] | None:
    """Mark the leased assignment submitted, count the task done and the member's submission, and return the
    (id, version) of the assignment's latest earlier annotation, if any, in one statement. Raises
    LeaseLost when the assignment is no longer active (the caller holds its row lock, so only a bug gets here)."""
    with prepared_cursor() as cursor:
        cursor.execute(
            sql.ASSIGNMENT_FINISH,
            {
                "submitted": AssignmentState.SUBMITTED.value,
                "active": AssignmentState.ACTIVE.value,
                "now": now,
                "assignment": assignment.pk,
                "organization": assignment.organization_id,
                "project": assignment.project_id,
                "member": actor.pk,
            },
        )
        row = cursor.fetchone()
    assert row is not None
    if not row[0]:
        raise LeaseLost("This lease is no longer yours.")
    return None if row[1] is None else (row[1], row[2])


def _score_gold(*, actor: Membership, project: Project, task: Task, annotation: Annotation, now: datetime) -> None:
    assert isinstance(task.gold_answer, dict)
    scored = score_against_gold(project_schema_fields(project), annotation.result, task.gold_answer).overall
    if scored is None:
        return  # a gold answer with no field in it measures nothing
    score = scored
    Annotation.objects.filter(pk=annotation.pk).update(gold_score=score)
    annotation.gold_score = score
    progress = AnnotatorProgress.objects.select_for_update().get(project=project, annotator=actor)
    if task.qualification and progress.qualification_state == QualificationState.IN_PROGRESS:
        progress.qualification_answered += 1
        progress.qualification_score += score
        if progress.qualification_answered >= project.qualification_size:
            accuracy = progress.qualification_score / progress.qualification_answered
            passed = accuracy >= project.qualification_min_accuracy
            progress.qualification_state = QualificationState.PASSED if passed else QualificationState.FAILED
            progress.locked_until = None if passed else now + timedelta(hours=project.qualification_cooldown_hours)
            audit_record(
                action="qualification.pass" if passed else "qualification.fail",
                target=progress,
                outcome=Outcome.SUCCESS if passed else Outcome.FAILURE,
                metadata={
                    "accuracy": round(accuracy, 4),
                    "required": project.qualification_min_accuracy,
                    "answered": progress.qualification_answered,
                    "attempt": progress.qualification_attempts,
                },
            )
    elif not task.qualification:
        progress.gold_scored += 1
        progress.gold_score_sum += score
        accuracy = progress.gold_score_sum / progress.gold_scored
        threshold = project.gold_min_accuracy
        if (
            threshold is not None
            and progress.paused_at is None
            and progress.gold_scored >= config.gold_min_samples()
            and accuracy < threshold
        ):
            progress.paused_at = now
            progress.paused_reason = (
                f"Gold accuracy {accuracy:.0%} over {progress.gold_scored} gold tasks is below the project's "
                f"{threshold:.0%}."
            )
            audit_record(
                action="qualification.pause",
                target=progress,
                metadata={"accuracy": round(accuracy, 4), "required": threshold, "gold_scored": progress.gold_scored},
            )
    progress.save()
