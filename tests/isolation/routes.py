"""Shared by the isolation suites: the API routes as the URLconf declares them, a populated tenant, snapshots.

The route list is generated, never written by hand, so a new endpoint shows up in every matrix at once and fails
there until someone states what it must do.
"""

import ipaddress
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from asgiref.sync import async_to_sync
from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.db import connection, transaction
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from audit.services.sealing import audit_seal
from audit.services.streaming import stream_cursor_lock
from core.audit.record import audit_record
from core.context import organization_context
from core.scoping import TenantManager, TenantModel, TenantOwned
from projects.models import Task
from projects.services.projects import project_create
from projects.services.tasks import task_bulk_create
from tenancy.models import Membership, Organization, Role, User
from tenancy.services.invitations import invitation_create
from tenancy.services.tokens import api_token_create
from tests.factories import ApiTokenFactory, MembershipFactory, OrganizationFactory, UserFactory
from tests.isolation.chat_world import populate_chat
from tests.isolation.exports_world import media_data, populate_exports, populate_media
from tests.isolation.imports_world import populate_imports
from tests.isolation.judge_world import populate_judge
from tests.isolation.llm_world import populate_llm
from tests.isolation.quality_world import populate_quality
from tests.isolation.routing_world import populate_routing
from tests.isolation.suggestions_world import populate_suggestions

API_PREFIX = "api/v1/"
# Machine-readable API description and its viewer: no tenant data, no object ids.
EXCLUDED_PREFIXES = ("api/v1/schema/", "api/v1/docs/")
HANDLER_METHODS = ("get", "post", "put", "patch", "delete")
MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Path parameter -> attribute of a populated tenant (see `populate`) holding the object the id names.
# A route with a parameter missing here fails every matrix: say which object it addresses first.
PARAM_OBJECTS = {
    "organization_id": "organization",
    "member_id": "member",
    "invitation_id": "invitation",
    "token_id": "token",
    "project_id": "project",
    "task_id": "task",
    # The caller's own lease where a route acts only on its holder's (see `assignments` in routing_world).
    "assignment_id": "assignment",
    "skill_id": "skill",
    "exclusion_id": "exclusion",
    # An annotation waiting for review (see quality_world).
    "annotation_id": "pending_annotation",
    # A finished export job with its file (see exports_world).
    "export_id": "export",
    # A pending import job, and an S3 location of the organization (see imports_world).
    "import_id": "import_job",
    "connection_id": "storage_connection",
    # A model connection no call was made through, so it may be changed and deleted (see llm_world).
    "model_connection_id": "model_connection",
    # A paused judge run with one verdict, so it may be resumed or cancelled (see judge_world).
    "judge_run_id": "judge_run",
    # A suggestion job stopped by its budget, so it may be resumed (see suggestions_world).
    "suggestion_job_id": "suggestion_job",
    # A lease on the project with a chat field, the field's name, and a finished reply in the caller's conversation
    # (see chat_world).
    "chat_assignment_id": "chat_assignment",
    "field_name": "chat_field",
    "message_id": "chat_message",
    "conversation_id": "conversation",
}

NOT_FOUND = {"detail": "Not found.", "code": "not_found", "errors": []}
NOT_AUTHENTICATED = {
    "detail": "Authentication credentials were not provided.",
    "code": "not_authenticated",
    "errors": [],
}
NOT_STAFF = {"detail": "You do not have permission to perform this action.", "code": "permission_denied", "errors": []}

_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Route:
    """One URL pattern under /api/v1/ and one HTTP method its view implements."""

    method: str
    template: str  # "/api/v1/projects/{project_id}"
    params: tuple[str, ...]
    view: type

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def mutating(self) -> bool:
        return self.method in MUTATING_METHODS

    def path(self, **values: Any) -> str:
        return self.template.format(**{name: str(value) for name, value in values.items()})


def url_patterns(patterns: list[Any] | None = None, prefix: str = "") -> list[tuple[str, URLPattern]]:
    """Every (full path pattern, URLPattern) of the live URLconf, includes flattened."""
    found: list[tuple[str, URLPattern]] = []
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            found.extend(url_patterns(pattern.url_patterns, prefix + str(pattern.pattern)))
        elif isinstance(pattern, URLPattern):
            found.append((prefix + str(pattern.pattern), pattern))
    return found


