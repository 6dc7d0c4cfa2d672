"""The audit trail: append-only in the database whoever connects, written with every change in its transaction,
and recording refusals in the refused caller's organization. The per-route expectations are generated."""

# ruff: noqa: S608 - the SQL built with f-strings only interpolates our own table name

from typing import Any

import pytest
from django.conf import settings
from django.db import ProgrammingError, connection, transaction
from django.db.utils import InternalError
from rest_framework.test import APIClient

from audit.models import AuditEvent, AuditSequence
from audit.services import recording as audit_services
from core.context import organization_context
from projects.models import Project
from tenancy.models import Organization, Role
from tests.factories import UserFactory
from tests.isolation.routes import (
    PARAM_OBJECTS,
    ROUTES,
    STRONG_PASSWORD,
    Route,
    as_table_owner,
    call,
    object_id,
    path_for,
    populate,
    route_ids,
)
from tests.isolation.test_role_matrix import PUBLIC, ROLE_MATRIX, STAFF, body_for

APP_ROLE = settings.DATABASE_APP_ROLE
TABLE = AuditEvent._meta.db_table

# What a successful call records, in order, in the organization it acts for. Reads of these routes record
# nothing (yet); a read that starts recording (task data served, exports) changes its entry here.
AUDIT_ACTIONS: dict[str, list[str]] = {
    "GET /api/v1/annotations/{annotation_id}/media": ["data_access.media_url"],
    "POST /api/v1/annotations/{annotation_id}/review": ["review.accept"],
    # A heartbeat only pushes a deadline back and changes no outcome; one every few seconds per annotator would
    # bury the trail. What a lease came to (submit, skip, release, expiry, revoke) is recorded.
    "POST /api/v1/assignments/{assignment_id}/heartbeat": [],
    # A signed URL of the held task's file is a data access on record (on the lease and the task's trail).
    "GET /api/v1/assignments/{assignment_id}/media": ["data_access.media_url"],
    "POST /api/v1/assignments/{assignment_id}/release": ["assignment.release"],
    "POST /api/v1/assignments/{assignment_id}/revoke": ["assignment.revoke"],
    "POST /api/v1/assignments/{assignment_id}/skip": ["assignment.skip"],
    "POST /api/v1/assignments/{assignment_id}/submit": ["annotation.submit"],
    # Reading one's own conversation records nothing, as reading one's own lease does not. A turn or a
    # regeneration against the populated (switched off) connection records the refused model call too.
    "GET /api/v1/assignments/{chat_assignment_id}/chat/{field_name}": [],
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/turns": ["chat.turn", "model.call"],
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/messages/{message_id}/regenerate": [
        "chat.regenerate",
        "model.call",
    ],
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/messages/{message_id}/edit": ["chat.edit"],
    "GET /api/v1/conversations/{conversation_id}": ["data_access.conversation_view"],
    "GET /api/v1/audit/events/": [],
    "GET /api/v1/audit/events/export": ["audit.export"],
    "GET /api/v1/audit/checkpoints/": [],
    "GET /api/v1/audit/public-key": [],
    "POST /api/v1/audit/seal": ["audit.seal"],
    "POST /api/v1/audit/verify": ["audit.verify"],
    "GET /api/v1/exclusions/": [],
    "POST /api/v1/exclusions/": ["exclusion.create"],
    "DELETE /api/v1/exclusions/{exclusion_id}": ["exclusion.delete"],
    "GET /api/v1/invitations/": [],
    "POST /api/v1/invitations/": ["invitation.create"],
    "POST /api/v1/invitations/accept": ["invitation.accept", "member.add"],
    "GET /api/v1/invitations/{invitation_id}": [],
    "DELETE /api/v1/invitations/{invitation_id}": ["invitation.revoke"],
    "GET /api/v1/me": [],
    "GET /api/v1/members/": [],
    "GET /api/v1/members/{member_id}": [],
    "PATCH /api/v1/members/{member_id}": ["member.update"],
    "DELETE /api/v1/members/{member_id}": ["member.remove"],
    "POST /api/v1/members/{member_id}/pause": ["member.pause"],
    "POST /api/v1/members/{member_id}/unpause": ["member.unpause"],
    "GET /api/v1/members/{member_id}/skills/": [],
    "POST /api/v1/members/{member_id}/skills/": ["member.skill_set"],
    "DELETE /api/v1/members/{member_id}/skills/{skill_id}": ["member.skill_remove"],
    "GET /api/v1/organization": [],
    "PATCH /api/v1/organization": ["organization.update"],
    "GET /api/v1/platform/organizations/": [],
    "POST /api/v1/platform/organizations/": ["organization.create", "invitation.create"],
    "GET /api/v1/platform/organizations/{organization_id}": [],
    "GET /api/v1/projects/": [],
    "POST /api/v1/projects/": ["project.create"],
    "GET /api/v1/projects/{project_id}": [],
    "PATCH /api/v1/projects/{project_id}": ["project.update"],
    "DELETE /api/v1/projects/{project_id}": ["project.delete"],
    # Task data shown to a reviewer or adjudicator is a read on record, like a task served to its annotator.
    "GET /api/v1/projects/{project_id}/adjudication/": ["data_access.adjudication_queue"],
    "GET /api/v1/projects/{project_id}/agreement": [],
    "GET /api/v1/projects/{project_id}/assignments/": [],
    "POST /api/v1/projects/{project_id}/assignments/": ["assignment.assign"],
    # The run queues the free task for the owner (its own record), then records who asked for it and the counts.
    "POST /api/v1/projects/{project_id}/dispatch": ["assignment.dispatch", "project.dispatch"],
    "GET /api/v1/projects/{project_id}/exclusions/": [],
    "GET /api/v1/projects/{project_id}/exports/": [],
    "POST /api/v1/projects/{project_id}/exports/": ["export.create"],
    "GET /api/v1/exports/{export_id}": [],
    # Handing out the export's file (a signed URL) is the data access; the job's own page is not.
    "GET /api/v1/exports/{export_id}/download": ["data_access.export_download"],
    "POST /api/v1/projects/{project_id}/media/": ["media.upload"],
    # The rule names a member holding a lease on the project: the lease is revoked with it.
    "POST /api/v1/projects/{project_id}/exclusions/": ["exclusion.create", "assignment.revoke"],
    "GET /api/v1/projects/{project_id}/gold-accuracy": [],
    # The claim, and handing the task's data to a person (a data access, kept with that category's retention).
    "POST /api/v1/projects/{project_id}/next": ["assignment.claim", "data_access.task_serve"],
    "GET /api/v1/projects/{project_id}/progress/": [],
    "POST /api/v1/projects/{project_id}/progress/{member_id}/pause": ["progress.pause"],
    "POST /api/v1/projects/{project_id}/progress/{member_id}/unpause": ["progress.unpause"],
    "GET /api/v1/projects/{project_id}/reviews/queue": ["data_access.review_queue"],
    "GET /api/v1/projects/{project_id}/schema-versions/": [],
    # Converts the text in the request and returns it; nothing is stored, read or changed.
    "POST /api/v1/label-schemas/from-label-studio": [],
    "GET /api/v1/projects/{project_id}/tasks/": ["data_access.task_list"],
    "POST /api/v1/projects/{project_id}/tasks/": ["task.bulk_create"],
    "GET /api/v1/projects/{project_id}/tasks/{task_id}": ["data_access.task_view"],
    "GET /api/v1/skills/": [],
    # Imports record their start and their end (import.finish, written by the worker) and a cancellation.
    "GET /api/v1/projects/{project_id}/imports/": [],
    "POST /api/v1/projects/{project_id}/imports/": ["import.create"],
    "GET /api/v1/imports/{import_id}": [],
    "POST /api/v1/imports/{import_id}/cancel": ["import.cancel"],
    "GET /api/v1/projects/{project_id}/suggestion-jobs/": [],
    "POST /api/v1/projects/{project_id}/suggestion-jobs/": ["suggestion.job_start"],
    "GET /api/v1/suggestion-jobs/{suggestion_job_id}": [],
    "POST /api/v1/suggestion-jobs/{suggestion_job_id}/resume": ["suggestion.job_start"],
    "GET /api/v1/storage-connections/": [],
    "POST /api/v1/storage-connections/": ["storage.create"],
    "GET /api/v1/storage-connections/{connection_id}": [],
    "PATCH /api/v1/storage-connections/{connection_id}": ["storage.update"],
    "DELETE /api/v1/storage-connections/{connection_id}": ["storage.delete"],
    "GET /api/v1/model-connections/": [],
    "POST /api/v1/model-connections/": ["model_connection.create"],
    "GET /api/v1/model-connections/{model_connection_id}": [],
    "PATCH /api/v1/model-connections/{model_connection_id}": ["model_connection.update"],
    "DELETE /api/v1/model-connections/{model_connection_id}": ["model_connection.delete"],
    "GET /api/v1/projects/{project_id}/model-budget": [],
    "PATCH /api/v1/projects/{project_id}/model-budget": ["model_budget.update"],
    # Who called which model for which task, the tokens and the outcome: no task data, so not a read on record.
    "GET /api/v1/projects/{project_id}/model-calls/": [],
    # A judge run's start and what a manager does to it; the worker records how it ends (finish, pause, fail).
    "GET /api/v1/projects/{project_id}/judge-runs/": [],
    "POST /api/v1/projects/{project_id}/judge-runs/": ["judge_run.start"],
    "GET /api/v1/judge-runs/{judge_run_id}": [],
    "POST /api/v1/judge-runs/{judge_run_id}/cancel": ["judge_run.cancel"],
    "POST /api/v1/judge-runs/{judge_run_id}/resume": ["judge_run.resume"],
    "GET /api/v1/judge-runs/{judge_run_id}/verdicts/": [],
    "POST /api/v1/skills/": ["skill.create"],
    "PATCH /api/v1/skills/{skill_id}": ["skill.update"],
    "DELETE /api/v1/skills/{skill_id}": ["skill.delete"],
    "POST /api/v1/tasks/{task_id}/adjudicate": ["review.adjudicate"],
    "GET /api/v1/tasks/{task_id}/annotations/": ["data_access.annotation_list"],
    "GET /api/v1/tokens/": [],
    "POST /api/v1/tokens/": ["token.create"],
    "GET /api/v1/tokens/{token_id}": [],
    "DELETE /api/v1/tokens/{token_id}": ["token.revoke"],
}


