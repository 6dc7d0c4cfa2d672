"""Sign in, create a project, accept an invitation: the entry pages in a real browser."""

import re

import pytest
from django.core import mail

from projects.models import Project
from tenancy import services
from tenancy.context import organization_context
from tenancy.models import Membership, Role
from tests.factories import MembershipFactory, OrganizationFactory, ProjectFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def _owner():
    organization = OrganizationFactory(name="Northwind Lab")
    with organization_context(organization.pk):
        membership = MembershipFactory(organization=organization, role=Role.OWNER, user=UserFactory())
    return organization, membership


def _sign_in(page, base_url, email):
    page.goto(f"{base_url}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_owner_signs_in_and_creates_a_project(live_server, page, screenshot):
    organization, membership = _owner()
    page.goto(f"{live_server.url}/login/")
    screenshot(page, "login")

    _sign_in(page, live_server.url, membership.user.email)
    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    page.get_by_label("Name", exact=True).fill("Chest X-ray triage")
    page.get_by_label("Codename").fill("Falcon")
    page.get_by_label("Overlap").fill("3")
    page.get_by_role("button", name="Create project").click()

    page.get_by_text("Project “Chest X-ray triage” created.").wait_for()
    row = page.get_by_role("row", name=re.compile("Chest X-ray triage"))
    assert row.inner_text().split("\t")[:3] == ["Chest X-ray triage", "Falcon", "3"]
    screenshot(page, "home-owner")
    with organization_context(organization.pk):
        project = Project.objects.get()
    assert (project.name, project.codename, project.overlap) == ("Chest X-ray triage", "Falcon", 3)
    assert page.console_errors == []


def test_wrong_password_is_refused_and_recorded(live_server, page, screenshot):
    organization, membership = _owner()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill(membership.user.email)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("alert").wait_for()
    assert "correct email and password" in page.get_by_role("alert").inner_text()
    screenshot(page, "login-failed")
    from audit.models import AuditEvent

    with organization_context(organization.pk):
        assert list(AuditEvent.objects.values_list("action", "outcome")) == [("auth.login_failed", "denied")]


def test_invited_annotator_joins_and_sees_codenames_only(live_server, page, screenshot, settings):
    settings.PUBLIC_URL = live_server.url
    organization, owner = _owner()
    with organization_context(organization.pk):
        ProjectFactory(
            organization=organization,
            name="Secret oncology model",
            codename="Heron",
            label_schema={"fields": [{"name": "finding", "type": "choices", "options": ["yes", "no"]}]},
        )
        issued = services.invitation_create(
            actor=owner, organization=organization, email="new@example.org", role=Role.ANNOTATOR
        )
    page.goto(issued.accept_url)
    page.get_by_role("heading", name="Join Northwind Lab").wait_for()
    screenshot(page, "accept-invitation")
    page.get_by_label("Your name").fill("Dr. New Annotator")
    page.get_by_label("Choose a password").fill("short")
    page.get_by_role("button", name="Accept invitation").click()
    page.get_by_text("This password is too short").wait_for()

    page.get_by_label("Your name").fill("Dr. New Annotator")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_role("button", name="Accept invitation").click()

    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    table = page.get_by_role("table").inner_text()
    assert "Heron" in table
    assert "Secret oncology model" not in page.content()
    assert page.get_by_role("button", name="Create project").count() == 0
    screenshot(page, "home-invited-annotator")
    with organization_context(organization.pk):
        assert Membership.objects.get(user__email="new@example.org").role == Role.ANNOTATOR
    # The invitation mail went out once, after the invitation's transaction committed, with the same link.
    assert [(m.to, issued.accept_url in m.body) for m in mail.outbox] == [(["new@example.org"], True)]


def test_task_text_is_never_html(live_server, page):
    organization, membership = _owner()
    with organization_context(organization.pk):
        ProjectFactory(organization=organization, name='<img src=x onerror="window.pwned=1">')
    _sign_in(page, live_server.url, membership.user.email)
    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    assert page.evaluate("window.pwned") is None
    assert page.get_by_text('<img src=x onerror="window.pwned=1">').count() == 1
