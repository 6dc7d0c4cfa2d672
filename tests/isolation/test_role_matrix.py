"""Every API route and method, as every role and as nobody: the expected status, from one table.

A route missing from ROLE_MATRIX fails the suite. Below the matrix, the rules a table cannot express: who may
change whose role, the last owner, and tokens that act below (never above) their member.
"""

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from core.context import organization_context
from core.errors import Conflict
from tenancy.models import Membership, Role, User
from tenancy.services.members import membership_remove, membership_update_role
from tests.factories import MembershipFactory, UserFactory
from tests.isolation.exports_world import MEDIA_FIELD, PNG
from tests.isolation.routes import (
    NOT_AUTHENTICATED,
    NOT_FOUND,
    NOT_STAFF,
    ROUTES,
    STRONG_PASSWORD,
    Route,
    bearer_client,
    call,
    path_for,
    populate,
    route_ids,
    snapshot,
    unmapped_params,
)

ALL_ROLES = (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR)
ANONYMOUS = "anonymous"
ACTORS = [*(r.value for r in ALL_ROLES), ANONYMOUS]
STAFF = "staff"  # platform staff only, whatever the organization role
PUBLIC = "public"  # no credentials needed (the invitation secret is the credential)


@dataclass(frozen=True)
class Rule:
    minimum: Role | str  # the lowest role allowed, or STAFF / PUBLIC
    status: int  # what an allowed caller gets with `body` against the populated tenant
    body: Any = None  # a request body, or a callable taking the populated tenant and returning one
    # The route acts only on the caller's own object (a lease): the matrix addresses the caller's own, and another
    # member's is a 404 for every role, exactly like a missing one.
    own: bool = False


def body_for(rule: Rule, world: SimpleNamespace) -> Any:
    return rule.body(world) if callable(rule.body) else rule.body


def _lease(world: SimpleNamespace) -> dict[str, str]:
    return {"lease_token": str(world.assignment.lease_token)}


def _chat_lease(world: SimpleNamespace) -> dict[str, str]:
    return {"lease_token": str(world.chat_assignment.lease_token)}


