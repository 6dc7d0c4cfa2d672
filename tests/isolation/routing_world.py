"""The routing part of a populated tenant, so every routing route has an object to address and every routing table
a row: live leases held by each member, a submitted annotation, a free task, a skill and a member's level in it,
a conflict-of-interest rule, and a member paused both on the project and in the organization."""

from types import SimpleNamespace
from typing import Any

from annotation.selectors.assignments import progress_for_update
from annotation.services.claim import assignment_claim
from annotation.services.exclusions import exclusion_create
from annotation.services.progress import progress_pause
from annotation.services.submit import annotation_submit
from projects.models import Task
from projects.services.projects import project_update
from projects.services.tasks import task_bulk_create
from tenancy.models import Role
from tenancy.services import skills
from tenancy.services.members import membership_pause
from tests.factories import MembershipFactory
from tests.isolation.exports_world import media_data


def _lease(member: Any, project: Any) -> Any:
    claim = assignment_claim(actor=member, project=project)
    assert claim.assignment is not None, claim.refusal
    return claim.assignment


def _tasks(world: SimpleNamespace, names: list[str]) -> list[Task]:
    prefix = world.prefix
    task_bulk_create(
        actor=world.owner,
        project=world.project,
        items=[
            {"external_id": f"{prefix}-{name}", "data": {"text": f"{prefix} {name}", **media_data(world)}}
            for name in names
        ],
    )
    return [Task.objects.get(project=world.project, external_id=f"{prefix}-{name}") for name in names]


def populate_routing(world: SimpleNamespace) -> None:
    """Add the routing objects to a populated tenant; call inside its organization context.

    `assignments[role]` is the live lease of the member with that role, `assignment` the owner's (routes act on
    the caller's own lease), `member_assignment` a live lease of the separate annotator `member`, who also has
    a level in `skill`, and is paused on the project and in the organization (so unpausing works).
    `annotation` is the separate annotator `author`'s. `free_task` is held by nobody; `exclusion` is a project
    rule that matches nobody.
    """
    prefix, owner = world.prefix, world.owner
    # Two leases at once, so a member who already holds one still gets a new lease from `next`.
    world.project = project_update(actor=owner, project=world.project, max_active_per_annotator=2)
    holders = [*world.members.values(), *([] if owner in world.members.values() else [owner])]
    _tasks(world, [f"work-{i}" for i in range(len(holders) + 1)])
    leases = {member.pk: _lease(member, world.project) for member in holders}
    world.assignments = {role: leases[member.pk] for role, member in world.members.items()}
    world.assignment = leases[owner.pk]
    # Recorded work stays attributable: a member with annotations cannot be removed, so the work is someone else's
    # than `member`'s, whom the member routes remove.
    world.author = MembershipFactory(role=Role.ANNOTATOR)
    first = _lease(world.author, world.project)
    world.annotation = annotation_submit(
        actor=world.author, assignment=first, lease_token=first.lease_token, result={"label": f"{prefix} label"}
    ).annotation
    world.member_assignment = _lease(world.member, world.project)
    (world.free_task,) = _tasks(world, ["free"])

    world.skill = skills.skill_create(actor=owner, name=f"{prefix}-skill", description=f"{prefix} expertise")
    skills.member_skill_set(actor=owner, membership=world.member, skill=world.skill, level=3)
    world.exclusion = exclusion_create(
        actor=owner, project=world.project, attribute="affiliation", value=f"{prefix} rival", reason=f"{prefix} sponsor"
    )
    progress = progress_for_update(project=world.project, membership=world.member)
    progress_pause(actor=owner, progress=progress, reason=f"{prefix} spot check")
    membership_pause(actor=owner, membership=world.member, reason=f"{prefix} on leave")
