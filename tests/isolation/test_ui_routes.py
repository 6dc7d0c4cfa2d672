"""Every page of the web UI, from the live URLconf: who may open it, and another organization's ids are a 404
byte for byte like a missing id. A page nobody classified here fails the suite, as API routes do in the matrices.
"""

import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from annotation.exports.filters import ExportFilters
from annotation.exports.services import export_create
from annotation.services.claim import assignment_claim
from core.context import organization_context
from tenancy.models import Membership, Role
from tenancy.services.invitations import invitation_create
from tests.factories import (
    ApiTokenFactory,
    MembershipFactory,
    ModelConnectionFactory,
    OrganizationFactory,
    ProjectFactory,
    TaskFactory,
)
from tests.isolation.routes import url_patterns

SCHEMA = {"fields": [{"name": "label", "type": "choices", "options": ["yes", "no"]}]}
NOT_A_PAGE = ("api/", "static/")  # the API has its own matrices; static files are public by design
_PARAM = re.compile(r"<(?:\w+:)?(?P<name>\w+)>")

PUBLIC = "public"  # reached without a session (sign-in, invitations, signed downloads, health)
SIGNED_IN = "signed_in"  # a member of the session's organization, at least `role`


@dataclass(frozen=True)
class Page:
    access: str
    role: Role = Role.ANNOTATOR
    method: str = "GET"
    body: dict[str, str] | None = None  # what a POST sends; an empty form where None


UI_PAGES: dict[str, Page] = {
    "healthz": Page(PUBLIC),
    "login": Page(PUBLIC),
    "logout": Page(PUBLIC, method="POST"),
    "accept-invitation": Page(PUBLIC),
    "object-download": Page(PUBLIC),  # the token is the credential: signed, short-lived, tenant-bound
    "home": Page(SIGNED_IN),
    "choose-organization": Page(SIGNED_IN),
    "audit": Page(SIGNED_IN, Role.ADMIN),
    "audit-verify": Page(SIGNED_IN, Role.ADMIN, method="POST"),
    "project-label": Page(SIGNED_IN),
    "project-review": Page(SIGNED_IN, Role.REVIEWER),
    "review-queue": Page(SIGNED_IN, Role.REVIEWER),
    "project-overview": Page(SIGNED_IN, Role.MANAGER),
    "project-settings": Page(SIGNED_IN, Role.MANAGER),
    "project-schema": Page(SIGNED_IN, Role.MANAGER),
    "project-import": Page(SIGNED_IN, Role.MANAGER),
    "project-queues": Page(SIGNED_IN, Role.MANAGER),
    "project-assignment-revoke": Page(SIGNED_IN, Role.MANAGER, method="POST"),
    "project-tasks": Page(SIGNED_IN, Role.MANAGER),
    "project-task": Page(SIGNED_IN, Role.MANAGER),
    "project-tasks-bulk": Page(SIGNED_IN, Role.MANAGER, method="POST", body={"action": "requeue", "tasks": ""}),
    "project-quality": Page(SIGNED_IN, Role.MANAGER),
    "project-judge": Page(SIGNED_IN, Role.MANAGER, method="POST", body={"action": "cancel", "run": ""}),
    "project-dashboard": Page(SIGNED_IN, Role.MANAGER),
    "workforce": Page(SIGNED_IN, Role.ADMIN),
    "workforce-export": Page(SIGNED_IN, Role.ADMIN),
    "project-exports": Page(SIGNED_IN, Role.MANAGER),
    "project-export-download": Page(SIGNED_IN, Role.MANAGER),
    "members": Page(SIGNED_IN, Role.MANAGER),
    "member-update": Page(SIGNED_IN, Role.ADMIN, method="POST", body={"action": "pause"}),
    "invitation-revoke": Page(SIGNED_IN, Role.ADMIN, method="POST"),
    "tokens": Page(SIGNED_IN, Role.ADMIN),
    "token-revoke": Page(SIGNED_IN, Role.ADMIN, method="POST"),
    "organization-settings": Page(SIGNED_IN, Role.ADMIN),
    "model-connections": Page(SIGNED_IN, Role.MANAGER),
    "model-connection-change": Page(SIGNED_IN, Role.ADMIN, method="POST", body={"action": "disable"}),
    "project-model-budget": Page(SIGNED_IN, Role.ADMIN, method="POST", body={"token_limit": "", "max_concurrent": "8"}),
    "project-model-calls": Page(SIGNED_IN, Role.MANAGER),
}
ROLES = [Role.ANNOTATOR, Role.REVIEWER, Role.MANAGER, Role.ADMIN, Role.OWNER]