ROLE_MATRIX: dict[str, Rule] = {
    # Review and adjudication: reviewers and up; the annotation under review is the target annotator's.
    "GET /api/v1/annotations/{annotation_id}/media": Rule(Role.REVIEWER, 200, {"field": MEDIA_FIELD}),
    "POST /api/v1/annotations/{annotation_id}/review": Rule(Role.REVIEWER, 201, {"decision": "accept"}),
    "POST /api/v1/assignments/{assignment_id}/heartbeat": Rule(Role.ANNOTATOR, 200, _lease, own=True),
    # A signed URL of the file the held task names: the lease holder's alone, whatever their role.
    "GET /api/v1/assignments/{assignment_id}/media": Rule(Role.ANNOTATOR, 200, {"field": MEDIA_FIELD}, own=True),
    "POST /api/v1/assignments/{assignment_id}/release": Rule(Role.ANNOTATOR, 204, _lease, own=True),
    # A manager takes back any live assignment; the matrix's is the caller's own, which is one of them.
    "POST /api/v1/assignments/{assignment_id}/revoke": Rule(Role.MANAGER, 200, {"reason": "reassigning"}),
    "POST /api/v1/assignments/{assignment_id}/skip": Rule(
        Role.ANNOTATOR, 204, lambda w: {**_lease(w), "reason": "outside my expertise"}, own=True
    ),
    "POST /api/v1/assignments/{assignment_id}/submit": Rule(
        Role.ANNOTATOR, 201, lambda w: {**_lease(w), "result": {"label": "done"}, "time_spent_ms": 1200}, own=True
    ),
    # Live chat: the lease holder's alone, whatever their role; the populated connection is switched off, so a turn
    # or a regeneration streams a refusal per reply (200) without reaching a model.
    "GET /api/v1/assignments/{chat_assignment_id}/chat/{field_name}": Rule(Role.ANNOTATOR, 200, own=True),
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/turns": Rule(
        Role.ANNOTATOR, 200, lambda w: {**_chat_lease(w), "prompt": "Hello", "parent": None}, own=True
    ),
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/messages/{message_id}/regenerate": Rule(
        Role.ANNOTATOR, 200, lambda w: _chat_lease(w), own=True
    ),
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/messages/{message_id}/edit": Rule(
        Role.ANNOTATOR, 201, lambda w: {**_chat_lease(w), "content": "A better reply."}, own=True
    ),
    # A reviewer reads an annotator's conversation (blind), as they read the annotation that names it.
    "GET /api/v1/conversations/{conversation_id}": Rule(Role.REVIEWER, 200),
    "GET /api/v1/audit/events/": Rule(Role.ADMIN, 200),
    "GET /api/v1/audit/events/export": Rule(Role.ADMIN, 200),
    "GET /api/v1/audit/checkpoints/": Rule(Role.ADMIN, 200),
    "GET /api/v1/audit/public-key": Rule(PUBLIC, 200),
    "POST /api/v1/audit/seal": Rule(Role.ADMIN, 200, {}),
    "POST /api/v1/audit/verify": Rule(Role.ADMIN, 200, {}),
    # Conflict-of-interest rules: managers only; an annotator never sees one, least of all one naming them.
    "GET /api/v1/exclusions/": Rule(Role.MANAGER, 200),
    "POST /api/v1/exclusions/": Rule(
        Role.MANAGER, 201, {"attribute": "affiliation", "value": "Initech", "reason": "sponsor of every study"}
    ),
    "DELETE /api/v1/exclusions/{exclusion_id}": Rule(Role.MANAGER, 204),
    "GET /api/v1/invitations/": Rule(Role.ADMIN, 200),
    "POST /api/v1/invitations/": Rule(Role.ADMIN, 201, {"email": "newcomer@acme.test", "role": "annotator"}),
    # A wrong secret is a 400 for everybody: the route is open, the secret is what authorises.
    "POST /api/v1/invitations/accept": Rule(PUBLIC, 400, {"token": "no-such-invitation-secret"}),
    "GET /api/v1/invitations/{invitation_id}": Rule(Role.ADMIN, 200),
    "DELETE /api/v1/invitations/{invitation_id}": Rule(Role.ADMIN, 200),
    "GET /api/v1/me": Rule(Role.ANNOTATOR, 200),
    "GET /api/v1/members/": Rule(Role.MANAGER, 200),
    "GET /api/v1/members/{member_id}": Rule(Role.MANAGER, 200),
    "PATCH /api/v1/members/{member_id}": Rule(Role.ADMIN, 200, {"role": "reviewer"}),
    "DELETE /api/v1/members/{member_id}": Rule(Role.ADMIN, 204),
    # The member is paused already: pausing again gives a new reason, unpausing lifts it.
    "POST /api/v1/members/{member_id}/pause": Rule(Role.ADMIN, 200, {"reason": "reviewing recent work"}),
    "POST /api/v1/members/{member_id}/unpause": Rule(Role.ADMIN, 200, {}),
    # Another member's levels need a manager; a member reads their own (test below).
    "GET /api/v1/members/{member_id}/skills/": Rule(Role.MANAGER, 200),
    # Re-verifies the level the member holds: 200, not 201.
    "POST /api/v1/members/{member_id}/skills/": Rule(Role.MANAGER, 200, lambda w: {"skill": w.skill.name, "level": 4}),
    "DELETE /api/v1/members/{member_id}/skills/{skill_id}": Rule(Role.MANAGER, 204),
    # The settings are admin business; every member learns which organization it is from `me`.
    "GET /api/v1/organization": Rule(Role.ADMIN, 200),
    "PATCH /api/v1/organization": Rule(Role.ADMIN, 200, {"name": "Acme renamed"}),
    "GET /api/v1/platform/organizations/": Rule(STAFF, 200),
    "POST /api/v1/platform/organizations/": Rule(
        STAFF, 201, {"name": "New Lab", "slug": "new-lab", "owner_email": "boss@new.test"}
    ),
    "GET /api/v1/platform/organizations/{organization_id}": Rule(STAFF, 200),
    "GET /api/v1/projects/": Rule(Role.ANNOTATOR, 200),
    "POST /api/v1/projects/": Rule(Role.MANAGER, 201, {"name": "New project"}),
    "GET /api/v1/projects/{project_id}": Rule(Role.ANNOTATOR, 200),
    "PATCH /api/v1/projects/{project_id}": Rule(Role.MANAGER, 200, {"name": "Renamed project"}),
    "DELETE /api/v1/projects/{project_id}": Rule(Role.ADMIN, 204),
    "GET /api/v1/projects/{project_id}/adjudication/": Rule(Role.REVIEWER, 200),
    "GET /api/v1/projects/{project_id}/agreement": Rule(Role.MANAGER, 200),
    "GET /api/v1/projects/{project_id}/assignments/": Rule(Role.MANAGER, 200),
    "POST /api/v1/projects/{project_id}/assignments/": Rule(
        Role.MANAGER, 201, lambda w: {"task": str(w.free_task.uuid), "annotator": str(w.owner.uuid)}
    ),
    "POST /api/v1/projects/{project_id}/dispatch": Rule(Role.MANAGER, 200, {}),
    "GET /api/v1/projects/{project_id}/exclusions/": Rule(Role.MANAGER, 200),
    "POST /api/v1/projects/{project_id}/exclusions/": Rule(
        Role.MANAGER, 201, lambda w: {"member": str(w.member.uuid), "reason": "co-authored the study"}
    ),
    "GET /api/v1/projects/{project_id}/gold-accuracy": Rule(Role.MANAGER, 200),
    # Every member already holds one lease and may hold two: a new one.
    "POST /api/v1/projects/{project_id}/next": Rule(Role.ANNOTATOR, 201, {}),
    "GET /api/v1/projects/{project_id}/progress/": Rule(Role.MANAGER, 200),
    # The member is paused on the project already: pausing again gives a new reason, unpausing lifts it.
    "POST /api/v1/projects/{project_id}/progress/{member_id}/pause": Rule(Role.MANAGER, 200, {"reason": "spot check"}),
    "POST /api/v1/projects/{project_id}/progress/{member_id}/unpause": Rule(Role.MANAGER, 200, {}),
    "GET /api/v1/projects/{project_id}/reviews/queue": Rule(Role.REVIEWER, 200),
    "GET /api/v1/projects/{project_id}/schema-versions/": Rule(Role.REVIEWER, 200),
    # A pure conversion: nothing is stored, but only people who may set a schema get to use it.
    "POST /api/v1/label-schemas/from-label-studio": Rule(
        Role.MANAGER,
        200,
        {"label_studio_config": '<View><Text name="t" value="$t"/><TextArea name="a" toName="t"/></View>'},
    ),
    "GET /api/v1/projects/{project_id}/tasks/": Rule(Role.MANAGER, 200),
    # Exports: managers and up; the export is a finished one, so its download is a signed URL.
    "GET /api/v1/projects/{project_id}/exports/": Rule(Role.MANAGER, 200),
    "POST /api/v1/projects/{project_id}/exports/": Rule(
        Role.MANAGER, 202, {"format": "csv", "filters": {"status": "done"}}
    ),
    "GET /api/v1/exports/{export_id}": Rule(Role.MANAGER, 200),
    "GET /api/v1/exports/{export_id}/download": Rule(Role.MANAGER, 200),
    "POST /api/v1/projects/{project_id}/media/": Rule(
        Role.MANAGER, 201, lambda w: {"file": SimpleUploadedFile("scan.png", PNG, content_type="image/png")}
    ),
    "POST /api/v1/projects/{project_id}/tasks/": Rule(
        Role.MANAGER, 201, [{"external_id": "new-item", "data": {"text": "new"}}]
    ),
    "GET /api/v1/projects/{project_id}/tasks/{task_id}": Rule(Role.MANAGER, 200),
    "GET /api/v1/skills/": Rule(Role.ANNOTATOR, 200),
    # Imports: managers and up; the job is a pending one, so it can still be cancelled. The import from S3 names
    # the tenant's connection (nothing is fetched until a worker runs it).
    "GET /api/v1/projects/{project_id}/imports/": Rule(Role.MANAGER, 200),
    "POST /api/v1/projects/{project_id}/imports/": Rule(
        Role.MANAGER, 202, lambda w: {"storage": str(w.storage_connection.uuid), "prefix": "in/", "format": "jsonl"}
    ),
    "GET /api/v1/imports/{import_id}": Rule(Role.MANAGER, 200),
    "POST /api/v1/imports/{import_id}/cancel": Rule(Role.MANAGER, 200, {}),
    # Storage connections hold credentials: admins and owners only, the secret never shown. The connection no job
    # refers to, so it may be deleted.
    "GET /api/v1/storage-connections/": Rule(Role.ADMIN, 200),
    "POST /api/v1/storage-connections/": Rule(
        Role.ADMIN, 201, {"name": "archive", "bucket": "acme-archive", "endpoint_url": "http://93.184.216.34:9000"}
    ),
    "GET /api/v1/storage-connections/{connection_id}": Rule(Role.ADMIN, 200),
    "PATCH /api/v1/storage-connections/{connection_id}": Rule(Role.ADMIN, 200, {"prefix": "incoming/"}),
    "DELETE /api/v1/storage-connections/{connection_id}": Rule(Role.ADMIN, 204),
    # Model connections decide where task data is sent, with which key: admins change them, managers see them (a
    # chat field names them). A budget is money: admins set it, managers read it.
    "GET /api/v1/model-connections/": Rule(Role.MANAGER, 200),
    "POST /api/v1/model-connections/": Rule(
        Role.ADMIN, 201, {"name": "judge", "base_url": "http://93.184.216.34:8000/v1", "model": "judge-8b"}
    ),
    "GET /api/v1/model-connections/{model_connection_id}": Rule(Role.MANAGER, 200),
    "PATCH /api/v1/model-connections/{model_connection_id}": Rule(
        Role.ADMIN, 200, {"parameters": {"temperature": 0.2}}
    ),
    "DELETE /api/v1/model-connections/{model_connection_id}": Rule(Role.ADMIN, 204),
    "GET /api/v1/projects/{project_id}/model-budget": Rule(Role.MANAGER, 200),
    "PATCH /api/v1/projects/{project_id}/model-budget": Rule(Role.ADMIN, 200, {"token_limit": 5000}),
    "GET /api/v1/projects/{project_id}/model-calls/": Rule(Role.MANAGER, 200),
    # A judge run spends the project's budget on its tasks: managers run and follow them. The populated project has
    # no schema, so its results are free-form and the fields are named.
    "GET /api/v1/projects/{project_id}/judge-runs/": Rule(Role.MANAGER, 200),
    "POST /api/v1/projects/{project_id}/judge-runs/": Rule(
        Role.MANAGER, 201, lambda world: {"connection": str(world.model_connection.uuid), "fields": ["label"]}
    ),
    "GET /api/v1/judge-runs/{judge_run_id}": Rule(Role.MANAGER, 200),
    "POST /api/v1/judge-runs/{judge_run_id}/cancel": Rule(Role.MANAGER, 200, {}),
    "POST /api/v1/judge-runs/{judge_run_id}/resume": Rule(Role.MANAGER, 200, {}),
    "GET /api/v1/judge-runs/{judge_run_id}/verdicts/": Rule(Role.MANAGER, 200),
    # Suggestion jobs spend the project's model budget: managers and up. The populated job is paused (its budget
    # ran out), so it may be resumed.
    "GET /api/v1/projects/{project_id}/suggestion-jobs/": Rule(Role.MANAGER, 200),
    "POST /api/v1/projects/{project_id}/suggestion-jobs/": Rule(
        Role.MANAGER,
        202,
        lambda w: {"connection": str(w.model_connection_used.uuid), "fields": ["label"], "prompt": "Label {{ text }}"},
    ),
    "GET /api/v1/suggestion-jobs/{suggestion_job_id}": Rule(Role.MANAGER, 200),
    "POST /api/v1/suggestion-jobs/{suggestion_job_id}/resume": Rule(Role.MANAGER, 202, {}),
    "POST /api/v1/skills/": Rule(Role.ADMIN, 201, {"name": "radiology", "description": "Reads imaging studies"}),
    "PATCH /api/v1/skills/{skill_id}": Rule(Role.ADMIN, 200, {"description": "Cardiac imaging"}),
    "DELETE /api/v1/skills/{skill_id}": Rule(Role.ADMIN, 204),
    # `task` has an annotation but no adjudication yet, and none of the callers annotated it.
    "POST /api/v1/tasks/{task_id}/adjudicate": Rule(
        Role.REVIEWER, 201, {"result": {"label": "final"}, "rationale": "Both readings checked."}
    ),
    "GET /api/v1/tasks/{task_id}/annotations/": Rule(Role.REVIEWER, 200),
    "GET /api/v1/tokens/": Rule(Role.ANNOTATOR, 200),
    "POST /api/v1/tokens/": Rule(Role.ANNOTATOR, 201, {"name": "my script"}),
    # token_id is the caller's own token: everyone may see and revoke their own.
    "GET /api/v1/tokens/{token_id}": Rule(Role.ANNOTATOR, 200),
    "DELETE /api/v1/tokens/{token_id}": Rule(Role.ANNOTATOR, 200),
}