# Writes that record nothing, each with its reason above in AUDIT_ACTIONS. The list only shrinks.
UNRECORDED_WRITES = {
    "POST /api/v1/assignments/{assignment_id}/heartbeat",
    "POST /api/v1/label-schemas/from-label-studio",
}

# Calls whose first record names the object they create (the response's `id`), not the one the path names.
CREATES = {
    "POST /api/v1/assignments/{assignment_id}/submit": "annotation.annotation",
    "POST /api/v1/projects/{project_id}/assignments/": "annotation.assignment",
    "POST /api/v1/projects/{project_id}/exclusions/": "annotation.conflictexclusion",
    "POST /api/v1/projects/{project_id}/exports/": "projects.exportjob",
    "POST /api/v1/projects/{project_id}/media/": "projects.mediaobject",
    "POST /api/v1/projects/{project_id}/imports/": "projects.importjob",
    "POST /api/v1/projects/{project_id}/suggestion-jobs/": "annotation.suggestionjob",
    "POST /api/v1/storage-connections/": "projects.storageconnection",
    "POST /api/v1/model-connections/": "llm.modelconnection",
    "POST /api/v1/projects/{project_id}/judge-runs/": "llm.judgerun",
    "POST /api/v1/projects/{project_id}/next": "annotation.assignment",
}
# Nested routes whose record names another of the path's objects than the last: a skill withdrawn from a member
# changes the member's profile, so the record is on the member's trail (the skill is in its metadata).
TARGET_PARAM = {
    "DELETE /api/v1/members/{member_id}/skills/{skill_id}": "member_id",
    # A chat turn is on its assignment's trail (the field is a name, not an object).
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/turns": "chat_assignment_id",
}
# Events a successful call records with another outcome in these suites: the populated chat connection is switched
# off, so the model call a turn or a regeneration makes is refused (the suites never reach a model).
OUTCOMES = {
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/turns": {"model.call": "denied"},
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/messages/{message_id}/regenerate": {
        "model.call": "denied"
    },
}


