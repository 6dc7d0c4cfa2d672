"""Every write route, made to fail after it has written: the answer is an error and the database is exactly as it
was before the request, every row of every table. Generated from the URLconf; a write route nobody classified
fails the suite.

Two ways to fail are tried. A valid change sent with one invalid field (the member PATCH once changed the role and
then refused the language); and, for every route, the route's own handler run to completion, its write done, and a
400 raised after it, which is what any later check, a second service or a failing serializer would do.
"""

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework import exceptions
from rest_framework.test import APIClient

from core.api.base import RequestTransactionMixin
from tenancy.models import Role
from tests.factories import UserFactory
from tests.isolation.exports_world import PNG
from tests.isolation.routes import (
    ROUTES,
    STRONG_PASSWORD,
    Route,
    as_table_owner,
    call,
    path_for,
    populate,
    route_ids,
    unmapped_params,
)

OWNER = "owner"
STAFF = "staff"  # platform staff, signed in
ANONYMOUS = "anonymous"  # no credentials: the invitation secret is what authorises

ALL_ROLES = (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR)

FORCED = {
    "detail": "Invalid input.",
    "code": "invalid",
    "errors": [{"field": "forced", "message": "Refused after the write.", "code": "invalid"}],
}


@dataclass(frozen=True)
class Write:
    """How a write route succeeds, and how it is made to fail with one invalid field."""

    status: int  # what the valid change answers when nothing fails
    body: Any = None  # the valid change: a value, or a callable taking the populated tenant
    # The valid change with one field made invalid (merged over `body`), and the field the 400 names. None for a
    # route that takes no fields: the forced failure is its only failure.
    invalid: Any = None
    field: str = ""
    caller: str = OWNER
    # False for a route that answers without storing anything: its success must leave the database as it was.
    stores: bool = True


def _lease(world: SimpleNamespace) -> dict[str, str]:
    return {"lease_token": str(world.assignment.lease_token)}


def _storage(world: SimpleNamespace) -> dict[str, str]:
    return {"storage": str(world.storage_connection.uuid), "prefix": "in/", "format": "jsonl"}


