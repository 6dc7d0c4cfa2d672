"""Conflict-of-interest exclusions: keep a member, or everyone with an attribute value, off a project or off all.

A new rule takes effect at once: the work the members it names hold on the projects it covers (queued or leased)
is revoked, because the conflict is about labelling the data at all, not about new work only. Removing a rule
asks the dispatcher to fill the queues it frees; either change is audited in the transaction that makes it.
"""

import logging
from typing import Any

from django.db import IntegrityError, transaction

from annotation import permissions
from annotation.models import LIVE_STATES, Assignment, ConflictExclusion
from annotation.selectors.eligibility import member_holds
from annotation.services.dispatch import dispatch_soon, projects_needing_dispatch
from annotation.services.leases import assignment_revoke
from core.audit.record import audit_record
from core.errors import Conflict, ErrorList
from projects.models import Project
from tenancy.models import Membership
from tenancy.permissions import check
from tenancy.services.members import ATTRIBUTE_KEY, ATTRIBUTE_VALUE_MAX

logger = logging.getLogger(__name__)

REVOKE_REASON = "conflict-of-interest exclusion"


def _clean(*, membership: Membership | None, attribute: str, value: str) -> tuple[str, str]:
    errors = ErrorList()
    attribute, value = attribute.strip(), value.strip()
    if membership is not None and (attribute or value):
        errors.add("member", "Name either a member, or an attribute and its value; not both.", "ambiguous")
    elif membership is None and not attribute:
        errors.add("member", "Name a member, or an attribute and its value.", "required")
    if attribute and not ATTRIBUTE_KEY.match(attribute):
        errors.add("attribute", "Names are lowercase letters, digits, `_`, `.` or `-`, at most 64.", "invalid")
    if attribute and not value:
        errors.add("value", "An attribute rule needs the value it excludes.", "required")
    if value and not attribute and membership is None:
        errors.add("attribute", "A value needs the attribute it belongs to.", "required")
    if len(value) > ATTRIBUTE_VALUE_MAX:
        errors.add("value", f"At most {ATTRIBUTE_VALUE_MAX} characters.", "max_length")
    errors.raise_if_any()
    return attribute, value


def exclusion_create(
    *,
    actor: Membership,
    project: Project | None,
    membership: Membership | None = None,
    attribute: str = "",
    value: str = "",
    reason: str = "",
) -> ConflictExclusion:
    """Add a rule keeping a member (or an attribute value) off `project`, or off every project when it is None."""
    check(permissions.exclusion_create(actor))
    attribute, value = _clean(membership=membership, attribute=attribute, value=value)
    same = ConflictExclusion.objects.filter(project=project, membership=membership, attribute=attribute)
    if attribute:
        same = same.filter(value__iexact=value)
    if same.exists():
        raise Conflict("The same exclusion already exists.")
    try:
        with transaction.atomic():
            exclusion = ConflictExclusion.objects.create(
                project=project,
                membership=membership,
                attribute=attribute,
                value=value,
                reason=reason.strip()[:300],
                created_by=actor.user,
            )
            audit_record(
                action="exclusion.create",
                target=exclusion,
                changes={
                    "member": [None, str(membership.uuid) if membership else None],
                    "attribute": [None, attribute or None],
                    "value": [None, value or None],
                    "reason": [None, exclusion.reason],
                },
                metadata={"project": str(project.uuid) if project else None, **_who(membership)},
            )
            revoked = _revoke_excluded_work(actor=actor, exclusion=exclusion)
    except IntegrityError as exc:  # the database's own member-or-attribute check; _clean should have caught it
        raise Conflict("The exclusion could not be stored.") from exc
    for project_id in sorted(revoked):
        dispatch_soon(organization_id=exclusion.organization_id, project_id=project_id)
    return exclusion


def _who(membership: Membership | None) -> dict[str, Any]:
    return {"user": membership.user.email} if membership is not None else {}


def _revoke_excluded_work(*, actor: Membership, exclusion: ConflictExclusion) -> set[int]:
    """Revoke the queued and leased work of everyone the rule now excludes; return the projects touched."""
    if exclusion.membership_id is not None:
        excluded = [exclusion.membership_id]
    else:
        holders = Membership.objects.filter(attributes__has_key=exclusion.attribute)
        excluded = [m.pk for m in holders if member_holds(m, attribute=exclusion.attribute, value=exclusion.value)]
    if not excluded:
        return set()
    live = (
        Assignment.objects.select_for_update(of=("self",))
        .filter(state__in=LIVE_STATES, annotator_id__in=excluded)
        .select_related("task", "project")
        .order_by("id")
    )
    if exclusion.project_id is not None:
        live = live.filter(project_id=exclusion.project_id)
    touched: set[int] = set()
    for assignment in live:
        assignment_revoke(actor=actor, assignment=assignment, reason=REVOKE_REASON)
        touched.add(assignment.project_id)
    if touched:
        logger.info("exclusion.revoked_work", extra={"exclusion": str(exclusion.uuid), "projects": len(touched)})
    return touched


def exclusion_delete(*, actor: Membership, exclusion: ConflictExclusion) -> None:
    """Remove a rule; never by a member it keeps off work (annotation.permissions.exclusion_delete)."""
    check(permissions.exclusion_delete(actor, exclusion))
    project = exclusion.project
    with transaction.atomic():
        audit_record(
            action="exclusion.delete",
            target=exclusion,
            changes={
                "member": [str(exclusion.membership.uuid) if exclusion.membership else None, None],
                "attribute": [exclusion.attribute or None, None],
                "value": [exclusion.value or None, None],
            },
            metadata={"project": str(project.uuid) if project else None, "reason": exclusion.reason},
        )
        exclusion.delete()
        # Whoever the rule kept out may work again: ask for a dispatch instead of waiting for the next beat.
        for project_id in [project.pk] if project is not None else projects_needing_dispatch():
            dispatch_soon(organization_id=exclusion.organization_id, project_id=project_id)