def events(organization_id: int, after: int = 0) -> list[AuditEvent]:
    """The organization's events recorded after the one whose row id is `after`, in the order they were written."""
    with organization_context(organization_id):
        return list(AuditEvent.objects.filter(pk__gt=after).order_by("pk"))


def last_sequence(organization_id: int) -> int:
    """A mark of how far the organization's trail goes: its newest event's row id (sequences count per category)."""
    with organization_context(organization_id):
        return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def counters(organization_id: int) -> dict[str, int]:
    """The last sequence number given out, per category."""
    with organization_context(organization_id):
        return dict(AuditSequence.objects.values_list("category", "last_value"))


def refused(sql: str, params: Any = None) -> Exception:
    with pytest.raises((ProgrammingError, InternalError)) as caught, transaction.atomic(), connection.cursor() as c:
        c.execute(sql, params)
    return caught.value


def _rows(organization_id: int) -> list[dict[str, Any]]:
    with organization_context(organization_id):
        return list(AuditEvent.objects.order_by("sequence").values())


# --- append-only in the database ---


def test_app_role_may_only_add_and_read_audit_events(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p, has_table_privilege(current_user, %s, p) FROM unnest(%s::text[]) AS p",
            [TABLE, ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]],
        )
        granted = sorted(p for p, ok in cursor.fetchall() if ok)
    assert granted == ["INSERT", "SELECT"]