def api_routes() -> list[Route]:
    """Every route and implemented method under /api/v1/, from the live URLconf."""
    routes: list[Route] = []
    for raw, pattern in url_patterns():
        if not raw.startswith(API_PREFIX) or raw.startswith(EXCLUDED_PREFIXES):
            continue
        callback = pattern.callback
        view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        if view is None:
            raise AssertionError(f"/{raw} is served by a function view; the matrices cannot tell its methods")
        if any(c in raw for c in "^$()[]?*+\\"):
            raise AssertionError(f"/{raw} is a regex route; write it with path() so its parameters are named")
        params = tuple(m.group("name") for m in _PARAM.finditer(raw))
        template = "/" + _PARAM.sub(lambda m: "{" + m.group("name") + "}", raw)
        methods = [m.upper() for m in HANDLER_METHODS if callable(getattr(view, m, None))]
        if not methods:
            raise AssertionError(f"{template} implements no HTTP method")
        routes.extend(Route(method=m, template=template, params=params, view=view) for m in methods)
    return sorted(routes, key=lambda r: (r.template, r.method))


ROUTES = api_routes()


def route_ids(routes: list[Route]) -> list[str]:
    return [r.key for r in routes]


def unmapped_params(route: Route) -> list[str]:
    return [p for p in route.params if p not in PARAM_OBJECTS]


def object_id(world: SimpleNamespace, param: str) -> Any:
    """The public id of the object `param` names in a populated tenant; fails for a parameter nobody mapped."""
    if param not in PARAM_OBJECTS:
        raise AssertionError(f"path parameter {param!r} has no entry in PARAM_OBJECTS")
    return getattr(world, PARAM_OBJECTS[param]).uuid


def path_for(route: Route, world: SimpleNamespace, **overrides: Any) -> str:
    values = {p: overrides[p] if p in overrides else object_id(world, p) for p in route.params}
    return route.path(**values)


# --- requests ---


def fresh_ip() -> str:
    """A random client address in 10/8, so per-address throttles (invitation accept) never mix tests up."""
    return str(ipaddress.IPv4Address(0x0A000000 + secrets.randbelow(1 << 24)))


def call(client: APIClient, method: str, path: str, body: Any = None, **extra: Any) -> Any:
    """One API request as JSON (multipart when the body holds a file), from an address of its own."""
    extra.setdefault("REMOTE_ADDR", fresh_ip())
    handler = getattr(client, method.lower())
    has_file = isinstance(body, dict) and any(isinstance(v, File) for v in body.values())
    if has_file:
        for value in body.values():
            if isinstance(value, File):
                value.seek(0)  # the same body may be sent more than once
    body_format = "multipart" if has_file else "json"
    response = handler(path, **extra) if body is None else handler(path, body, format=body_format, **extra)
    if getattr(response, "streaming", False):
        # Read a streamed body (audit export) now, while the test's tenant context and data are as the call saw
        # them, and let the matrices inspect `.content` like any other response's.
        materialized = HttpResponse(streamed_body(response), status=response.status_code)
        for header, value in response.items():
            materialized[header] = value
        lines = materialized.content.decode().splitlines()
        # JSON Lines read as the list of their objects.
        materialized.json = lambda: [json.loads(line) for line in lines]  # type: ignore[attr-defined]
        return materialized
    return response


def streamed_body(response: Any) -> bytes:
    """The whole body of a streamed response; an async one (live chat's events) is read on this thread's loop, so
    the view's database work runs on the test's own connection."""
    if not response.is_async:
        return b"".join(response.streaming_content)

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)()