def rule_for(route: Route) -> Rule:
    if route.key not in ROLE_MATRIX:
        pytest.fail(f"{route.key} has no entry in ROLE_MATRIX: state which roles may call it")
    if unmapped_params(route):
        pytest.fail(f"{route.key}: path parameters {unmapped_params(route)} are not in PARAM_OBJECTS")
    return ROLE_MATRIX[route.key]


def world_for(actor: str) -> tuple[SimpleNamespace, APIClient]:
    """A tenant with one member per role; the routes address the actor's own token and lease."""
    world = populate("acme", roles=ALL_ROLES)
    if actor == ANONYMOUS:
        return world, APIClient()
    role = Role(actor)
    world.token = world.tokens[role]
    world.assignment = world.assignments[role]
    world.chat_assignment, world.chat_message = world.chat_assignments[role], world.chat_messages[role]
    return world, world.clients[role]


def without_side_records(rows: dict[str, Any]) -> dict[str, Any]:
    """A snapshot minus what any request writes, allowed or not: audit records and token last-use times."""
    kept = {k: v for k, v in rows.items() if not k.startswith("audit.")}
    kept["tenancy.apitoken"] = [{**t, "last_used_at": None} for t in rows["tenancy.apitoken"]]
    return kept


def test_every_route_has_a_role_rule():
    keys = {r.key for r in ROUTES}
    assert sorted(keys - ROLE_MATRIX.keys()) == []
    assert sorted(ROLE_MATRIX.keys() - keys) == []


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("route", ROUTES, ids=route_ids(ROUTES))
def test_role_matrix(db, route, actor):
    rule = rule_for(route)
    world, client = world_for(actor)
    before = snapshot(world.organization.pk)

    response = call(client, route.method, path_for(route, world), body_for(rule, world))

    if rule.minimum == PUBLIC:
        assert response.status_code == rule.status, response.content
        expected_denial = None
    elif actor == ANONYMOUS:
        assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
        expected_denial = NOT_AUTHENTICATED
    elif rule.minimum == STAFF:
        assert (response.status_code, response.json()) == (403, NOT_STAFF)
        expected_denial = NOT_STAFF
    elif Role(actor).at_least(Role(rule.minimum)):
        assert response.status_code == rule.status, response.content
        expected_denial = None
    else:
        assert (response.status_code, response.json()) == (
            403,
            {
                "detail": f"This action needs the {Role(rule.minimum).value} role or higher.",
                "code": "permission_denied",
                "errors": [],
            },
        )
        expected_denial = True
    if expected_denial is not None or not route.mutating or response.status_code >= 400:
        assert without_side_records(snapshot(world.organization.pk)) == without_side_records(before)


