"""Every API route, called by another tenant's owner with this tenant's ids: 404, the same bytes as a missing id,
and not one row of the victim changed. Generated from the URLconf; a route nobody classified fails the suite."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from core.context import organization_context
from tenancy.models import Membership, Organization, Role
from tenancy.services.invitations import invitation_create
from tests.factories import UserFactory
from tests.isolation.exports_world import MEDIA_FIELD, PNG
from tests.isolation.routes import (
    LAYERS,
    NOT_AUTHENTICATED,
    NOT_FOUND,
    NOT_STAFF,
    PARAM_OBJECTS,
    ROUTES,
    STRONG_PASSWORD,
    Route,
    call,
    object_id,
    only_layer,
    path_for,
    populate,
    public_ids,
    route_ids,
    snapshot,
    unmapped_params,
)

OBJECT = "object"  # names an object by id: another tenant's id is a 404, byte for byte like a missing one
COLLECTION = "collection"  # no id: acts on the caller's own organization, and only on it
PLATFORM = "platform"  # platform staff only; organization roles, even owner, get 403
PRE_TENANT = "pre_tenant"  # reached before any organization is known (the invitation secret names it)

Body = Any | Callable[[SimpleNamespace, SimpleNamespace], Any]


@dataclass(frozen=True)
class Expect:
    kind: str
    status: int | None = None  # what the other tenant's owner gets, for COLLECTION and PRE_TENANT
    body: Body = None  # a plausible request body; a callable gets (victim, caller)


def _lease(a: SimpleNamespace, b: SimpleNamespace) -> dict[str, str]:
    """The victim's real lease token: knowing it must not be enough to act on the lease."""
    return {"lease_token": str(a.assignment.lease_token)}