WRITES: dict[str, Write] = {
    "POST /api/v1/annotations/{annotation_id}/review": Write(
        201, {"decision": "accept"}, {"result": {"label": "only a correction carries one"}}, "result"
    ),
    "POST /api/v1/assignments/{assignment_id}/heartbeat": Write(
        200, _lease, {"lease_token": "not-a-uuid"}, "lease_token"
    ),
    "POST /api/v1/assignments/{assignment_id}/release": Write(
        204, _lease, {"lease_token": "not-a-uuid"}, "lease_token"
    ),
    "POST /api/v1/assignments/{assignment_id}/revoke": Write(
        200, {"reason": "reassigning"}, {"reason": "x" * 301}, "reason"
    ),
    "POST /api/v1/assignments/{assignment_id}/skip": Write(
        204, lambda w: {**_lease(w), "reason": "outside my expertise"}, {"reason": "x" * 301}, "reason"
    ),
    "POST /api/v1/assignments/{assignment_id}/submit": Write(
        201,
        lambda w: {**_lease(w), "result": {"label": "done"}, "time_spent_ms": 1200},
        {"time_spent_ms": -1},
        "time_spent_ms",
    ),
    "POST /api/v1/audit/seal": Write(200, {}),
    "POST /api/v1/audit/verify": Write(200, {}),
    "POST /api/v1/exclusions/": Write(
        201, {"attribute": "affiliation", "value": "Initech", "reason": "sponsor"}, {"reason": "x" * 301}, "reason"
    ),
    "DELETE /api/v1/exclusions/{exclusion_id}": Write(204),
    "POST /api/v1/invitations/": Write(
        201, {"email": "newcomer@acme.test", "role": "annotator"}, {"role": "emperor"}, "role"
    ),
    "POST /api/v1/invitations/accept": Write(
        201,
        lambda w: {"token": w.invitation_raw, "name": "Ada", "password": STRONG_PASSWORD},
        {"password": "short"},
        "password",
        caller=ANONYMOUS,
    ),
    "DELETE /api/v1/invitations/{invitation_id}": Write(200),
    # The reported case: a valid role with an invalid language once changed the role and answered 400.
    "PATCH /api/v1/members/{member_id}": Write(
        200, {"role": "reviewer"}, {"languages": ["not a language!"]}, "languages[0]"
    ),
    "DELETE /api/v1/members/{member_id}": Write(204),
    "POST /api/v1/members/{member_id}/pause": Write(
        200, {"reason": "reviewing recent work"}, {"reason": "x" * 301}, "reason"
    ),
    "POST /api/v1/members/{member_id}/unpause": Write(200, {}),
    "POST /api/v1/members/{member_id}/skills/": Write(
        200, lambda w: {"skill": w.skill.name, "level": 4}, {"expires_at": "not a time"}, "expires_at"
    ),
    "DELETE /api/v1/members/{member_id}/skills/{skill_id}": Write(204),
    "PATCH /api/v1/organization": Write(200, {"name": "Acme renamed"}, {"settings": "not an object"}, "settings"),
    "POST /api/v1/platform/organizations/": Write(
        201,
        {"name": "New Lab", "slug": "new-lab", "owner_email": "boss@new.test"},
        {"owner_email": "not an address"},
        "owner_email",
        caller=STAFF,
    ),
    "POST /api/v1/projects/": Write(201, {"name": "New project"}, {"overlap": 0}, "overlap"),
    "PATCH /api/v1/projects/{project_id}": Write(
        200, {"name": "Renamed project"}, {"required_skills": {"radiology": 9}}, "required_skills.radiology"
    ),
    "DELETE /api/v1/projects/{project_id}": Write(204),
    "POST /api/v1/projects/{project_id}/assignments/": Write(
        201,
        lambda w: {"task": str(w.free_task.uuid), "annotator": str(w.owner.uuid)},
        {"annotator": "not-a-uuid"},
        "annotator",
    ),
    "POST /api/v1/projects/{project_id}/dispatch": Write(200, {}),
    "POST /api/v1/projects/{project_id}/exclusions/": Write(
        201, lambda w: {"member": str(w.member.uuid), "reason": "co-author"}, {"reason": "x" * 301}, "reason"
    ),
    "POST /api/v1/projects/{project_id}/next": Write(201, {}),
    "POST /api/v1/projects/{project_id}/progress/{member_id}/pause": Write(
        200, {"reason": "spot check"}, {"reason": "x" * 301}, "reason"
    ),
    "POST /api/v1/projects/{project_id}/progress/{member_id}/unpause": Write(200, {}),
    "POST /api/v1/label-schemas/from-label-studio": Write(
        200,
        {"label_studio_config": '<View><Text name="t" value="$t"/><TextArea name="a" toName="t"/></View>'},
        {"label_studio_config": "<View>"},
        "label_studio_config",
        stores=False,
    ),
    "POST /api/v1/projects/{project_id}/exports/": Write(
        202, {"format": "csv", "filters": {"status": "done"}}, {"format": "parquet"}, "format"
    ),
    "POST /api/v1/projects/{project_id}/media/": Write(
        201, lambda w: {"file": SimpleUploadedFile("scan.png", PNG, content_type="image/png")}
    ),
    # A good item and a bad one in the same array.
    "POST /api/v1/projects/{project_id}/tasks/": Write(
        201,
        [{"external_id": "new-item", "data": {"text": "new"}}],
        [{"external_id": "new-item", "data": {"text": "new"}}, {"external_id": "bad-item", "data": "not an object"}],
        "[1].data",
    ),
    "POST /api/v1/projects/{project_id}/imports/": Write(202, _storage, {"format": "xlsx"}, "format"),
    "POST /api/v1/imports/{import_id}/cancel": Write(200, {}),
    "POST /api/v1/storage-connections/": Write(
        201,
        {"name": "archive", "bucket": "acme-archive", "endpoint_url": "http://93.184.216.34:9000"},
        {"prefix": "x" * 1025},
        "prefix",
    ),
    "PATCH /api/v1/storage-connections/{connection_id}": Write(
        200, {"name": "renamed storage"}, {"prefix": "x" * 1025}, "prefix"
    ),
    "DELETE /api/v1/storage-connections/{connection_id}": Write(204),
    "POST /api/v1/model-connections/": Write(
        201,
        {"name": "judge", "base_url": "http://93.184.216.34:8000/v1", "model": "judge-8b"},
        {"parameters": {"temperature": 7}},
        "parameters.temperature",
    ),
    "PATCH /api/v1/model-connections/{model_connection_id}": Write(
        200, {"name": "renamed model"}, {"timeout_seconds": 0}, "timeout_seconds"
    ),
    "DELETE /api/v1/model-connections/{model_connection_id}": Write(204),
    "PATCH /api/v1/projects/{project_id}/model-budget": Write(
        200, {"token_limit": 5000}, {"max_concurrent": 0}, "max_concurrent"
    ),
    "POST /api/v1/projects/{project_id}/suggestion-jobs/": Write(
        202,
        lambda w: {"connection": str(w.model_connection_used.uuid), "fields": ["label"], "prompt": "Label {{ text }}"},
        {"prompt": "Label {{ text"},
        "prompt",
    ),
    "POST /api/v1/suggestion-jobs/{suggestion_job_id}/resume": Write(202, {}),
    "POST /api/v1/projects/{project_id}/judge-runs/": Write(
        201,
        lambda w: {"connection": str(w.model_connection.uuid), "fields": ["label"]},
        {"instruction": "x" * 2001},
        "instruction",
    ),
    "POST /api/v1/judge-runs/{judge_run_id}/cancel": Write(200, {}),
    "POST /api/v1/judge-runs/{judge_run_id}/resume": Write(200, {}),
    "POST /api/v1/skills/": Write(
        201, {"name": "radiology", "description": "Reads imaging studies"}, {"description": "x" * 301}, "description"
    ),
    "PATCH /api/v1/skills/{skill_id}": Write(
        200, {"description": "Cardiac imaging"}, {"name": "Not A Valid Name!"}, "name"
    ),
    "DELETE /api/v1/skills/{skill_id}": Write(204),
    "POST /api/v1/tasks/{task_id}/adjudicate": Write(
        201, {"result": {"label": "final"}, "rationale": "Both readings checked."}, {"rationale": ""}, "rationale"
    ),
    "POST /api/v1/tokens/": Write(201, {"name": "my script"}, {"role": "emperor"}, "role"),
    "DELETE /api/v1/tokens/{token_id}": Write(200),
}

