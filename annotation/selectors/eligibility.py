"""Who may work on what: role, pause, conflict-of-interest exclusions, skills and languages.

Project-wide rules are judged here, once per claim, in Python; the per-task rules (a task's own skill or
language requirement) are part of the claim statement itself so that the scan skips tasks the member cannot do.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from annotation import sql
from annotation.models import ConflictExclusion
from core.context import current_organization_id
from core.db import prepared_cursor
from projects.models import Project
from tenancy.models import Membership, MemberSkill


@dataclass(frozen=True)
class MemberProfile:
    """What routing knows of a member: current skill levels by name, languages, attributes."""

    membership_id: int
    skills: dict[str, int]
    languages: frozenset[str]
    attributes: dict[str, Any] = field(default_factory=dict)

    def satisfies(self, required: dict[str, Any]) -> bool:
        return all(self.skills.get(name, 0) >= int(level) for name, level in required.items())

    def missing_skills(self, required: dict[str, Any]) -> dict[str, int]:
        return {n: int(lvl) for n, lvl in required.items() if self.skills.get(n, 0) < int(lvl)}


def member_profile(*, membership: Membership, now: datetime | None = None) -> MemberProfile:
    """The member's routing profile; expired skills do not count."""
    now = now or timezone.now()
    rows = (
        MemberSkill.objects.filter(membership_id=membership.pk)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("skill__name", "level")
    )
    return _profile(membership, dict(rows))


def _profile(membership: Membership, skills: dict[str, int]) -> MemberProfile:
    languages = membership.languages if isinstance(membership.languages, list) else []
    attributes = membership.attributes if isinstance(membership.attributes, dict) else {}
    return MemberProfile(
        membership_id=membership.pk,
        skills=skills,
        languages=frozenset(str(x).lower() for x in languages),
        attributes=attributes,
    )


def exclusion_applies(*, membership: Membership, project: Project) -> ConflictExclusion | None:
    """The conflict-of-interest rule keeping this member off this project, if any."""
    rules = ConflictExclusion.objects.filter(Q(project_id=project.pk) | Q(project__isnull=True))
    for rule in rules.filter(Q(membership_id=membership.pk) | Q(membership__isnull=True)):
        if _rule_names(membership, rule.membership_id, rule.attribute, rule.value):
            return rule
    return None


def member_holds(membership: Membership, *, attribute: str, value: str) -> bool:
    """Whether the member's attribute has this value (case-insensitively; in a list, any of its entries)."""
    attributes = membership.attributes if isinstance(membership.attributes, dict) else {}
    held = attributes.get(attribute)
    values = held if isinstance(held, list) else [held]
    return any(str(v).casefold() == value.casefold() for v in values if v is not None)


def _rule_names(membership: Membership, rule_member: int | None, attribute: str, value: str) -> bool:
    """Whether an exclusion rule (naming the member, or an attribute value) applies to this member."""
    if rule_member is not None:
        return rule_member == membership.pk
    return member_holds(membership, attribute=attribute, value=value)


def exclusion_applies_to(exclusion: ConflictExclusion, membership: Membership) -> bool:
    """Whether this one rule keeps the member out, whichever projects it covers."""
    return _rule_names(membership, exclusion.membership_id, exclusion.attribute, exclusion.value)


def member_routing_facts(*, membership: Membership, project: Project, now: datetime) -> tuple[MemberProfile, bool]:
    """The member's routing profile and whether an exclusion keeps them off the project, read in one statement:
    what member_profile() and exclusion_applies() read, for the claim, which needs both on every call."""
    with prepared_cursor() as cursor:
        cursor.execute(
            sql.MEMBER_ROUTING_FACTS,
            {"organization": current_organization_id(), "member": membership.pk, "project": project.pk, "now": now},
        )
        row = cursor.fetchone()
    assert row is not None
    skill_levels, exclusions = (json.loads(v) if isinstance(v, str) else v for v in row)
    profile = _profile(membership, skill_levels)
    return profile, any(_rule_names(membership, *rule) for rule in exclusions)


@dataclass(frozen=True)
class Refusal:
    """Why a member gets no work on a project; `code` is stable for clients, `message` for people."""

    code: str
    message: str
    retry_after: datetime | None = None


def project_refusal(
    *, membership: Membership, project: Project, profile: MemberProfile, excluded: bool | None = None
) -> Refusal | None:
    """The reason this member may not take work on this project now, or None when they may. `excluded` is what
    exclusion_applies() would say, when the caller has read it already."""
    if not project.is_active:
        return Refusal("project_paused", "The project is paused.")
    if membership.paused_at is not None:
        return Refusal("member_paused", membership.paused_reason or "Your work is paused by an administrator.")
    if excluded is None:
        excluded = exclusion_applies(membership=membership, project=project) is not None
    if excluded:
        # The rule itself (whom it names, why) is not revealed to the member it excludes.
        return Refusal("excluded", "You are excluded from this project.")
    missing = profile.missing_skills(project.required_skills or {})
    if missing:
        wanted = ", ".join(f"{name} ≥ {level}" for name, level in sorted(missing.items()))
        return Refusal("missing_skills", f"The project requires {wanted}.")
    languages = [str(x).lower() for x in (project.required_languages or [])]
    lacking = [lang for lang in languages if lang not in profile.languages]
    if lacking:
        return Refusal("missing_languages", f"The project requires the languages {', '.join(lacking)}.")
    return None