def test_app_role_is_refused_update_delete_and_truncate_by_privilege(db):
    a = populate("acme")
    before = _rows(a.organization.pk)
    assert before != []
    with organization_context(a.organization.pk):
        for sql in (
            f"UPDATE {TABLE} SET action = 'project.nothing'",
            f"DELETE FROM {TABLE}",
            f"TRUNCATE {TABLE}",
        ):
            error = refused(sql)
            assert error.__cause__.sqlstate == "42501"
            assert f"permission denied for table {TABLE}" in str(error)
    assert _rows(a.organization.pk) == before


def test_table_owner_is_refused_update_delete_and_truncate_by_triggers(db):
    a = populate("acme")
    before = _rows(a.organization.pk)
    with as_table_owner():
        # Fire the deferred foreign-key checks of the rows just written: TRUNCATE refuses to run while they pend.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for sql, operation in (
            (f"UPDATE {TABLE} SET action = 'project.nothing' WHERE organization_id = %s", "UPDATE"),
            (f"DELETE FROM {TABLE} WHERE organization_id = %s", "DELETE"),
            (f"TRUNCATE {TABLE}", "TRUNCATE"),
        ):
            error = refused(sql, [a.organization.pk] if "%s" in sql else None)
            assert error.__cause__.sqlstate == "42501"
            assert f"audit_auditevent is append-only: {operation} refused" in str(error)
    assert _rows(a.organization.pk) == before


# --- every call's record ---


def test_every_route_has_an_audit_expectation():
    keys = {r.key for r in ROUTES}
    assert sorted(keys - AUDIT_ACTIONS.keys()) == []
    assert sorted(AUDIT_ACTIONS.keys() - keys) == []
    # A change that records nothing would leave no trail: every write must name at least one action.
    unrecorded = [k for k, v in AUDIT_ACTIONS.items() if k.split()[0] in {"POST", "PATCH", "PUT", "DELETE"} and not v]
    assert sorted(unrecorded) == sorted(UNRECORDED_WRITES)
    assert set(CREATES) | set(TARGET_PARAM) <= keys


def _successful_call(route: Route, world: Any) -> tuple[Any, APIClient, dict[str, Any]]:
    rule = ROLE_MATRIX[route.key]
    body = body_for(rule, world)
    if rule.minimum == STAFF:
        client = APIClient()
        client.force_login(UserFactory(email="ops@platform.test", is_staff=True))
        actor = "ops@platform.test"
    elif rule.minimum == PUBLIC:
        client, actor = APIClient(), ""
        body = {"token": world.invitation_raw, "name": "Ada Newcomer", "password": STRONG_PASSWORD}
    else:
        client, actor = world.clients[Role.OWNER], world.owner.user.email
    extra = {"REMOTE_ADDR": "192.0.2.7", "HTTP_X_REQUEST_ID": f"req-{route.method.lower()}-0001"}
    response = call(client, route.method, path_for(route, world), body, **extra)
    return response, client, {"actor": actor, **extra}


