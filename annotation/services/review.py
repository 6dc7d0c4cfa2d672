"""Review of annotations (accept, reject, correct; at one or two levels) and adjudication of disputed tasks.

Counters stay exact through every decision (Task.taken = queued + active + submitted assignments, Task.done =
submitted): a rejection that returns the task to its annotator keeps the slot (`taken`) but undoes the finished
work (`done - 1`); one that returns it to the pool frees the slot as well (`taken - 1`, `done - 1`).
"""

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from annotation import config, permissions
from annotation.models import (
    Adjudication,
    Annotation,
    Assignment,
    AssignmentSource,
    AssignmentState,
    Review,
    ReviewDecision,
    ReviewState,
    TaskAgreement,
)
from annotation.services.dispatch import dispatch_soon
from annotation.services.quality import project_agreement_soon
from core.audit.record import audit_record
from core.enqueue import enqueue_on_commit
from core.errors import Conflict, ErrorList, FieldError
from projects.models import Project, Task
from projects.services.schema_versions import result_validate
from tenancy.models import Membership
from tenancy.permissions import check

logger = logging.getLogger(__name__)

COMMENT_MAX_LENGTH = 5000
RATIONALE_MAX_LENGTH = 10000
# What the audit trail keeps of a free-text comment or rationale; the full text stays on the row.
_AUDITED_TEXT = 500


@dataclass(frozen=True)
class Reviewed:
    """A review decision: the Review row, the annotation decided on as it now stands, and any correction."""

    review: Review
    annotation: Annotation
    correction: Annotation | None


# --- review decisions ---------------------------------------------------------------------------------------------


def _result_errors(result: Any, path: str = "result") -> list[FieldError]:
    if not isinstance(result, dict):
        return [FieldError(path, "Must be a JSON object with one value per schema field.", "invalid_type")]
    if len(json.dumps(result)) > config.result_max_bytes():
        return [FieldError(path, f"Must be at most {config.result_max_bytes()} bytes.", "too_large")]
    return []


def _review_input_check(decision: Any, comment: Any, corrected_result: Any) -> None:
    errors = ErrorList()
    if decision not in ReviewDecision.values:
        errors.add("decision", f"Must be one of {', '.join(ReviewDecision.values)}.", "invalid_choice")
    if not isinstance(comment, str):
        errors.add("comment", "Must be a string.", "invalid_type")
    elif len(comment) > COMMENT_MAX_LENGTH:
        errors.add("comment", f"Must be at most {COMMENT_MAX_LENGTH} characters.", "too_long")
    elif decision == ReviewDecision.REJECT and not comment.strip():
        errors.add("comment", "A rejection needs a comment telling the annotator what to change.", "required")
    if decision == ReviewDecision.CORRECT:
        if corrected_result is None:
            errors.add("result", "A correction needs the corrected result.", "required")
        else:
            errors.items.extend(_result_errors(corrected_result))
    elif corrected_result is not None and decision in ReviewDecision.values:
        errors.add("result", "Only a correction carries a result.", "not_allowed")
    errors.raise_if_any()


def annotation_review(
    *,
    actor: Membership,
    annotation: Annotation,
    decision: Any,
    comment: Any = "",
    corrected_result: Any = None,
) -> Reviewed:
    """Decide on an annotation waiting for review at its current level: accept it (on to the second level if the
    project has one), reject it (back to its annotator or to the pool), or correct it (a new version written by
    the reviewer). One decision per annotation and level; nobody reviews their own work."""
    _review_input_check(decision, comment, corrected_result)
    with transaction.atomic():
        # Locked: two reviewers deciding at once are serialised, and the second finds it decided.
        annotation = (
            Annotation.objects.select_for_update(of=("self",))
            .select_related("project", "task", "assignment")
            .get(pk=annotation.pk)
        )
        project = annotation.project
        check(permissions.review(actor, project))
        check(permissions.review_decide(actor, annotation))
        level = annotation.review_level
        if annotation.review_state != ReviewState.PENDING:
            raise Conflict(f"This annotation is not waiting for review (it is {annotation.review_state}).")
        if Review.objects.filter(annotation=annotation, level=level).exists():
            raise Conflict(f"This annotation was already reviewed at level {level}.")
        if level == 2:
            check(permissions.review_second_level(actor, annotation))
        if decision == ReviewDecision.CORRECT:
            result_validate(project=project, task=annotation.task, result=corrected_result)
        try:
            with transaction.atomic():
                review = Review.objects.create(
                    annotation=annotation, reviewer=actor, level=level, decision=decision, comment=comment
                )
        except IntegrityError as exc:
            raise Conflict(f"This annotation was already reviewed at level {level}.") from exc

        metadata: dict[str, Any] = {
            "review": str(review.uuid),
            "level": level,
            "task": str(annotation.task.uuid),
            "comment": comment[:_AUDITED_TEXT],
        }
        correction = None
        if decision == ReviewDecision.ACCEPT:
            _accept(annotation, level, project)
        elif decision == ReviewDecision.REJECT:
            metadata.update(_reject(annotation, actor, project, comment))
        else:
            correction = _correct(annotation, actor, level, project, corrected_result)
            review.correction = correction
            Review.objects.filter(pk=review.pk).update(correction=correction)
            metadata["correction"] = str(correction.uuid)
        metadata["review_state"] = annotation.review_state
        audit_record(action=f"review.{ReviewDecision(decision).value}", target=annotation, metadata=metadata)
        task = annotation.task
        if decision != ReviewDecision.ACCEPT and not task.is_gold and task.overlap >= 2:
            # The task's standing answers changed: a rejected one drops out, a correction replaces one.
            enqueue_on_commit("quality.task_agreement", project.organization_id, task.pk)
    logger.info(
        "annotation.reviewed",
        extra={"annotation": str(annotation.uuid), "decision": decision, "level": level},
    )
    return Reviewed(review=review, annotation=annotation, correction=correction)


