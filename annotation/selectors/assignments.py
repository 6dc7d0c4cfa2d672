"""Reads of assignments, annotations, annotators' standing and conflict-of-interest exclusions."""

import uuid
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from annotation import sql
from annotation.models import AnnotatorProgress, Assignment, AssignmentState, ConflictExclusion
from core.context import current_organization_id
from core.db import prepared_cursor, row_instance
from projects.models import Project
from tenancy.models import Membership


def uuid_or_none(value: Any) -> uuid.UUID | None:
    """`value` read as a public id; None when it is not one, so that a malformed id finds nothing, as a missing one."""
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def assignment_list(*, project: Project, states: list[str], annotator: Any = None) -> "QuerySet[Assignment]":
    """A project's assignments, newest first; queued and active ones (the live queues) unless states are named."""
    wanted = [s for s in states if s in AssignmentState.values] or [AssignmentState.QUEUED, AssignmentState.ACTIVE]
    rows = Assignment.objects.filter(project=project, state__in=wanted)
    if annotator:
        annotator_id = uuid_or_none(annotator)
        rows = rows.none() if annotator_id is None else rows.filter(annotator__uuid=annotator_id)
    return rows.select_related("task", "project", "annotator__user").order_by("-id")


def project_to_claim(*, project_id: Any) -> Project | None:
    """The project of the organization in context with this public id, for a claim; None for a malformed, missing
    or foreign id. The same row project_list() would give, read with a statement planned once per connection."""
    public_id = uuid_or_none(project_id)
    if public_id is None:
        return None
    with prepared_cursor() as cursor:
        cursor.execute(sql.PROJECT_TO_CLAIM, {"uuid": public_id, "organization": current_organization_id()})
        row = cursor.fetchone()
    return None if row is None else row_instance(Project, row)


def assignments_for_update() -> "QuerySet[Assignment]":
    """Assignments locked for a state change, with what the change needs loaded."""
    return Assignment.objects.select_for_update(of=("self",)).select_related("task", "project")


def exclusion_list(*, project: Project | None = None) -> "QuerySet[ConflictExclusion]":
    """Every exclusion of the organization; for a project, the rules in force on it (its own and the
    organization-wide ones)."""
    rules = ConflictExclusion.objects.all()
    if project is not None:
        rules = rules.filter(Q(project=project) | Q(project__isnull=True))
    return rules.select_related("project", "membership__user", "created_by").order_by("id")


def progress_list(*, project: Project) -> "QuerySet[AnnotatorProgress]":
    """Each annotator's standing on the project, in the order they first worked on it."""
    return AnnotatorProgress.objects.filter(project=project).select_related("annotator__user").order_by("id")


def progress_for_update(*, project: Project, membership: Membership) -> AnnotatorProgress | None:
    """The annotator's standing on the project, locked for a change; None if they never worked on it."""
    return (
        AnnotatorProgress.objects.select_for_update(of=("self",))
        .filter(project=project, annotator=membership)
        .select_related("project", "annotator__user")
        .first()
    )


def held_assignment(*, actor: Membership, assignment_uuid: Any, now: datetime | None = None) -> Assignment | None:
    """The actor's own assignment whose lease is live now; None for anyone else's, a finished or lapsed one."""
    public_id = uuid_or_none(assignment_uuid)
    if public_id is None:
        return None
    return (
        Assignment.objects.select_related("task", "project")
        .filter(
            uuid=public_id,
            annotator=actor,
            state=AssignmentState.ACTIVE,
            lease_expires_at__gt=now or timezone.now(),
        )
        .first()
    )
