"""Sign in, create a project, accept an invitation: the entry pages in a real browser."""

import re

import pytest
from django.core import mail
from django.core.signals import request_started

from core.context import organization_context
from projects.models import Project
from tenancy.models import Membership, Role
from tenancy.services.invitations import invitation_create
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

    # It has no label fields yet, so it opens on its schema page; the home page lists it.
    page.get_by_text("Project “Chest X-ray triage” created. Next, define its label fields").wait_for()
    assert page.url.endswith("/schema")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
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


def test_repeated_wrong_passwords_lock_sign_in_with_a_plain_page(live_server, page, screenshot, settings, axe):
    settings.AXES_FAILURE_LIMIT = 2
    _, membership = _owner()
    for guess in ("not the password", "still not it"):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Email").fill(membership.user.email)
        page.get_by_label("Password", exact=True).fill(guess)
        page.get_by_role("button", name="Sign in").click()

    page.get_by_role("heading", name="Too many attempts").wait_for()
    assert "Too many failed attempts. Signing in (and opening invitations) is paused for about 15 minutes" in (
        page.get_by_role("alert").inner_text()
    )
    screenshot(page, "sign-in-locked-out")
    axe(page)
    # The right password changes nothing while the lock holds.
    _sign_in(page, live_server.url, membership.user.email)
    page.get_by_role("heading", name="Too many attempts").wait_for()


@pytest.fixture
def urls_received():
    """Path, query and Referer of every request the live server handles (it runs in this process): what an access
    log would write down."""
    seen = []

    def record(sender, environ, **kwargs):
        path, query = environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")
        seen.append(f"{path}?{query} {environ.get('HTTP_REFERER', '')}")

    request_started.connect(record, dispatch_uid="tests.browser.urls_received")
    yield seen
    request_started.disconnect(dispatch_uid="tests.browser.urls_received")


def test_invited_annotator_joins_and_sees_codenames_only(live_server, page, screenshot, settings, axe, urls_received):
    settings.PUBLIC_URL = live_server.url
    organization, owner = _owner()
    with organization_context(organization.pk):
        ProjectFactory(
            organization=organization,
            name="Secret oncology model",
            codename="Heron",
            label_schema={"fields": [{"name": "finding", "type": "choices", "options": ["yes", "no"]}]},
        )
        issued = invitation_create(actor=owner, organization=organization, email="new@example.org", role=Role.ANNOTATOR)
    # The mailed link carries the secret after `#`: the browser asks for the page alone, and its script posts it.
    assert issued.accept_url == f"{live_server.url}/invitations/accept#{issued.secret}"
    page.goto(issued.accept_url)
    page.get_by_role("heading", name="Join Northwind Lab").wait_for()
    assert page.url == f"{live_server.url}/invitations/accept"  # out of the address bar and the history too
    screenshot(page, "accept-invitation")
    axe(page)
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
    # No URL the server was asked for (so no access log line), and no Referer, held the secret.
    assert any(url.startswith("/invitations/accept?") for url in urls_received)
    assert [url for url in urls_received if issued.secret in url] == []
    assert page.evaluate("sessionStorage.getItem('annotate.invitation')") is None
    # The refused form came back with status 400, which Chromium reports; nothing else went wrong.
    assert [e for e in page.console_errors if "status of 400" not in e] == []


def test_an_existing_account_signs_in_from_the_invitation_then_accepts(live_server, page, screenshot, settings):
    settings.PUBLIC_URL = live_server.url
    organization, owner = _owner()
    invitee = UserFactory(email="known@example.org")
    with organization_context(organization.pk):
        issued = invitation_create(
            actor=owner, organization=organization, email="known@example.org", role=Role.REVIEWER
        )

    # Not signed in, the page offers the same as to a new address; a password chosen here would be refused.
    page.goto(issued.accept_url)
    page.get_by_role("heading", name="Join Northwind Lab").wait_for()
    page.get_by_label("Your name").fill("Mallory")
    page.get_by_label("Choose a password").fill("the attacker's own choice 42")
    page.get_by_role("button", name="Accept invitation").click()
    page.get_by_text("known@example.org already has an account: sign in as it, then accept the invitation.").wait_for()

    # Signing in first brings the browser back to the invitation (the secret waited in this tab), one click joins.
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill("known@example.org")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("You are signed in as known@example.org.").wait_for()
    screenshot(page, "accept-invitation-signed-in")
    page.get_by_role("button", name="Accept invitation").click()

    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    with organization_context(organization.pk):
        assert Membership.objects.get(user=invitee).role == Role.REVIEWER
    assert page.evaluate("sessionStorage.getItem('annotate.invitation')") is None
    # The refused form came back with status 400, which Chromium reports; nothing else went wrong.
    assert [e for e in page.console_errors if "status of 400" not in e] == []


def test_task_text_is_never_html(live_server, page):
    organization, membership = _owner()
    with organization_context(organization.pk):
        ProjectFactory(organization=organization, name='<img src=x onerror="window.pwned=1">')
    _sign_in(page, live_server.url, membership.user.email)
    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    assert page.evaluate("window.pwned") is None
    assert page.get_by_text('<img src=x onerror="window.pwned=1">').count() == 1