CROSS_TENANT: dict[str, Expect] = {
    "POST /api/v1/annotations/{annotation_id}/review": Expect(OBJECT, body={"decision": "reject", "comment": "forged"}),
    "GET /api/v1/annotations/{annotation_id}/media": Expect(OBJECT, body={"field": MEDIA_FIELD}),
    "POST /api/v1/assignments/{assignment_id}/heartbeat": Expect(OBJECT, body=_lease),
    "GET /api/v1/assignments/{assignment_id}/media": Expect(OBJECT, body={"field": MEDIA_FIELD}),
    "POST /api/v1/assignments/{assignment_id}/release": Expect(OBJECT, body=_lease),
    "POST /api/v1/assignments/{assignment_id}/revoke": Expect(OBJECT, body={"reason": "taking it"}),
    "POST /api/v1/assignments/{assignment_id}/skip": Expect(OBJECT, body=lambda a, b: {**_lease(a, b), "reason": "x"}),
    "POST /api/v1/assignments/{assignment_id}/submit": Expect(
        OBJECT, body=lambda a, b: {**_lease(a, b), "result": {"label": "forged"}}
    ),
    "GET /api/v1/assignments/{chat_assignment_id}/chat/{field_name}": Expect(OBJECT),
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/turns": Expect(
        OBJECT,
        body=lambda a, b: {"lease_token": str(a.chat_assignment.lease_token), "prompt": "forged", "parent": None},
    ),
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/messages/{message_id}/regenerate": Expect(
        OBJECT, body=lambda a, b: {"lease_token": str(a.chat_assignment.lease_token)}
    ),
    "POST /api/v1/assignments/{chat_assignment_id}/chat/{field_name}/messages/{message_id}/edit": Expect(
        OBJECT, body=lambda a, b: {"lease_token": str(a.chat_assignment.lease_token), "content": "forged"}
    ),
    "GET /api/v1/conversations/{conversation_id}": Expect(OBJECT),
    "GET /api/v1/audit/events/": Expect(COLLECTION, 200),
    "GET /api/v1/audit/events/export": Expect(COLLECTION, 200),
    "GET /api/v1/audit/checkpoints/": Expect(COLLECTION, 200),
    # Names no tenant at all: the same key for everyone.
    "GET /api/v1/audit/public-key": Expect(COLLECTION, 200),
    "POST /api/v1/audit/seal": Expect(COLLECTION, 200, {}),
    "POST /api/v1/audit/verify": Expect(COLLECTION, 200, {}),
    "GET /api/v1/exclusions/": Expect(COLLECTION, 200),
    "POST /api/v1/exclusions/": Expect(COLLECTION, 201, {"attribute": "affiliation", "value": "Bravo rival two"}),
    "DELETE /api/v1/exclusions/{exclusion_id}": Expect(OBJECT),
    "GET /api/v1/invitations/": Expect(COLLECTION, 200),
    "POST /api/v1/invitations/": Expect(COLLECTION, 201, {"email": "bravo-new@bravo.test", "role": "annotator"}),
    "POST /api/v1/invitations/accept": Expect(PRE_TENANT, 400, lambda a, b: {"token": a.invitation_raw}),
    "GET /api/v1/invitations/{invitation_id}": Expect(OBJECT),
    "DELETE /api/v1/invitations/{invitation_id}": Expect(OBJECT),
    "GET /api/v1/me": Expect(COLLECTION, 200),
    "GET /api/v1/members/": Expect(COLLECTION, 200),
    "GET /api/v1/members/{member_id}": Expect(OBJECT),
    "PATCH /api/v1/members/{member_id}": Expect(OBJECT, body={"role": "reviewer"}),
    "DELETE /api/v1/members/{member_id}": Expect(OBJECT),
    "POST /api/v1/members/{member_id}/pause": Expect(OBJECT, body={"reason": "taking over"}),
    "POST /api/v1/members/{member_id}/unpause": Expect(OBJECT, body={}),
    "GET /api/v1/members/{member_id}/skills/": Expect(OBJECT),
    "POST /api/v1/members/{member_id}/skills/": Expect(OBJECT, body=lambda a, b: {"skill": b.skill.name, "level": 5}),
    "DELETE /api/v1/members/{member_id}/skills/{skill_id}": Expect(OBJECT),
    "GET /api/v1/organization": Expect(COLLECTION, 200),
    "PATCH /api/v1/organization": Expect(COLLECTION, 200, {"name": "Bravo renamed", "settings": {"k": 1}}),
    "GET /api/v1/platform/organizations/": Expect(PLATFORM),
    "POST /api/v1/platform/organizations/": Expect(
        PLATFORM, body={"name": "Bravo two", "slug": "bravo-two", "owner_email": "boss@bravo.test"}
    ),
    "GET /api/v1/platform/organizations/{organization_id}": Expect(PLATFORM),
    "GET /api/v1/projects/": Expect(COLLECTION, 200),
    "POST /api/v1/projects/": Expect(COLLECTION, 201, {"name": "Bravo new project", "overlap": 2}),
    "GET /api/v1/projects/{project_id}": Expect(OBJECT),
    "PATCH /api/v1/projects/{project_id}": Expect(OBJECT, body={"name": "Bravo renamed", "guidelines": "new"}),
    "DELETE /api/v1/projects/{project_id}": Expect(OBJECT),
    "GET /api/v1/projects/{project_id}/adjudication/": Expect(OBJECT),
    "GET /api/v1/projects/{project_id}/agreement": Expect(OBJECT),
    "GET /api/v1/projects/{project_id}/assignments/": Expect(OBJECT),
    "POST /api/v1/projects/{project_id}/assignments/": Expect(
        OBJECT, body=lambda a, b: {"task": str(a.free_task.uuid), "annotator": str(b.owner.uuid)}
    ),
    "POST /api/v1/projects/{project_id}/dispatch": Expect(OBJECT, body={}),
    "GET /api/v1/projects/{project_id}/exclusions/": Expect(OBJECT),
    "POST /api/v1/projects/{project_id}/exclusions/": Expect(OBJECT, body=lambda a, b: {"member": str(a.member.uuid)}),
    "GET /api/v1/projects/{project_id}/gold-accuracy": Expect(OBJECT),
    "POST /api/v1/projects/{project_id}/next": Expect(OBJECT, body={}),
    "GET /api/v1/projects/{project_id}/progress/": Expect(OBJECT),
    "POST /api/v1/projects/{project_id}/progress/{member_id}/pause": Expect(OBJECT, body={"reason": "x"}),
    "POST /api/v1/projects/{project_id}/progress/{member_id}/unpause": Expect(OBJECT, body={}),
    "GET /api/v1/projects/{project_id}/reviews/queue": Expect(OBJECT),
    "GET /api/v1/projects/{project_id}/schema-versions/": Expect(OBJECT),
    # Names no tenant's object: converts the text it is given and stores nothing.
    "POST /api/v1/label-schemas/from-label-studio": Expect(
        COLLECTION,
        200,
        {"label_studio_config": '<View><Text name="t" value="$t"/><TextArea name="a" toName="t"/></View>'},
    ),
    "GET /api/v1/projects/{project_id}/tasks/": Expect(OBJECT),
    "GET /api/v1/projects/{project_id}/exports/": Expect(OBJECT),
    "POST /api/v1/projects/{project_id}/exports/": Expect(
        OBJECT, body={"format": "csv", "filters": {"status": "done"}}
    ),
    "GET /api/v1/exports/{export_id}": Expect(OBJECT),
    "GET /api/v1/exports/{export_id}/download": Expect(OBJECT),
    "POST /api/v1/projects/{project_id}/media/": Expect(
        OBJECT, body=lambda a, b: {"file": SimpleUploadedFile("bravo.png", PNG, content_type="image/png")}
    ),
    "POST /api/v1/projects/{project_id}/tasks/": Expect(
        OBJECT, body=[{"external_id": "bravo-new", "data": {"text": "new item"}}]
    ),
    "GET /api/v1/projects/{project_id}/tasks/{task_id}": Expect(OBJECT),
    "GET /api/v1/skills/": Expect(COLLECTION, 200),
    # Imports: the victim's project, job and storage connection, each as missing as a random id; the import body
    # names the caller's own connection, so only the project can be what is refused.
    "GET /api/v1/projects/{project_id}/imports/": Expect(OBJECT),
    "POST /api/v1/projects/{project_id}/imports/": Expect(
        OBJECT, body=lambda a, b: {"storage": str(b.storage_connection.uuid), "prefix": "", "format": "jsonl"}
    ),
    "GET /api/v1/imports/{import_id}": Expect(OBJECT),
    "POST /api/v1/imports/{import_id}/cancel": Expect(OBJECT, body={}),
    "GET /api/v1/storage-connections/": Expect(COLLECTION, 200),
    "POST /api/v1/storage-connections/": Expect(
        COLLECTION,
        201,
        {"name": "bravo new storage", "bucket": "bravo-new", "endpoint_url": "http://93.184.216.34:9000"},
    ),
    "GET /api/v1/storage-connections/{connection_id}": Expect(OBJECT),
    "PATCH /api/v1/storage-connections/{connection_id}": Expect(OBJECT, body={"name": "taken over", "prefix": ""}),
    "DELETE /api/v1/storage-connections/{connection_id}": Expect(OBJECT),
    "GET /api/v1/model-connections/": Expect(COLLECTION, 200),
    "POST /api/v1/model-connections/": Expect(
        COLLECTION, 201, {"name": "bravo judge", "base_url": "http://93.184.216.34:8000/v1", "model": "judge-8b"}
    ),
    "GET /api/v1/model-connections/{model_connection_id}": Expect(OBJECT),
    "PATCH /api/v1/model-connections/{model_connection_id}": Expect(
        OBJECT, body={"base_url": "http://93.184.216.35:8000/v1", "api_key": "forged"}
    ),
    "DELETE /api/v1/model-connections/{model_connection_id}": Expect(OBJECT),
    "GET /api/v1/projects/{project_id}/model-budget": Expect(OBJECT),
    "PATCH /api/v1/projects/{project_id}/model-budget": Expect(OBJECT, body={"token_limit": 0}),
    "GET /api/v1/projects/{project_id}/model-calls/": Expect(OBJECT),
    "GET /api/v1/projects/{project_id}/judge-runs/": Expect(OBJECT),
    "POST /api/v1/projects/{project_id}/judge-runs/": Expect(
        OBJECT, body=lambda a, b: {"connection": str(b.model_connection.uuid), "fields": ["label"]}
    ),
    "GET /api/v1/judge-runs/{judge_run_id}": Expect(OBJECT),
    "POST /api/v1/judge-runs/{judge_run_id}/cancel": Expect(OBJECT, body={}),
    "POST /api/v1/judge-runs/{judge_run_id}/resume": Expect(OBJECT, body={}),
    "GET /api/v1/judge-runs/{judge_run_id}/verdicts/": Expect(OBJECT),
    "GET /api/v1/projects/{project_id}/suggestion-jobs/": Expect(OBJECT),
    "POST /api/v1/projects/{project_id}/suggestion-jobs/": Expect(
        OBJECT,
        body=lambda a, b: {"connection": str(b.model_connection_used.uuid), "fields": ["label"], "prompt": "{{ t }}"},
    ),
    "GET /api/v1/suggestion-jobs/{suggestion_job_id}": Expect(OBJECT),
    "POST /api/v1/suggestion-jobs/{suggestion_job_id}/resume": Expect(OBJECT, body={}),
    "POST /api/v1/skills/": Expect(COLLECTION, 201, {"name": "bravo-radiology", "description": "Imaging"}),
    "PATCH /api/v1/skills/{skill_id}": Expect(OBJECT, body={"name": "renamed", "description": "x"}),
    "DELETE /api/v1/skills/{skill_id}": Expect(OBJECT),
    "POST /api/v1/tasks/{task_id}/adjudicate": Expect(OBJECT, body={"result": {"label": "forged"}, "rationale": "x"}),
    "GET /api/v1/tasks/{task_id}/annotations/": Expect(OBJECT),
    "GET /api/v1/tokens/": Expect(COLLECTION, 200),
    "POST /api/v1/tokens/": Expect(COLLECTION, 201, {"name": "bravo new token", "role": "manager"}),
    "GET /api/v1/tokens/{token_id}": Expect(OBJECT),
    "DELETE /api/v1/tokens/{token_id}": Expect(OBJECT),
}