OWN_ROUTES = [r for r in ROUTES if r.key in ROLE_MATRIX and ROLE_MATRIX[r.key].own]


def test_lease_routes_are_the_holders_own():
    assert sorted(r.key for r in OWN_ROUTES) == [
        "GET /api/v1/assignments/{assignment_id}/media",
        "GET /api/v1/assignments/{chat_assignment_id}/chat/{field_name}",
        "POST /api/v1/assignments/{assignment_id}/heartbeat",
        "POST /api/v1/assignments/{assignment_id}/release",
        "POST /api/v1/assignments/{assignment_id}/skip",
        "POST /api/v1/assignments/{assignment_id}/submit",
        "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/messages/{message_id}/edit",
        "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/messages/{message_id}/regenerate",
        "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/turns",
    ]


@pytest.mark.parametrize("actor", [r.value for r in ALL_ROLES])
@pytest.mark.parametrize("route", OWN_ROUTES, ids=route_ids(OWN_ROUTES))
def test_another_members_object_is_missing_to_every_role(db, route, actor):
    rule = rule_for(route)
    world, client = world_for(actor)
    # Someone else's live lease, with its real token: holding the token is not holding the lease.
    world.assignment = world.member_assignment
    # And another member's conversation, with its lease's real token.
    other = next(r for r in world.chat_assignments if r != Role(actor))
    world.chat_assignment, world.chat_message = world.chat_assignments[other], world.chat_messages[other]
    before = without_side_records(snapshot(world.organization.pk))

    response = call(client, route.method, path_for(route, world), body_for(rule, world))

    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert without_side_records(snapshot(world.organization.pk)) == before