def _accept(annotation: Annotation, level: int, project: Project) -> None:
    if level == 1 and project.review_levels >= 2:
        annotation.review_level = 2  # still pending: the second level decides
    else:
        annotation.review_state = ReviewState.ACCEPTED
    Annotation.objects.filter(pk=annotation.pk).update(
        review_state=annotation.review_state, review_level=annotation.review_level
    )


def _reject(annotation: Annotation, actor: Membership, project: Project, comment: str) -> dict[str, Any]:
    """Mark the annotation rejected and send its task back; the returned dict is for the audit record."""
    if annotation.assignment_id is None:
        raise Conflict("This annotation's assignment no longer exists; its task cannot be sent back.")
    assignment = Assignment.objects.select_for_update().get(pk=annotation.assignment_id)
    if assignment.state != AssignmentState.SUBMITTED:
        raise Conflict(f"This annotation's assignment is {assignment.state}, not submitted; it cannot be sent back.")
    annotation.assignment = assignment
    locked = Assignment.objects.filter(pk=assignment.pk)
    annotation.review_state = ReviewState.REJECTED
    Annotation.objects.filter(pk=annotation.pk).update(review_state=ReviewState.REJECTED)
    if project.reject_returns_to == "annotator":
        # Back in the same annotator's queue: the slot stays theirs (taken unchanged), the work is undone (done - 1),
        # and their next claim serves it again; their new submit becomes the next version. Marked manual so the
        # dispatcher's sweep of stale reservations, which frees only its own, leaves it for them.
        locked.update(
            state=AssignmentState.QUEUED,
            lease_token=None,
            lease_expires_at=None,
            finished_at=None,
            source=AssignmentSource.MANUAL,
            assigned_by=actor.user,
            reason=f"returned after review: {comment}"[:300],
        )
        Task.objects.filter(pk=annotation.task_id).update(done=F("done") - 1)
        assignment.state = AssignmentState.QUEUED
    else:
        # Out of the annotator's hands for good (they may not take it again): the slot goes back to the pool.
        locked.update(state=AssignmentState.REJECTED, reason=f"rejected in review: {comment}"[:300])
        Task.objects.filter(pk=annotation.task_id).update(taken=F("taken") - 1, done=F("done") - 1)
        assignment.state = AssignmentState.REJECTED
        dispatch_soon(organization_id=project.organization_id, project_id=project.pk)
    return {"returned_to": project.reject_returns_to, "assignment": str(assignment.uuid)}


def _correct(annotation: Annotation, actor: Membership, level: int, project: Project, result: Any) -> Annotation:
    """The reviewer's fixed version replaces the annotation; at the first of two levels it goes on to the second."""
    second_level_next = level == 1 and project.review_levels >= 2
    correction = Annotation.objects.create(
        project=project,
        task=annotation.task,
        assignment=annotation.assignment,
        annotator=actor,
        result=result,
        schema_version=project.schema_version,
        guidelines_version=project.guidelines_version,
        time_spent_ms=0,
        version=annotation.version + 1,
        supersedes=annotation,
        is_gold=annotation.is_gold,
        review_state=ReviewState.PENDING if second_level_next else ReviewState.ACCEPTED,
        review_level=2 if second_level_next else level,
    )
    annotation.review_state = ReviewState.CORRECTED
    Annotation.objects.filter(pk=annotation.pk).update(review_state=ReviewState.CORRECTED)
    return correction


# --- adjudication -------------------------------------------------------------------------------------------------


def annotation_adjudicate(*, actor: Membership, task: Task, result: Any, rationale: Any) -> Adjudication:
    """Settle a disputed task with a final answer and the reasons for it; takes it off the adjudication queue.

    Reviewers and above may adjudicate, but not on a task they annotated (or corrected): they took a side.
    """
    project = task.project
    errors = ErrorList()
    errors.items.extend(_result_errors(result))
    if not isinstance(rationale, str):
        errors.add("rationale", "Must be a string.", "invalid_type")
    elif not rationale.strip():
        errors.add("rationale", "An adjudication needs a rationale.", "required")
    elif len(rationale) > RATIONALE_MAX_LENGTH:
        errors.add("rationale", f"Must be at most {RATIONALE_MAX_LENGTH} characters.", "too_long")
    errors.raise_if_any()
    check(permissions.adjudicate(actor, task))
    if Adjudication.objects.filter(task=task).exists():
        raise Conflict("This task was already adjudicated.")
    result_validate(project=project, task=task, result=result)
    with transaction.atomic():
        previous = TaskAgreement.objects.filter(task=task).values_list("score", flat=True).first()
        try:
            with transaction.atomic():
                adjudication = Adjudication.objects.create(
                    project=project,
                    task=task,
                    adjudicator=actor,
                    result=result,
                    schema_version=project.schema_version,
                    rationale=rationale,
                )
        except IntegrityError as exc:
            raise Conflict("This task was already adjudicated.") from exc
        TaskAgreement.objects.filter(task=task).update(needs_adjudication=False)
        audit_record(
            action="review.adjudicate",
            target=task,
            metadata={
                "adjudication": str(adjudication.uuid),
                "project": str(project.uuid),
                "agreement": previous,
                "rationale": rationale[:_AUDITED_TEXT],
            },
        )
        project_agreement_soon(organization_id=project.organization_id, project_id=project.pk)
    logger.info("task.adjudicated", extra={"task": str(task.uuid), "adjudication": str(adjudication.uuid)})
    return adjudication