def _expect(route: Route) -> Expect:
    if route.key not in CROSS_TENANT:
        pytest.fail(f"{route.key} has no entry in CROSS_TENANT: state how another tenant's call must end")
    if unmapped_params(route):
        pytest.fail(f"{route.key}: path parameters {unmapped_params(route)} are not in PARAM_OBJECTS")
    return CROSS_TENANT[route.key]


def _body(expect: Expect, a: SimpleNamespace, b: SimpleNamespace) -> Any:
    return expect.body(a, b) if callable(expect.body) else expect.body


def _assert_nothing_of(a: SimpleNamespace, response: Any) -> None:
    """The response names nothing of tenant A: no public id, no name, slug, email or text of it."""
    text = response.content.decode()
    assert a.prefix not in text.lower()
    leaked = sorted(i for i in public_ids(a.organization.pk) if i in text)
    assert leaked == []


def _id_sets(route: Route, a: SimpleNamespace, b: SimpleNamespace) -> list[dict[str, Any]]:
    """A's ids in every parameter; and, for nested routes, A's id in one parameter with B's in the others."""
    combos = [{p: object_id(a, p) for p in route.params}]
    if len(route.params) > 1:
        for foreign in route.params:
            combos.append({p: object_id(a if p == foreign else b, p) for p in route.params})
    return combos