# --- rules the table cannot express ---


def _patch_role(client: APIClient, member: Membership, role: Role | str) -> Any:
    value = role.value if isinstance(role, Role) else role
    return call(client, "PATCH", f"/api/v1/members/{member.uuid}", {"role": value})


def _denied(detail: str) -> dict[str, Any]:
    return {"detail": detail, "code": "permission_denied", "errors": []}


def _role_of(world: SimpleNamespace, member: Membership) -> str:
    with organization_context(world.organization.pk):
        return Membership.objects.get(pk=member.pk).role


def test_annotator_cannot_manage_members_others_tokens_or_projects(db):
    world = populate("acme", roles=ALL_ROLES)
    annotator = world.clients[Role.ANNOTATOR]
    before = without_side_records(snapshot(world.organization.pk))
    needs_admin = _denied("This action needs the admin role or higher.")
    needs_manager = _denied("This action needs the manager role or higher.")

    assert _patch_role(annotator, world.member, Role.REVIEWER).json() == needs_admin
    assert call(annotator, "DELETE", f"/api/v1/members/{world.member.uuid}").json() == needs_admin
    assert call(annotator, "GET", "/api/v1/members/").json() == needs_manager
    assert call(annotator, "POST", "/api/v1/invitations/", {"email": "x@acme.test", "role": "owner"}).json() == (
        _denied("This action needs the admin role or higher.")
    )
    # Another member's token is invisible to an annotator: not "forbidden", simply not there.
    for method in ("GET", "DELETE"):
        response = call(annotator, method, f"/api/v1/tokens/{world.token.uuid}")
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
    listed = [t["id"] for t in call(annotator, "GET", "/api/v1/tokens/").json()["results"]]
    assert listed == [str(world.tokens[Role.ANNOTATOR].uuid)]
    assert call(annotator, "POST", "/api/v1/projects/", {"name": "Mine"}).json() == needs_manager
    assert call(annotator, "PATCH", f"/api/v1/projects/{world.project.uuid}", {"name": "x"}).json() == needs_manager
    assert call(annotator, "DELETE", f"/api/v1/projects/{world.project.uuid}").json() == needs_admin
    assert call(annotator, "POST", f"/api/v1/projects/{world.project.uuid}/tasks/", [{"data": {"a": 1}}]).json() == (
        needs_manager
    )
    assert without_side_records(snapshot(world.organization.pk)) == before


