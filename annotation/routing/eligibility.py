"""Who may work on what: role, pause, conflict-of-interest exclusions, skills and languages.

Project-wide rules are judged here, once per claim, in Python; the per-task rules (a task's own skill or
language requirement) are part of the claim statement itself so that the scan skips tasks the member cannot do.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from annotation.models import ConflictExclusion
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
    languages = membership.languages if isinstance(membership.languages, list) else []
    attributes = membership.attributes if isinstance(membership.attributes, dict) else {}
    return MemberProfile(
        membership_id=membership.pk,
        skills=dict(rows),
        languages=frozenset(str(x).lower() for x in languages),
        attributes=attributes,
    )


def exclusion_applies(*, membership: Membership, project: Project) -> ConflictExclusion | None:
    """The conflict-of-interest rule keeping this member off this project, if any."""
    rules = ConflictExclusion.objects.filter(Q(project_id=project.pk) | Q(project__isnull=True))
    attributes = membership.attributes if isinstance(membership.attributes, dict) else {}
    for rule in rules.filter(Q(membership_id=membership.pk) | Q(membership__isnull=True)):
        if rule.membership_id == membership.pk:
            return rule
        held = attributes.get(rule.attribute)
        values = held if isinstance(held, list) else [held]
        if any(str(v).casefold() == rule.value.casefold() for v in values if v is not None):
            return rule
    return None


@dataclass(frozen=True)
class Refusal:
    """Why a member gets no work on a project; `code` is stable for clients, `message` for people."""

    code: str
    message: str
    retry_after: datetime | None = None


def project_refusal(*, membership: Membership, project: Project, profile: MemberProfile) -> Refusal | None:
    """The reason this member may not take work on this project now, or None when they may."""
    if not project.is_active:
        return Refusal("project_paused", "The project is paused.")
    if membership.paused_at is not None:
        return Refusal("member_paused", membership.paused_reason or "Your work is paused by an administrator.")
    if exclusion_applies(membership=membership, project=project) is not None:
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