OBJECT_ROUTES = [r for r in ROUTES if CROSS_TENANT.get(r.key, Expect(OBJECT)).kind == OBJECT]


def test_every_route_has_a_cross_tenant_expectation():
    keys = {r.key for r in ROUTES}
    assert sorted(keys - CROSS_TENANT.keys()) == []
    # An entry for a route that no longer exists means the table no longer describes the API.
    assert sorted(CROSS_TENANT.keys() - keys) == []


def test_every_path_parameter_is_mapped():
    unmapped = sorted({f"{r.template}: {p}" for r in ROUTES for p in unmapped_params(r)})
    assert unmapped == []
    assert {p for r in ROUTES for p in r.params} == set(PARAM_OBJECTS)


def test_routes_are_discovered():
    # The generator itself must see the API: a walk that found nothing would pass every matrix vacuously.
    assert len(ROUTES) >= 28
    assert {"GET /api/v1/projects/{project_id}/tasks/{task_id}", "POST /api/v1/invitations/accept"} <= {
        r.key for r in ROUTES
    }


def test_object_routes_take_ids_and_others_do_not():
    wrong = [
        r.key
        for r in ROUTES
        if r.key in CROSS_TENANT and (CROSS_TENANT[r.key].kind == OBJECT) != bool(r.params) and "platform" not in r.key
    ]
    assert wrong == []


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("route", ROUTES, ids=route_ids(ROUTES))
def test_other_tenant_cannot_reach_or_change_anything(db, monkeypatch, route, layer):
    expect = _expect(route)
    a, b = populate("acme"), populate("bravo")
    client = b.clients[Role.OWNER]
    before = snapshot(a.organization.pk)
    body = _body(expect, a, b)
    with only_layer(layer, monkeypatch):
        _call_as_other_tenant(route, expect, a, b, client, body)
    assert snapshot(a.organization.pk) == before