def bearer_client(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


# --- a populated tenant ---

STRONG_PASSWORD = "violet-harbour-lantern-92"


def member_with_token(organization: Organization, role: Role, email: str) -> tuple[Membership, Any, APIClient]:
    """A member of `organization` with `role`, a token of that role, and a client using it (caller in context)."""
    membership = MembershipFactory(organization=organization, role=role, user=UserFactory(email=email))
    token = ApiTokenFactory(membership=membership, role=role, name=f"{email} cli")
    return membership, token, bearer_client(token.raw)


def populate(prefix: str, *, roles: tuple[Role, ...] = (Role.OWNER,)) -> SimpleNamespace:
    """A tenant with one object of every kind, each carrying `prefix` in its visible fields.

    Members with `roles` get a client each (`clients[role]`); `member` is a separate annotator the routes
    address, `token` that annotator's token, `invitation` a pending one whose secret is `invitation_raw`.
    """
    organization = OrganizationFactory(name=f"{prefix} Lab", slug=f"{prefix}-lab")
    world = SimpleNamespace(prefix=prefix, organization=organization, members={}, tokens={}, clients={})
    with organization_context(organization.pk):
        for role in roles:
            membership, token, client = member_with_token(organization, role, f"{prefix}-{role.value}@{prefix}.test")
            world.members[role], world.tokens[role], world.clients[role] = membership, token, client
        owner = world.members.get(Role.OWNER) or MembershipFactory(
            organization=organization, role=Role.OWNER, user=UserFactory(email=f"{prefix}-owner@{prefix}.test")
        )
        world.owner = owner
        world.member = MembershipFactory(
            organization=organization, role=Role.ANNOTATOR, user=UserFactory(email=f"{prefix}-target@{prefix}.test")
        )
        world.token = api_token_create(actor=world.member, name=f"{prefix} target token").token
        world.project = project_create(
            actor=owner, name=f"{prefix} project", codename=f"{prefix} codename", guidelines=f"{prefix} guidelines"
        )
        populate_media(world)  # before any task: every task's data names the file (exports_world)
        task_bulk_create(
            actor=owner,
            project=world.project,
            items=[{"external_id": f"{prefix}-item", "data": {"text": f"{prefix} text", **media_data(world)}}],
        )
        world.task = Task.objects.get(project=world.project, external_id=f"{prefix}-item")
        # A read of the task list, recorded as the tasks route records it: the audit subject table then holds both
        # kinds of row, the targets of the records above and a task that a list named.
        audit_record(
            action="data_access.task_list",
            target=world.project,
            metadata={"count": 1, "task_ids": [str(world.task.uuid)]},
        )
        issued = invitation_create(
            actor=owner, organization=organization, email=f"{prefix}-invitee@{prefix}.test", role=Role.ANNOTATOR
        )
        world.invitation = issued.invitation
        world.invitation_raw = issued.secret
        populate_routing(world)
        populate_quality(world)
        populate_exports(world)
        populate_imports(world)
        populate_llm(world)
        populate_judge(world)
        populate_suggestions(world)
        populate_chat(world)
        # Seal what is there so far, so the seal and checkpoint tables hold rows of this tenant too.
        audit_seal()
        # A SIEM delivery cursor, so the stream cursor table holds a row of this tenant too.
        stream_cursor_lock(organization.pk, "project")
    return world


def tenant_models() -> list[type[TenantOwned]]:
    return sorted(
        (m for m in apps.get_models() if issubclass(m, TenantOwned)),
        key=lambda m: m._meta.label_lower,
    )


def snapshot(organization_id: int) -> dict[str, Any]:
    """Every row an organization owns, as full dicts, plus its own row and its members' user rows."""
    rows: dict[str, Any] = {}
    with organization_context(organization_id):
        for model in tenant_models():
            # Reading one tenant's rows in full for comparison; the row policy still admits only that tenant.
            queryset = model.objects.unscoped().filter(organization_id=organization_id).order_by("pk")
            rows[model._meta.label_lower] = list(queryset.values())
        user_ids = Membership.objects.values_list("user_id", flat=True)
        rows["tenancy.user"] = list(User.objects.filter(pk__in=list(user_ids)).order_by("pk").values())
    rows["tenancy.organization"] = list(Organization.objects.filter(pk=organization_id).values())
    return rows


def public_ids(organization_id: int) -> set[str]:
    """The public ids of every object an organization owns."""
    ids: set[str] = {str(Organization.objects.get(pk=organization_id).uuid)}
    with organization_context(organization_id):
        for model in tenant_models():
            if issubclass(model, TenantModel):
                ids.update(str(u) for u in model.objects.values_list("uuid", flat=True))
        user_ids = Membership.objects.values_list("user_id", flat=True)
        ids.update(str(u) for u in User.objects.filter(pk__in=list(user_ids)).values_list("uuid", flat=True))
    return ids


# --- one isolation layer at a time ---

LAYERS = ("app_and_db", "app_only", "db_only")


@contextmanager
def only_layer(layer: str, monkeypatch: Any) -> Iterator[None]:
    """Take one layer of tenant isolation away, so each is shown to hold on its own.

    app_only: the requests run as the table owner, whom row policies do not bind in the suite (a superuser).
    db_only: the fail-closed manager stops filtering, leaving the row policies alone at work.
    """
    if layer == "app_and_db":
        yield
    elif layer == "app_only":
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"SET ROLE {connection.ops.quote_name(settings.DATABASE_APP_ROLE)}")
    elif layer == "db_only":
        with monkeypatch.context() as patch:
            patch.setattr(TenantManager, "get_queryset", lambda self: self.unscoped())
            yield
    else:
        raise AssertionError(layer)


@contextmanager
def as_table_owner() -> Iterator[None]:
    """Act as the role that owns the tables (the migrating login) inside a savepoint, then the app role again."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")
            yield
            with connection.cursor() as cursor:
                cursor.execute(f"SET ROLE {connection.ops.quote_name(settings.DATABASE_APP_ROLE)}")
    finally:
        # A rolled-back savepoint also undoes RESET ROLE; either way the suite must be the app role again.
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (settings.DATABASE_APP_ROLE,)