# Live chat's async views keep no request transaction on purpose: a turn stores the prompt in one short transaction,
# streams the models with none open, and ends each reply in another, so a generation never holds a transaction (or
# a worker) for seconds. Their refusals (bad input, a stale lease) still write nothing: tests/annotation/api/
# test_chat.py checks each.
OWN_TRANSACTIONS = {
    "ChatConversationView",
    "ChatTurnView",
    "ChatRegenerateView",
    "ChatEditView",
}

WRITE_ROUTES = [r for r in ROUTES if r.mutating and r.view.__name__ not in OWN_TRANSACTIONS]
WITH_FIELDS = [r for r in WRITE_ROUTES if WRITES.get(r.key, Write(0)).invalid is not None]


def write_for(route: Route) -> Write:
    if route.key not in WRITES:
        pytest.fail(f"{route.key} has no entry in WRITES: state how it succeeds and how it is made to fail")
    if unmapped_params(route):
        pytest.fail(f"{route.key}: path parameters {unmapped_params(route)} are not in PARAM_OBJECTS")
    return WRITES[route.key]


def tables() -> list[str]:
    """Every table of the schema, modelled or not (partitions are read through their parent)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
            " ORDER BY c.relname"
        )
        return [name for (name,) in cursor.fetchall()]


def database() -> dict[str, list[str]]:
    """Every row of every table, of every tenant, read past the row policies (as the superuser that owns the
    suite's login): what a request left behind anywhere, not only in the caller's organization."""
    rows: dict[str, list[str]] = {}
    with as_table_owner(), connection.cursor() as cursor:
        for table in tables():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from pg_class
            rows[table] = sorted(repr(row) for row in cursor.fetchall())
    return rows


def tenant_and_client(caller: str) -> tuple[SimpleNamespace, APIClient]:
    """The populated tenant (one member per role), with routes addressing the owner's own token and lease."""
    world = populate("acme", roles=ALL_ROLES)
    world.token = world.tokens[Role.OWNER]
    world.assignment = world.assignments[Role.OWNER]
    if caller == OWNER:
        client = world.clients[Role.OWNER]
        # The token's first use records when it was used; later ones within the interval do not write, so what
        # the route under test writes is all there is to undo.
        assert call(client, "GET", "/api/v1/me").status_code == 200
        return world, client
    client = APIClient()
    if caller == STAFF:
        client.force_login(UserFactory(email="ops@platform.test", is_staff=True))
    return world, client


def body_of(value: Any, world: SimpleNamespace) -> Any:
    return value(world) if callable(value) else value


def with_invalid(write: Write, world: SimpleNamespace) -> Any:
    body, invalid = body_of(write.body, world), body_of(write.invalid, world)
    return invalid if isinstance(body, list) else {**body, **invalid}


def test_every_write_route_is_classified():
    keys = {r.key for r in WRITE_ROUTES}
    assert sorted(keys - WRITES.keys()) == []
    assert sorted(WRITES.keys() - keys) == []


def test_every_api_view_runs_in_the_request_transaction():
    # Reads too: their errors, and a failed commit, are answered by the same block in the same JSON shape.
    outside = sorted(
        {r.view.__name__ for r in ROUTES if not issubclass(r.view, RequestTransactionMixin)} - OWN_TRANSACTIONS
    )
    assert outside == []


def test_the_write_routes_are_discovered():
    # A walk that found no write route would pass every case below vacuously.
    assert len(WRITE_ROUTES) >= 45
    assert "PATCH /api/v1/members/{member_id}" in {r.key for r in WITH_FIELDS}


@pytest.mark.parametrize("route", WITH_FIELDS, ids=route_ids(WITH_FIELDS))
def test_a_valid_change_with_one_invalid_field_changes_nothing(db, route):
    write = write_for(route)
    world, client = tenant_and_client(write.caller)
    before = database()

    response = call(client, route.method, path_for(route, world), with_invalid(write, world))

    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [write.field]
    assert database() == before


def failing_after_the_write(route: Route, ran: list[tuple[int, bool]], before: dict[str, Any]) -> Callable[..., Any]:
    """The route's own handler, run to the end, then a 400: everything it wrote is written when the error comes.
    `ran` gets the handler's own status and whether the database had changed by then."""
    handler = getattr(route.view, route.method.lower())

    def handle(view: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = handler(view, request, *args, **kwargs)
        ran.append((response.status_code, database() != before))
        raise exceptions.ValidationError({"forced": ["Refused after the write."]})

    return handle


@pytest.mark.parametrize("route", WRITE_ROUTES, ids=route_ids(WRITE_ROUTES))
def test_a_write_refused_after_it_ran_changes_nothing(db, monkeypatch, route):
    write = write_for(route)
    world, client = tenant_and_client(write.caller)
    before = database()
    ran: list[tuple[int, bool]] = []
    monkeypatch.setattr(route.view, route.method.lower(), failing_after_the_write(route, ran, before))

    response = call(client, route.method, path_for(route, world), body_of(write.body, world))

    assert ran == [(write.status, write.stores)]
    assert (response.status_code, response.json()) == (400, FORCED)
    assert database() == before