def _call_as_other_tenant(
    route: Route, expect: Expect, a: SimpleNamespace, b: SimpleNamespace, client: APIClient, body: Any
) -> None:
    if expect.kind == OBJECT:
        for ids in _id_sets(route, a, b):
            response = call(client, route.method, route.path(**ids), body)
            assert (response.status_code, response.json()) == (404, NOT_FOUND), ids
            _assert_nothing_of(a, response)
    elif expect.kind == PLATFORM:
        path = path_for(route, a)
        response = call(client, route.method, path, body)
        assert (response.status_code, response.json()) == (403, NOT_STAFF)
        response = call(APIClient(), route.method, path, body)
        assert (response.status_code, response.json()) == (401, NOT_AUTHENTICATED)
    elif expect.kind == PRE_TENANT:
        b_before = snapshot(b.organization.pk)
        response = call(client, route.method, route.path(), body)
        assert response.status_code == expect.status
        assert response.json()["errors"] == [
            {
                "field": "token",
                "message": "This invitation is for acme-invitee@acme.test; sign in with that account.",
                "code": "wrong_user",
            }
        ]
        assert snapshot(b.organization.pk) == b_before
    else:
        assert expect.kind == COLLECTION
        response = call(client, route.method, route.path(), body)
        assert response.status_code == expect.status, response.content
        _assert_nothing_of(a, response)
        payload = response.json()
        if isinstance(payload, dict) and "results" in payload:
            assert payload["results"] != []
            own = public_ids(b.organization.pk)
            stray = [str(item["id"]) for item in payload["results"] if "id" in item and str(item["id"]) not in own]
            assert stray == []


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=route_ids(OBJECT_ROUTES))
def test_foreign_missing_and_malformed_ids_answer_identically(db, route):
    a, b = populate("acme"), populate("bravo")
    client = b.clients[Role.OWNER]
    body = _body(_expect(route), a, b)

    def answer(**ids: Any) -> tuple[int, bytes, dict[str, str]]:
        response = call(client, route.method, route.path(**ids), body)
        headers = {k: v for k, v in response.headers.items() if k != "X-Request-ID"}
        return response.status_code, response.content, headers

    foreign = answer(**{p: object_id(a, p) for p in route.params})
    assert (foreign[0], foreign[1]) == (404, b'{"detail":"Not found.","code":"not_found","errors":[]}')
    variants = {
        "random": {p: uuid.uuid4() for p in route.params},
        "malformed": {p: "not-a-uuid" for p in route.params},
        "internal_pk": {p: getattr(a, PARAM_OBJECTS[p]).pk for p in route.params},
        "foreign_upper": {p: str(object_id(a, p)).upper() for p in route.params},
        "foreign_hex": {p: object_id(a, p).hex for p in route.params},
    }
    for name, ids in variants.items():
        assert answer(**ids) == foreign, name


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
@pytest.mark.parametrize(
    "template", sorted({r.template for r in OBJECT_ROUTES}), ids=sorted({r.template for r in OBJECT_ROUTES})
)
def test_implicit_methods_do_not_tell_foreign_from_missing(db, method, template):
    route = next(r for r in OBJECT_ROUTES if r.template == template)
    a, b = populate("acme"), populate("bravo")
    client = b.clients[Role.OWNER]
    answers = []
    for ids in ({p: object_id(a, p) for p in route.params}, {p: uuid.uuid4() for p in route.params}):
        response = call(client, method, route.path(**ids))
        answers.append(
            (response.status_code, response.content, {k: v for k, v in response.headers.items() if k != "X-Request-ID"})
        )
    assert answers[0] == answers[1]
    assert a.prefix.encode() not in answers[0][1].lower()


