"""The review and quality part of a populated tenant: an annotation waiting for review (what the review route
decides on), and one row of every review and quality table (a review, a task's and the project's agreement, an
adjudication), made through the services that write them."""

from types import SimpleNamespace

from annotation.models import ReviewState
from annotation.services.quality import project_agreement_recompute, task_agreement_recompute
from annotation.services.review import annotation_adjudicate, annotation_review
from tenancy.models import Role
from tests.factories import AnnotationFactory, MembershipFactory


def populate_quality(world: SimpleNamespace) -> None:
    """Add the quality objects to a populated tenant (after the routing ones); call inside its organization context.

    `pending_annotation` is the target annotator's annotation of `task`, waiting for a first-level review. The
    task of the routing `annotation` gets a second answer (accepted in review by the owner), its agreement, and
    the owner's adjudication; `task` itself stays unadjudicated, so the adjudicate route has work to do.
    """
    prefix, owner = world.prefix, world.owner
    world.pending_annotation = AnnotationFactory(
        project=world.project,
        task=world.task,
        annotator=world.author,
        result={"label": f"{prefix} pending label"},
        review_state=ReviewState.PENDING,
        review_level=1,
    )
    settled_task = world.annotation.task
    second = AnnotationFactory(
        project=world.project,
        task=settled_task,
        annotator=MembershipFactory(role=Role.ANNOTATOR),
        result={"label": f"{prefix} second label"},
        review_state=ReviewState.PENDING,
        review_level=1,
    )
    world.review = annotation_review(actor=owner, annotation=second, decision="accept", comment=f"{prefix} fine").review
    world.task_agreement = task_agreement_recompute(task=settled_task)
    world.adjudication = annotation_adjudicate(
        actor=owner, task=settled_task, result={"label": f"{prefix} final"}, rationale=f"{prefix} settled"
    )
    world.project_agreement = project_agreement_recompute(project=world.project)