def test_a_member_reads_their_own_skills_and_a_manager_anyones(db):
    world = populate("acme", roles=ALL_ROLES)
    annotator, me = world.clients[Role.ANNOTATOR], world.members[Role.ANNOTATOR]

    response = call(annotator, "GET", f"/api/v1/members/{me.uuid}/skills/")
    assert (response.status_code, response.json()["results"]) == (200, [])
    response = call(annotator, "GET", f"/api/v1/members/{world.member.uuid}/skills/")
    assert (response.status_code, response.json()) == (403, _denied("This action needs the manager role or higher."))
    response = call(world.clients[Role.MANAGER], "GET", f"/api/v1/members/{world.member.uuid}/skills/")
    assert [(r["skill"], r["level"], r["verified_by"]) for r in response.json()["results"]] == [
        ("acme-skill", 3, "acme-owner@acme.test")
    ]


def test_annotator_sees_the_codename_never_the_project_name(db):
    world = populate("acme", roles=ALL_ROLES)
    response = call(world.clients[Role.ANNOTATOR], "GET", f"/api/v1/projects/{world.project.uuid}")
    assert response.json()["name"] == "acme codename"
    assert "acme project" not in response.content.decode()


def test_manager_cannot_change_roles(db):
    world = populate("acme", roles=ALL_ROLES)
    manager = world.clients[Role.MANAGER]
    for target, role in ((world.member, Role.REVIEWER), (world.members[Role.REVIEWER], Role.ANNOTATOR)):
        response = _patch_role(manager, target, role)
        assert (response.status_code, response.json()) == (403, _denied("This action needs the admin role or higher."))
    assert (_role_of(world, world.member), _role_of(world, world.members[Role.REVIEWER])) == ("annotator", "reviewer")


def test_admin_cannot_grant_owner_or_admin_nor_touch_owners_and_admins(db):
    world = populate("acme", roles=ALL_ROLES)
    admin = world.clients[Role.ADMIN]
    with organization_context(world.organization.pk):
        other_admin = MembershipFactory(role=Role.ADMIN, user=UserFactory(email="acme-admin2@acme.test"))

    for role in (Role.ADMIN, Role.OWNER):
        response = _patch_role(admin, world.member, role)
        assert (response.status_code, response.json()) == (
            403,
            _denied("Only owners may grant the owner or admin role."),
        )
        response = call(admin, "POST", "/api/v1/invitations/", {"email": "boss@acme.test", "role": role.value})
        assert (response.status_code, response.json()) == (403, _denied("Only owners may invite owners or admins."))
    for target in (world.members[Role.OWNER], other_admin):
        response = _patch_role(admin, target, Role.ANNOTATOR)
        assert (response.status_code, response.json()) == (403, _denied("Only owners may manage owners and admins."))
        response = call(admin, "DELETE", f"/api/v1/members/{target.uuid}")
        assert (response.status_code, response.json()) == (403, _denied("Only owners may manage owners and admins."))
    assert (
        _role_of(world, world.member),
        _role_of(world, world.members[Role.OWNER]),
        _role_of(world, other_admin),
    ) == (
        "annotator",
        "owner",
        "admin",
    )
    # What an admin may do: move members below admin around.
    response = _patch_role(admin, world.member, Role.MANAGER)
    assert (response.status_code, response.json()["role"]) == (200, "manager")