def test_token_ignores_an_organization_header_naming_another_tenant(db):
    a, b = populate("acme"), populate("bravo")
    client = b.clients[Role.OWNER]
    response = call(client, "GET", "/api/v1/organization", HTTP_X_ORGANIZATION=a.organization.slug)
    assert (response.status_code, response.json()["slug"]) == (200, "bravo-lab")
    response = call(client, "GET", "/api/v1/projects/", HTTP_X_ORGANIZATION=a.organization.slug)
    assert [p["name"] for p in response.json()["results"]] == ["bravo project", "bravo chat"]


def test_signed_in_user_naming_another_tenant_gets_the_missing_organization_answer(db):
    a, b = populate("acme"), populate("bravo")
    before = snapshot(a.organization.pk)
    client = APIClient()
    client.force_login(b.owner.user)
    foreign = call(client, "GET", "/api/v1/projects/", HTTP_X_ORGANIZATION=a.organization.slug)
    missing = call(client, "GET", "/api/v1/projects/", HTTP_X_ORGANIZATION="no-such-lab")
    assert (foreign.status_code, foreign.content) == (missing.status_code, missing.content)
    assert (foreign.status_code, foreign.json()) == (404, NOT_FOUND)
    own = call(client, "GET", "/api/v1/projects/", HTTP_X_ORGANIZATION=b.organization.slug)
    assert [p["name"] for p in own.json()["results"]] == ["bravo project", "bravo chat"]
    assert snapshot(a.organization.pk) == before


def test_staff_use_the_platform_routes_and_gain_nothing_inside_tenants(db):
    a = populate("acme")
    populate("bravo")
    staff = APIClient()
    staff.force_login(UserFactory(email="ops@platform.test", is_staff=True))

    response = call(staff, "GET", "/api/v1/platform/organizations/")
    assert response.status_code == 200
    assert [o["slug"] for o in response.json()["results"]] == ["acme-lab", "bravo-lab"]
    response = call(staff, "GET", f"/api/v1/platform/organizations/{a.organization.uuid}")
    assert (response.status_code, response.json()["slug"]) == (200, "acme-lab")
    response = call(staff, "GET", f"/api/v1/platform/organizations/{uuid.uuid4()}")
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    response = call(
        staff,
        "POST",
        "/api/v1/platform/organizations/",
        {"name": "Charlie Lab", "slug": "charlie-lab", "owner_email": "Boss@Charlie.test"},
    )
    assert response.status_code == 201, response.content
    assert (response.json()["organization"]["slug"], response.json()["owner_invitation"]["email"]) == (
        "charlie-lab",
        "boss@charlie.test",
    )
    assert response.json()["owner_invitation"]["role"] == "owner"

    # Platform staff is not a role inside any organization: no membership, no tenant data.
    before = snapshot(a.organization.pk)
    for path in ("/api/v1/projects/", "/api/v1/members/", "/api/v1/audit/events/", "/api/v1/organization"):
        response = call(staff, "GET", path, HTTP_X_ORGANIZATION=a.organization.slug)
        assert (response.status_code, response.json()) == (404, NOT_FOUND), path
    assert snapshot(a.organization.pk) == before