def ui_pages() -> list[tuple[str, str]]:
    """(name, path template) of every page outside the API."""
    pages = []
    for raw, pattern in url_patterns():
        name = pattern.name
        if raw.startswith(NOT_A_PAGE) or raw.startswith("^"):
            continue
        assert name, f"/{raw} has no name; every page needs one to be classified"
        pages.append((name, "/" + raw))
    return sorted(pages)


PAGES = ui_pages()


def test_every_page_is_classified():
    unclassified = sorted({name for name, _ in PAGES} - set(UI_PAGES))
    assert not unclassified, f"classify these pages in UI_PAGES: {unclassified}"
    stale = sorted(set(UI_PAGES) - {name for name, _ in PAGES})
    assert not stale, f"UI_PAGES names pages that no longer exist: {stale}"


def _objects(organization: Any, member: Membership) -> dict[str, str]:
    """An object of `organization` for each parameter a page's path may name."""
    with organization_context(organization.pk):
        project = ProjectFactory(label_schema=SCHEMA, review_mode="all")
        task = TaskFactory(project=project, data={"text": "t"})
        manager = MembershipFactory(organization=organization, role=Role.MANAGER)
        assignment = assignment_claim(actor=member, project=project).assignment
        assert assignment is not None
        export = export_create(actor=manager, project=project, export_format="jsonl", filters=ExportFilters())
        invitation = invitation_create(
            actor=None, organization=organization, email="x@lab.example", role=Role.ANNOTATOR
        )
        token = ApiTokenFactory(membership=member, role=Role.ANNOTATOR)
        connection = ModelConnectionFactory()
    return {
        "project_id": str(project.uuid),
        "task_id": str(task.uuid),
        "member_id": str(member.uuid),
        "assignment_id": str(assignment.uuid),
        "export_id": str(export.uuid),
        "invitation_id": str(invitation.invitation.uuid),
        "token_id": str(token.uuid),
        "model_connection_id": str(connection.uuid),
    }


def _path(template: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values[m.group("name")], template)


def _client(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def _object_pages() -> list[tuple[str, str]]:
    return [(n, t) for n, t in PAGES if _PARAM.search(t) and UI_PAGES.get(n, Page(PUBLIC)).access == SIGNED_IN]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template"), _object_pages(), ids=[n for n, _ in _object_pages()])
def test_another_organizations_ids_are_not_found(name, template):
    victim, caller = OrganizationFactory(), OrganizationFactory()
    with organization_context(victim.pk):
        victim_member = MembershipFactory(organization=victim, role=Role.ANNOTATOR)
    with organization_context(caller.pk):
        owner = MembershipFactory(organization=caller, role=Role.OWNER)
    theirs = _objects(victim, victim_member)
    client = _client(owner)
    method, body = UI_PAGES[name].method.lower(), UI_PAGES[name].body or {}
    foreign = getattr(client, method)(_path(template, theirs), body)
    missing = getattr(client, method)(_path(template, {k: str(uuid.uuid4()) for k in theirs}), body)
    assert foreign.status_code == 404, f"{name}: another organization's id answered {foreign.status_code}"
    assert foreign.content == missing.content


def _signed_in_pages() -> list[tuple[str, str]]:
    return [(n, t) for n, t in PAGES if UI_PAGES.get(n, Page(PUBLIC)).access == SIGNED_IN]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "template"), _signed_in_pages(), ids=[n for n, _ in _signed_in_pages()])
def test_each_page_needs_its_role(name, template):
    page = UI_PAGES[name]
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        members = {role: MembershipFactory(organization=organization, role=role) for role in ROLES}
    values = _objects(organization, members[Role.ANNOTATOR])
    path = _path(template, values)
    visitor = getattr(Client(), page.method.lower())(path)
    assert visitor.status_code == 302, f"{name}: a visitor must be sent to sign in"
    for role in ROLES:
        response = getattr(_client(members[role]), page.method.lower())(path, page.body or {})
        allowed = role in ROLES[ROLES.index(page.role) :]
        if allowed:
            assert response.status_code in (200, 302), f"{name} as {role}: {response.status_code}"
        else:
            assert response.status_code == 403, f"{name} as {role}: {response.status_code}, expected 403"