@pytest.mark.parametrize("role", ALL_ROLES, ids=[r.value for r in ALL_ROLES])
def test_nobody_changes_their_own_role(db, role):
    world = populate("acme", roles=ALL_ROLES)
    client = world.clients[role]
    expected = (
        _denied("You cannot change your own role; ask another owner or admin.")
        if role.at_least(Role.ADMIN)
        else _denied("This action needs the admin role or higher.")
    )
    for new_role in ALL_ROLES:
        if new_role is role:
            continue
        response = _patch_role(client, world.members[role], new_role)
        assert (response.status_code, response.json()) == (403, expected), new_role
    assert _role_of(world, world.members[role]) == role.value


def test_last_owner_cannot_leave_or_be_demoted(db):
    world = populate("acme", roles=(Role.OWNER,))
    owner = world.clients[Role.OWNER]
    conflict = {"detail": "An organization must keep at least one owner.", "code": "conflict", "errors": []}

    response = call(owner, "DELETE", f"/api/v1/members/{world.owner.uuid}")
    assert (response.status_code, response.json()) == (409, conflict)
    assert _role_of(world, world.owner) == "owner"

    # Two owners: one may demote the other, after which the remaining one is the last.
    with organization_context(world.organization.pk):
        second = MembershipFactory(role=Role.OWNER, user=UserFactory(email="acme-owner2@acme.test"))
        stale_second = Membership.objects.get(pk=second.pk)
    response = _patch_role(owner, second, Role.ADMIN)
    assert (response.status_code, response.json()["role"]) == (200, "admin")
    # The second owner's request raced the demotion and still carries its old owner role: the lock decides.
    with organization_context(world.organization.pk), pytest.raises(Conflict, match="at least one owner"):
        membership_update_role(actor=stale_second, membership=world.owner, role=Role.ADMIN)
    with organization_context(world.organization.pk), pytest.raises(Conflict, match="at least one owner"):
        membership_remove(actor=stale_second, membership=world.owner)
    assert _role_of(world, world.owner) == "owner"


def test_owner_may_leave_when_another_owner_remains(db):
    world = populate("acme", roles=(Role.OWNER,))
    with organization_context(world.organization.pk):
        MembershipFactory(role=Role.OWNER, user=UserFactory(email="acme-owner2@acme.test"))
    response = call(world.clients[Role.OWNER], "DELETE", f"/api/v1/members/{world.owner.uuid}")
    assert response.status_code == 204
    with organization_context(world.organization.pk):
        assert list(Membership.objects.filter(role=Role.OWNER).values_list("user__email", flat=True)) == [
            "acme-owner2@acme.test"
        ]


def test_token_created_with_a_lower_role_acts_with_that_role(db):
    world = populate("acme", roles=(Role.OWNER,))
    response = call(
        world.clients[Role.OWNER], "POST", "/api/v1/tokens/", {"name": "labelling bot", "role": "annotator"}
    )
    assert (response.status_code, response.json()["role"]) == (201, "annotator")
    bot = bearer_client(response.json()["token"])

    me = call(bot, "GET", "/api/v1/me").json()
    assert (me["role"], me["token"]) == ("annotator", response.json()["prefix"])
    assert call(bot, "GET", "/api/v1/members/").status_code == 403
    assert call(bot, "POST", "/api/v1/projects/", {"name": "x"}).status_code == 403
    assert call(bot, "PATCH", "/api/v1/organization", {"name": "x"}).status_code == 403
    assert _patch_role(bot, world.member, Role.REVIEWER).status_code == 403
    # Nor can it mint itself a way up.
    response = call(bot, "POST", "/api/v1/tokens/", {"name": "escalate", "role": "owner"})
    assert (response.status_code, [e["code"] for e in response.json()["errors"]]) == (400, ["role_too_high"])
    response = call(bot, "POST", "/api/v1/tokens/", {"name": "same level"})
    assert (response.status_code, response.json()["role"]) == (201, "annotator")
    # Other members' tokens are out of its sight, as for any annotator.
    assert call(bot, "DELETE", f"/api/v1/tokens/{world.token.uuid}").status_code == 404