def test_invitation_secret_joins_only_its_own_organization(db):
    a, b = populate("acme"), populate("bravo")
    a_before, b_before = snapshot(a.organization.pk), snapshot(b.organization.pk)

    # A tenant named in the body is refused outright, not ignored.
    body = {"token": a.invitation_raw, "name": "Ada", "password": STRONG_PASSWORD, "organization": "bravo-lab"}
    response = call(APIClient(), "POST", "/api/v1/invitations/accept", body)
    assert (response.status_code, response.json()["errors"]) == (
        400,
        [{"field": "organization", "message": "Unknown field.", "code": "unknown_field"}],
    )
    assert (snapshot(a.organization.pk), snapshot(b.organization.pk)) == (a_before, b_before)

    # Signed in as someone else (B's owner), A's secret joins nobody to anything.
    response = call(b.clients[Role.OWNER], "POST", "/api/v1/invitations/accept", {"token": a.invitation_raw})
    assert response.status_code == 400
    assert (snapshot(a.organization.pk), snapshot(b.organization.pk)) == (a_before, b_before)

    body = {"token": a.invitation_raw, "name": "Ada", "password": STRONG_PASSWORD}
    response = call(APIClient(), "POST", "/api/v1/invitations/accept", body)
    assert response.status_code == 201, response.content
    assert (response.json()["organization"], response.json()["role"]) == ("acme-lab", "annotator")
    assert snapshot(b.organization.pk) == b_before
    with organization_context(b.organization.pk):
        assert list(Membership.objects.filter(user__email="acme-invitee@acme.test")) == []
    with organization_context(a.organization.pk):
        assert Membership.objects.get(user__email="acme-invitee@acme.test").role == "annotator"

    # Used once, the secret opens nothing any more, for anyone.
    response = call(APIClient(), "POST", "/api/v1/invitations/accept", body)
    assert (response.status_code, response.json()["detail"]) == (
        400,
        "This invitation link is invalid, expired or already used.",
    )


def test_member_of_one_tenant_accepting_anothers_invitation_changes_nothing_at_home(db):
    a, b = populate("acme"), populate("bravo", roles=(Role.OWNER, Role.ANNOTATOR))
    bob = b.members[Role.ANNOTATOR]
    with organization_context(a.organization.pk):
        issued = invitation_create(actor=a.owner, organization=a.organization, email=bob.user.email, role=Role.REVIEWER)
    b_before = snapshot(b.organization.pk)

    response = call(b.clients[Role.ANNOTATOR], "POST", "/api/v1/invitations/accept", {"token": issued.secret})

    assert (response.status_code, response.json()["organization"], response.json()["role"]) == (
        201,
        "acme-lab",
        "reviewer",
    )
    assert snapshot(b.organization.pk) == b_before
    # The B token still acts in B, with B's role, whatever else its user joined.
    response = call(b.clients[Role.ANNOTATOR], "GET", "/api/v1/me")
    assert (response.json()["organization"]["slug"], response.json()["role"]) == ("bravo-lab", "annotator")
    # A token is scoped to one organization: it never learns which others its user belongs to.
    assert [o["slug"] for o in response.json()["organizations"]] == ["bravo-lab"]
    assert Organization.objects.count() == 2