@pytest.mark.parametrize("route", ROUTES, ids=route_ids(ROUTES))
def test_each_successful_call_records_its_actions_in_its_transaction(db, route):
    if route.key not in AUDIT_ACTIONS:
        pytest.fail(f"{route.key} has no entry in AUDIT_ACTIONS: state what a successful call records")
    world = populate("acme")
    organization = world.organization
    start = last_sequence(organization.pk)
    numbered = counters(organization.pk)
    other = {o.pk: last_sequence(o.pk) for o in Organization.objects.exclude(pk=organization.pk)}

    response, _, sent = _successful_call(route, world)

    assert response.status_code in {200, 201, 202, 204}, response.content
    if route.key == "POST /api/v1/platform/organizations/":
        organization = Organization.objects.get(slug="new-lab")
        start, numbered = 0, {}
    recorded = events(organization.pk, after=start)
    assert [e.action for e in recorded] == AUDIT_ACTIONS[route.key]
    # Each category numbers its own events, on from its counter, without a gap.
    expected_counters = dict(numbered)
    for event in recorded:
        expected_counters[event.category] = expected_counters.get(event.category, 0) + 1
        assert event.sequence == expected_counters[event.category], event.action
    assert counters(organization.pk) == expected_counters
    for event in recorded:
        outcome = OUTCOMES.get(route.key, {}).get(event.action, "success")
        assert (event.outcome, event.category) == (outcome, event.action.split(".")[0])
        assert (event.request_id, event.ip, event.actor_label) == (
            sent["HTTP_X_REQUEST_ID"],
            sent["REMOTE_ADDR"],
            sent["actor"],
        )
    if recorded and route.key in CREATES:
        assert (recorded[0].target_type, recorded[0].target_id) == (CREATES[route.key], response.json()["id"])
    elif recorded and route.params:
        # The first record names the object the path names (for nested routes, the last one).
        addressed = TARGET_PARAM.get(route.key, route.params[-1])
        assert recorded[0].target_id == str(object_id(world, addressed))
        assert recorded[0].target_type == f"{getattr(world, PARAM_OBJECTS[addressed])._meta.label_lower}"
    # Nothing lands in another organization's trail.
    assert {pk: last_sequence(pk) for pk in other} == other


