"""The audit trail page in a real browser: search, pages, and verification before and after tampering."""

import re
import uuid

import pytest
from django.db import connection

from audit import pages
from audit.services.sealing import audit_seal
from core.audit.context import ActorContext, actor_context
from core.audit.record import audit_record
from core.context import organization_context
from projects.services.projects import project_create
from tenancy.models import Role
from tests.browser.checks import page_check
from tests.factories import MembershipFactory, OrganizationFactory, ProjectFactory, TaskFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
PROJECTS = 14
GONE = uuid.UUID("0b9f3c1e-5d2a-4c7b-9e61-3f0a8d4b2c17")


def _lab_with_history():
    """An organization whose owner created PROJECTS projects (sealed into one checkpoint), and an admin."""
    organization = OrganizationFactory(name="Northwind Lab")
    with organization_context(organization.pk):
        owner = MembershipFactory(role=Role.OWNER, user=UserFactory(email="olivia@northwind.example"))
        admin = MembershipFactory(role=Role.ADMIN, user=UserFactory(email="adam@northwind.example"))
        actor = ActorContext(
            user_id=owner.user_id, user_label=owner.user.email, ip="203.0.113.24", request_id="a1b2c3d4e5f60718"
        )
        with actor_context(actor):
            for number in range(1, PROJECTS + 1):
                project_create(
                    actor=owner,
                    name=f"Radiology batch {number:02d}",
                    codename=f"Heron-{number}",
                    overlap=3,
                    guidelines="Mark every <finding>.",
                )
        audit_seal()
    return organization, admin


def _sign_in(page, base_url, email):
    page.goto(f"{base_url}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Projects", exact=True).wait_for()


def _event_rows(page):
    return page.locator("table.table-audit tbody tr")


def _cells(row) -> list[str]:
    return [text.strip() for text in row.locator("td").all_inner_texts()]


def _tamper(organization_id: int, sequence: int) -> None:
    """Rewrite one committed, sealed event as the table owner, past the append-only triggers."""
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE audit_auditevent SET actor_label = 'mallory@elsewhere.example' "
            "WHERE organization_id = %s AND category = 'project' AND sequence = %s",
            [organization_id, sequence],
        )
        cursor.execute("SET session_replication_role = origin")
        cursor.execute("SET ROLE annotate_app")


def test_admin_searches_pages_and_verifies_the_trail(live_server, page, screenshot, monkeypatch):
    monkeypatch.setattr(pages, "PAGE_SIZE", 10)
    organization, admin = _lab_with_history()
    _sign_in(page, live_server.url, admin.user.email)

    page.get_by_role("link", name="Audit trail").click()
    page.get_by_role("heading", name="Audit trail", exact=True).wait_for()
    # The admin's own sign-in is the newest event.
    assert _cells(_event_rows(page).first)[1:4] == [
        "adam@northwind.example",
        "auth.login\n#1",
        "success",
    ]
    _event_rows(page).nth(1).locator("summary").click()
    assert _event_rows(page).nth(1).locator("dl").first.inner_text().splitlines()[:2] == [
        "codename",
        'null → "Heron-14"',
    ]
    # At 1280x800 the table fits: nothing scrolls sideways, even with details open.
    assert page.evaluate("(s => s.scrollWidth <= s.clientWidth)(document.querySelector('.table-scroll'))")
    screenshot(page, "audit-page")

    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "id_q"
    page.get_by_label("Search events").fill("action:project.*")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"q=action%3Aproject\.\*"))
    assert _event_rows(page).count() == 10
    assert "project.create\n#14" in _event_rows(page).first.inner_text()

    page.get_by_role("link", name="Older →").click()
    page.wait_for_url(re.compile(r"before=\d+"))
    assert _event_rows(page).count() == PROJECTS - 10
    assert "project.create\n#1" in _event_rows(page).last.inner_text()
    page.get_by_role("link", name="← Newer").click()
    page.wait_for_url(re.compile(r"after=\d+"))
    assert "project.create\n#14" in _event_rows(page).first.inner_text()

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    lines = download.value.path().read_text().splitlines()
    assert len(lines) == 1 + PROJECTS
    assert all(",project.create," in line for line in lines[1:])

    page.get_by_role("button", name="Verify trail").click()
    result = page.locator("#verify-result")
    result.wait_for()
    # Not yet sealed: the admin's sign-in and the export just downloaded, which is itself on the trail.
    assert result.inner_text() == f"Verified: {PROJECTS} events in 1 checkpoint, 2 not yet sealed."
    assert result.get_attribute("role") == "status"
    # The search survives the verification, and the verification is on the trail it verified.
    assert page.get_by_label("Search events").input_value() == "action:project.*"
    screenshot(page, "audit-verify-ok")

    _tamper(organization.pk, sequence=3)
    page.get_by_role("button", name="Verify trail").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert [line for line in alert.inner_text().splitlines() if line] == [
        "Verification failed at event project #3 ALTERED",
        "Event project #3 does not match its seal.",
    ]
    page.get_by_label("Search events").fill("action:audit.*")
    screenshot(page, "audit-verify-failed")
    page.get_by_role("button", name="Search", exact=True).click()
    page.wait_for_url(re.compile(r"q=action%3Aaudit\.\*"))
    assert [(_cells(row)[2], _cells(row)[3]) for row in _event_rows(page).all()] == [
        ("audit.verify\n#3", "failure"),
        ("audit.verify\n#2", "success"),
        ("audit.export\n#1", "success"),
    ]
    assert page.console_errors == []


