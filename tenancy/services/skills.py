"""Writes to the organization's skills and to members' verified levels in them. Each records its audit event.

Routing reads skills by name (a project or task requires `{"cardiology": 3}`), so a skill that something requires
can be neither renamed nor deleted: the requirement would silently point at nothing, and nobody could ever
satisfy it again.
"""

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit.record import audit_record
from core.errors import Conflict, ErrorList, FieldError, InvalidInput
from tenancy import permissions, signals
from tenancy.models import SKILL_LEVEL_MAX, SKILL_LEVEL_MIN, Membership, MemberSkill, Skill
from tenancy.services.changes import changes_between


def _name_taken(name: str, errors: ErrorList, *, exclude: Skill | None = None) -> None:
    others = Skill.objects.filter(name=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        errors.add("name", f"A skill named {name!r} already exists.", "unique")


def _required_by(name: str) -> str | None:
    """What requires the skill by name (for the refusal's message), or None: the apps that route by skills answer
    (projects.receivers)."""
    answers = signals.skill_requirers.send(sender=Skill, name=name)
    return next((answer for _, answer in answers if answer), None)


def skill_create(*, actor: Membership, name: str, description: str = "") -> Skill:
    """Add a skill the organization routes by (owners and admins)."""
    permissions.check(permissions.skill_create(actor))
    errors = ErrorList()
    _name_taken(name, errors)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            skill = Skill.objects.create(name=name, description=description)
            audit_record(
                action="skill.create",
                target=skill,
                changes={"name": [None, name], "description": [None, description]},
            )
    except IntegrityError as exc:  # created concurrently under the same name
        raise InvalidInput(
            "The request has invalid fields.",
            errors=[FieldError("name", f"A skill named {name!r} already exists.", "unique")],
        ) from exc
    return skill


def skill_update(*, actor: Membership, skill: Skill, name: str | None = None, description: str | None = None) -> Skill:
    """Rename a skill or change its description; a skill that projects or tasks require keeps its name."""
    permissions.check(permissions.skill_update(actor))
    before = {"name": skill.name, "description": skill.description}
    if name is not None and name != skill.name:
        errors = ErrorList()
        _name_taken(name, errors, exclude=skill)
        errors.raise_if_any()
        user = _required_by(skill.name)
        if user is not None:
            raise Conflict(f"The skill {skill.name!r} is required by {user}; it cannot be renamed.")
        skill.name = name
    if description is not None:
        skill.description = description
    changes = changes_between(before, {"name": skill.name, "description": skill.description})
    if not changes:
        return skill
    try:
        with transaction.atomic():
            skill.save(update_fields=["name", "description"])
            audit_record(action="skill.update", target=skill, changes=changes)
    except IntegrityError as exc:
        raise InvalidInput(
            "The request has invalid fields.",
            errors=[FieldError("name", f"A skill named {skill.name!r} already exists.", "unique")],
        ) from exc
    return skill


def skill_delete(*, actor: Membership, skill: Skill) -> None:
    """Delete a skill nothing requires any more; members' levels in it go with it."""
    permissions.check(permissions.skill_delete(actor))
    user = _required_by(skill.name)
    if user is not None:
        raise Conflict(f"The skill {skill.name!r} is required by {user}; remove the requirement first.")
    with transaction.atomic():
        audit_record(
            action="skill.delete",
            target=skill,
            changes={"name": [skill.name, None]},
            metadata={"holders": skill.holders.count()},
        )
        skill.delete()


# --- members' levels ---


def member_skill_set(
    *,
    actor: Membership,
    membership: Membership,
    skill: Skill,
    level: int,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[MemberSkill, bool]:
    """Record a member's verified level in a skill (a new one, or a re-verification); returns (row, created)."""
    permissions.check(permissions.member_skill_verify(actor, membership))
    now = now or timezone.now()
    errors = ErrorList()
    if isinstance(level, bool) or not isinstance(level, int) or not SKILL_LEVEL_MIN <= level <= SKILL_LEVEL_MAX:
        errors.add("level", f"Must be a whole number from {SKILL_LEVEL_MIN} to {SKILL_LEVEL_MAX}.", "out_of_range")
    if expires_at is not None and expires_at <= now:
        errors.add("expires_at", "The expiry must be in the future.", "in_past")
    errors.raise_if_any()
    after = {"level": level, "expires_at": expires_at.isoformat() if expires_at else None}
    with transaction.atomic():
        # The (member, skill) pair is unique: lock the row if it exists so two verifications do not interleave.
        held = MemberSkill.objects.select_for_update().filter(membership=membership, skill=skill).first()
        created = held is None
        before: dict[str, Any] = {}
        if held is None:
            held = MemberSkill(membership=membership, skill=skill)
        else:
            before = {"level": held.level, "expires_at": held.expires_at.isoformat() if held.expires_at else None}
        held.level = level
        held.expires_at = expires_at
        held.verified_by = actor.user
        held.verified_at = now
        held.save()
        # A re-verification at the same level is still recorded: who vouched, and when, is what changed.
        audit_record(
            action="member.skill_set",
            target=membership,
            changes=changes_between(before, after),
            metadata={"skill": skill.name, "skill_uuid": str(skill.uuid), "user": membership.user.email},
        )
    return held, created


def member_skill_remove(*, actor: Membership, member_skill: MemberSkill) -> None:
    """Withdraw a member's level in a skill; work that requires it is no longer routed to them."""
    membership, skill = member_skill.membership, member_skill.skill
    permissions.check(permissions.member_skill_verify(actor, membership))
    with transaction.atomic():
        audit_record(
            action="member.skill_remove",
            target=membership,
            changes={"level": [member_skill.level, None]},
            metadata={"skill": skill.name, "skill_uuid": str(skill.uuid), "user": membership.user.email},
        )
        member_skill.delete()