def test_owner_token_scoped_to_admin_has_admin_powers_only(db):
    world = populate("acme", roles=(Role.OWNER,))
    with organization_context(world.organization.pk):
        second_owner = MembershipFactory(role=Role.OWNER, user=UserFactory(email="acme-owner2@acme.test"))
    response = call(world.clients[Role.OWNER], "POST", "/api/v1/tokens/", {"name": "admin bot", "role": "admin"})
    assert response.status_code == 201
    bot = bearer_client(response.json()["token"])

    response = _patch_role(bot, world.member, Role.OWNER)
    assert (response.status_code, response.json()) == (403, _denied("Only owners may grant the owner or admin role."))
    response = _patch_role(bot, second_owner, Role.ANNOTATOR)
    assert (response.status_code, response.json()) == (403, _denied("Only owners may manage owners and admins."))
    response = call(bot, "DELETE", f"/api/v1/members/{second_owner.uuid}")
    assert (response.status_code, response.json()) == (403, _denied("Only owners may manage owners and admins."))
    response = call(bot, "POST", "/api/v1/invitations/", {"email": "boss@acme.test", "role": "owner"})
    assert (response.status_code, response.json()) == (403, _denied("Only owners may invite owners or admins."))
    assert (_role_of(world, world.member), _role_of(world, second_owner)) == ("annotator", "owner")


def test_token_never_acts_above_its_member_after_a_demotion(db):
    world = populate("acme", roles=(Role.OWNER, Role.ADMIN))
    admin_token = world.clients[Role.ADMIN]
    assert call(admin_token, "GET", "/api/v1/members/").status_code == 200

    response = _patch_role(world.clients[Role.OWNER], world.members[Role.ADMIN], Role.ANNOTATOR)
    assert (response.status_code, response.json()["role"]) == (200, "annotator")

    # The token still says admin; the member no longer is, and the member's role wins.
    with organization_context(world.organization.pk):
        world.tokens[Role.ADMIN].refresh_from_db()
    assert world.tokens[Role.ADMIN].role == "admin"
    assert call(admin_token, "GET", "/api/v1/me").json()["role"] == "annotator"
    response = call(admin_token, "GET", "/api/v1/members/")
    assert (response.status_code, response.json()) == (403, _denied("This action needs the manager role or higher."))
    assert _patch_role(admin_token, world.member, Role.REVIEWER).status_code == 403
    response = call(admin_token, "POST", "/api/v1/tokens/", {"name": "fresh", "role": "admin"})
    assert (response.status_code, [e["code"] for e in response.json()["errors"]]) == (400, ["role_too_high"])


def _with_is_staff(body: Any) -> Any:
    if isinstance(body, list):
        return [{**item, "is_staff": True} for item in body]
    return {**body, "is_staff": True}


BODY_ROUTES = [r for r in ROUTES if r.mutating and ROLE_MATRIX.get(r.key, Rule(PUBLIC, 0)).body is not None]


def test_every_mutating_route_with_a_body_is_probed_for_unknown_fields():
    without = [r.key for r in ROUTES if r.method in {"POST", "PATCH", "PUT"} and r not in BODY_ROUTES]
    assert without == []


@pytest.mark.parametrize("route", BODY_ROUTES, ids=route_ids(BODY_ROUTES))
def test_no_route_sets_is_staff_unknown_fields_are_refused(db, route):
    rule = rule_for(route)
    world = populate("acme", roles=(Role.OWNER,))
    if rule.minimum == STAFF:
        client = APIClient()
        client.force_login(UserFactory(email="ops@platform.test", is_staff=True))
    elif rule.minimum == PUBLIC:
        client = APIClient()
    else:
        client = world.clients[Role.OWNER]
    before = without_side_records(snapshot(world.organization.pk))
    body = _with_is_staff(body_for(rule, world))
    if route.key == "POST /api/v1/invitations/accept":
        body = {"token": world.invitation_raw, "name": "Ada", "password": STRONG_PASSWORD, "is_staff": True}

    response = call(client, route.method, path_for(route, world), body)

    field = "[0].is_staff" if isinstance(body, list) else "is_staff"
    assert response.status_code == 400, response.content
    assert {"field": field, "message": "Unknown field.", "code": "unknown_field"} in response.json()["errors"]
    assert without_side_records(snapshot(world.organization.pk)) == before
    assert list(User.objects.filter(is_staff=True).exclude(email="ops@platform.test")) == []