def test_a_manager_is_refused(live_server, page):
    organization = OrganizationFactory(name="Northwind Lab")
    with organization_context(organization.pk):
        manager = MembershipFactory(role=Role.MANAGER, user=UserFactory(email="max@northwind.example"))
    _sign_in(page, live_server.url, manager.user.email)
    assert page.get_by_role("link", name="Audit trail").count() == 0

    response = page.goto(f"{live_server.url}/audit/")

    assert response.status == 403
    page.get_by_role("heading", name="Not allowed").wait_for()
    # The 403 response itself is logged by Chromium as a failed resource; nothing else may be.
    assert [e for e in page.console_errors if "403" not in e] == []


def test_targets_are_named_and_the_table_fits_at_1280(live_server, page, axe, screenshot):
    # Given events about a project with a long name, a task, a member, and an id that is gone
    organization = OrganizationFactory(name="Northwind Lab")
    with organization_context(organization.pk):
        admin = MembershipFactory(role=Role.ADMIN, user=UserFactory(name="Ada Admin", email="adam@northwind.example"))
        grace = MembershipFactory(
            role=Role.ANNOTATOR, user=UserFactory(name="Grace Hopper", email="grace.hopper@northwind.example")
        )
        project = ProjectFactory(name="Chest X-ray triage, second reading, hospital network north-west 2026")
        task = TaskFactory(project=project, external_id="patient-000172/series-04/image-0009")
        with actor_context(ActorContext(user_id=admin.user_id, user_label=admin.user.email, ip="203.0.113.24")):
            audit_record(action="project.update", target=project, changes={"guidelines": ["x" * 80, "y" * 300]})
            audit_record(action="member.pause", target=grace, metadata={"reason": "On leave until the new year."})
            audit_record(action="data_access.task_view", target=task)
            audit_record(action="project.delete", target_type="projects.project", target_id=str(GONE))

    # When the admin opens the trail and unfolds the longest details
    _sign_in(page, live_server.url, admin.user.email)
    page.goto(f"{live_server.url}/audit/")
    page.get_by_role("heading", name="Audit trail", exact=True).wait_for()
    _event_rows(page).nth(4).locator("summary").click()

    # Then each target is named by what people call it (its id shortened when it is gone), and says what it is
    long_name = "Chest X-ray triage, second reading, hospital network north-west 2026"
    assert page.locator("td.cell-target a.target-name").all_inner_texts() == [
        "Ada Admin <adam@northwind.example>",
        f"{str(GONE)[:12]}…",
        f"patient-000172/series-04/image-0009 in {long_name}",
        "Grace Hopper <grace.hopper@northwind.example>",
        long_name,
    ]
    assert page.locator("td.cell-target .target-noun").all_inner_texts() == [
        "user",
        "project",
        "task",
        "member",
        "project",
    ]
    # It links to its own events and keeps its id at hand
    task_link = page.get_by_role("link", name=f"patient-000172/series-04/image-0009 in {long_name}", exact=True)
    assert task_link.get_attribute("title") == f"Events about projects.task {task.uuid}"
    assert task_link.get_attribute("href") == f"/audit/?target={task.uuid}"
    assert page.locator("button.copy-id:visible").count() == 5
    # Nothing scrolls sideways: not the page, not the table's own box
    assert page.evaluate("(s => s.scrollWidth <= s.clientWidth)(document.querySelector('.table-scroll'))")
    page_check(page, axe, screenshot, "audit-targets")

    task_link.click()
    page.wait_for_url(re.compile(rf"target={task.uuid}"))
    assert [_cells(row)[2] for row in _event_rows(page).all()] == ["data_access.task_view\n#1"]
