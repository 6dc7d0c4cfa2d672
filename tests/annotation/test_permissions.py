"""The services of the annotation app hold their rule (annotation.permissions) whoever calls them, the API's role
gate being only the first: a member one role too low is refused in the rule's words, and nothing is written."""

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from annotation.exports.filters import ExportFilters
from annotation.exports.services import export_create, export_download
from annotation.models import (
    Annotation,
    AnnotatorProgress,
    Assignment,
    AssignmentState,
    ConflictExclusion,
    ReviewState,
)
from annotation.services.dispatch import assignment_assign
from annotation.services.exclusions import exclusion_create, exclusion_delete
from annotation.services.leases import assignment_revoke
from annotation.services.progress import progress_pause, progress_unpause, project_dispatch_now
from annotation.services.review import annotation_adjudicate, annotation_review
from audit.models import AuditEvent
from core.errors import NotAllowed
from projects.models import ExportJob, JobState
from tenancy.models import Role
from tests.annotation.conftest import CHOICE_SCHEMA
from tests.annotation.exports_support import AssignmentFactory
from tests.annotation.routing_support import AnnotatorProgressFactory
from tests.factories import AnnotationFactory, ConflictExclusionFactory, MembershipFactory, ProjectFactory, TaskFactory

STANDING = "Only managers, admins and owners may change annotators' standing."
EXCLUSIONS = "Only managers, admins and owners may manage conflict-of-interest exclusions."
EXPORTS = "Exports need the manager role or higher."
REVIEW = "This action needs the reviewer role or higher."

# service -> (the role just below its rule, the refusal)
REFUSED = {
    "assignment_assign": (Role.REVIEWER, "Only managers, admins and owners may assign tasks."),
    "assignment_revoke": (Role.REVIEWER, "Only managers, admins and owners may take work back."),
    "progress_pause": (Role.REVIEWER, STANDING),
    "progress_unpause": (Role.REVIEWER, STANDING),
    "project_dispatch_now": (Role.REVIEWER, STANDING),
    "exclusion_create": (Role.REVIEWER, EXCLUSIONS),
    "exclusion_delete": (Role.REVIEWER, EXCLUSIONS),
    "export_create": (Role.REVIEWER, EXPORTS),
    "export_download": (Role.REVIEWER, EXPORTS),
    "annotation_review": (Role.ANNOTATOR, REVIEW),
    "annotation_adjudicate": (Role.ANNOTATOR, REVIEW),
}


@pytest.fixture
def world(tenant: Any) -> SimpleNamespace:
    """What the refused calls act on: a task with one live and one submitted turn, a paused annotator, an exclusion,
    an annotation waiting for review, an export that has not run."""
    owner = MembershipFactory(role=Role.OWNER)
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=3, review_mode="all")
    task = TaskFactory(project=project)
    live = AssignmentFactory(task=task, state=AssignmentState.QUEUED)
    done = AssignmentFactory(task=task)
    annotation = AnnotationFactory(
        project=project,
        task=task,
        assignment=done,
        annotator=done.annotator,
        result={"sentiment": "positive"},
        review_state=ReviewState.PENDING,
        review_level=1,
    )
    export = export_create(actor=owner, project=project, export_format="jsonl", filters=ExportFilters())
    return SimpleNamespace(
        project=project,
        task=task,
        live=live,
        annotation=annotation,
        progress=AnnotatorProgressFactory(project=project, paused_reason="gold", paused_at=timezone.now()),
        exclusion=ConflictExclusionFactory(project=project),
        export=export,
    )


def _calls(w: SimpleNamespace) -> dict[str, Callable[[Any], Any]]:
    return {
        "assignment_assign": lambda actor: assignment_assign(actor=actor, task=w.task, annotator=MembershipFactory()),
        "assignment_revoke": lambda actor: assignment_revoke(actor=actor, assignment=w.live, reason="no"),
        "progress_pause": lambda actor: progress_pause(actor=actor, progress=w.progress, reason="slow"),
        "progress_unpause": lambda actor: progress_unpause(actor=actor, progress=w.progress),
        "project_dispatch_now": lambda actor: project_dispatch_now(actor=actor, project=w.project),
        "exclusion_create": lambda actor: exclusion_create(actor=actor, project=w.project, attribute="a", value="b"),
        "exclusion_delete": lambda actor: exclusion_delete(actor=actor, exclusion=w.exclusion),
        "export_create": lambda actor: export_create(
            actor=actor, project=w.project, export_format="csv", filters=ExportFilters()
        ),
        "export_download": lambda actor: export_download(actor=actor, job=w.export),
        "annotation_review": lambda actor: annotation_review(actor=actor, annotation=w.annotation, decision="accept"),
        "annotation_adjudicate": lambda actor: annotation_adjudicate(
            actor=actor, task=w.task, result={"sentiment": "negative"}, rationale="Both readings hold."
        ),
    }


def _state() -> dict[str, Any]:
    return {
        "assignments": sorted(Assignment.objects.values_list("state", flat=True)),
        "annotations": list(Annotation.objects.values_list("review_state", flat=True)),
        "paused": list(AnnotatorProgress.objects.values_list("paused_reason", flat=True)),
        "exclusions": ConflictExclusion.objects.count(),
        "exports": list(ExportJob.objects.values_list("state", flat=True)),
        "events": list(AuditEvent.objects.values_list("action", flat=True)),
    }


@pytest.mark.parametrize("service", REFUSED)
def test_a_service_refuses_the_role_just_below_its_rule_and_writes_nothing(world, service):
    role, message = REFUSED[service]
    actor = MembershipFactory(role=role)
    before = _state()

    with pytest.raises(NotAllowed) as refused:
        _calls(world)[service](actor)

    assert refused.value.message == message
    assert _state() == before
    assert before == {
        "assignments": [AssignmentState.QUEUED, AssignmentState.SUBMITTED],
        "annotations": [ReviewState.PENDING],
        "paused": ["gold"],
        "exclusions": 1,
        "exports": [JobState.PENDING],
        "events": ["export.create"],
    }