def test_a_change_that_fails_after_its_record_leaves_neither(db, monkeypatch):
    world = populate("acme")
    start = last_sequence(world.organization.pk)

    def explode(self: Any, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Project, "delete", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        call(world.clients[Role.OWNER], "DELETE", f"/api/v1/projects/{world.project.uuid}")

    assert (last_sequence(world.organization.pk), events(world.organization.pk, after=start)) == (start, [])
    with organization_context(world.organization.pk):
        assert Project.objects.filter(pk=world.project.pk).exists()


def test_a_change_whose_record_fails_does_not_happen(db, monkeypatch):
    world = populate("acme")
    start = last_sequence(world.organization.pk)
    original = audit_services._insert_numbered_all

    def refuse(events: list[AuditEvent], **kwargs: Any) -> None:
        if any(event.action == "project.update" for event in events):
            raise RuntimeError("audit store unavailable")
        original(events, **kwargs)

    # The statement that numbers and writes the event fails; the change it records must roll back with it.
    monkeypatch.setattr(audit_services, "_insert_numbered_all", refuse)
    with pytest.raises(RuntimeError, match="audit store unavailable"):
        call(world.clients[Role.OWNER], "PATCH", f"/api/v1/projects/{world.project.uuid}", {"name": "Renamed"})

    assert last_sequence(world.organization.pk) == start
    with organization_context(world.organization.pk):
        assert Project.objects.get(pk=world.project.pk).name == "acme project"


# --- refusals are on the record, in the refused caller's organization ---

DENIABLE = [
    r
    for r in ROUTES
    if r.key in ROLE_MATRIX
    and ROLE_MATRIX[r.key].minimum not in {PUBLIC, STAFF}
    and ROLE_MATRIX[r.key].minimum is not Role.ANNOTATOR
]


@pytest.mark.parametrize("route", DENIABLE, ids=route_ids(DENIABLE))
def test_a_forbidden_call_is_recorded_as_denied(db, route):
    world = populate("acme", roles=(Role.OWNER, Role.ANNOTATOR))
    start = last_sequence(world.organization.pk)

    response = call(
        world.clients[Role.ANNOTATOR], route.method, path_for(route, world), body_for(ROLE_MATRIX[route.key], world)
    )

    assert response.status_code == 403
    recorded = events(world.organization.pk, after=start)
    assert [(e.action, e.outcome) for e in recorded] == [("access.forbidden", "denied")]
    event = recorded[0]
    assert event.actor_label == world.members[Role.ANNOTATOR].user.email
    assert event.actor_token_prefix == world.tokens[Role.ANNOTATOR].prefix
    assert event.metadata == {
        "method": route.method,
        "path": path_for(route, world),
        "kwargs": {p: str(object_id(world, p)) for p in route.params},
    }


FOREIGN_ID_ROUTES = [r for r in ROUTES if r.params and not r.key.startswith(("GET /api/v1/platform/",))]


@pytest.mark.parametrize("route", FOREIGN_ID_ROUTES, ids=route_ids(FOREIGN_ID_ROUTES))
def test_a_foreign_id_is_recorded_as_denied_with_the_caller_not_the_victim(db, route):
    a, b = populate("acme"), populate("bravo")
    a_trail, b_start = _rows(a.organization.pk), last_sequence(b.organization.pk)

    response = call(b.clients[Role.OWNER], route.method, path_for(route, a), body_for(ROLE_MATRIX[route.key], a))

    assert response.status_code == 404
    recorded = events(b.organization.pk, after=b_start)
    assert [(e.action, e.outcome, e.actor_label) for e in recorded] == [
        ("access.not_found", "denied", b.owner.user.email)
    ]
    assert recorded[0].metadata["kwargs"] == {p: str(object_id(a, p)) for p in route.params}
    assert _rows(a.organization.pk) == a_trail


def test_a_revoked_token_is_recorded_as_denied(db):
    world = populate("acme")
    client = world.clients[Role.OWNER]
    response = call(client, "DELETE", f"/api/v1/tokens/{world.tokens[Role.OWNER].uuid}")
    assert response.status_code == 200
    start = last_sequence(world.organization.pk)

    response = call(client, "GET", "/api/v1/projects/")

    assert response.status_code == 401
    recorded = events(world.organization.pk, after=start)
    assert [(e.action, e.outcome, e.target_id) for e in recorded] == [
        ("auth.token_rejected", "denied", str(world.tokens[Role.OWNER].uuid))
    ]
    assert recorded[0].metadata == {"prefix": world.tokens[Role.OWNER].prefix, "reason": "revoked"}


def test_member_removal_records_who_and_how_many_tokens_died(db):
    world = populate("acme")
    start = last_sequence(world.organization.pk)
    response = call(world.clients[Role.OWNER], "DELETE", f"/api/v1/members/{world.member.uuid}")
    assert response.status_code == 204
    (event,) = events(world.organization.pk, after=start)
    assert (event.action, event.target_id, event.changes, event.metadata) == (
        "member.remove",
        str(world.member.uuid),
        {"role": ["annotator", None]},
        {"user": "acme-target@acme.test", "tokens_revoked": 1, "assignments_released": 1},
    )


def test_platform_refusal_of_a_member_token_is_recorded_in_its_organization(db):
    world = populate("acme")
    start = last_sequence(world.organization.pk)
    response = call(world.clients[Role.OWNER], "GET", "/api/v1/platform/organizations/")
    assert response.status_code == 403
    recorded = events(world.organization.pk, after=start)
    assert [(e.action, e.outcome, e.actor_label) for e in recorded] == [
        ("access.forbidden", "denied", world.owner.user.email)
    ]


def test_the_audit_api_never_offers_a_write(db):
    world = populate("acme")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = call(world.clients[Role.OWNER], method, "/api/v1/audit/events/", {})
        assert response.status_code == 405, method
