"""An admin's pages in a real browser: invite a member (with the keyboard alone), change a role and pause someone;
create a token whose secret shows once, then revoke it; rename the organization. In the embedded default (mail
written to files), copy a pending invitation's link from the members page."""

import hashlib
import re

import pytest

from core.context import organization_context
from tenancy.models import ApiToken, Invitation, Role
from tests.browser.checks import PASSWORD, member, page_check
from tests.factories import OrganizationFactory, SkillFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_manages_members_tokens_and_the_organization(live_server, page, screenshot, axe, sign_in):
    page.set_default_timeout(10_000)
    organization = OrganizationFactory(name="Northwind Lab")
    admin = member(organization, Role.ADMIN, "adam@northwind.example")
    member(organization, Role.OWNER, "olivia@northwind.example")
    annotator = member(organization, Role.ANNOTATOR, "ana@northwind.example")
    with organization_context(organization.pk):
        SkillFactory(name="radiology")
    sign_in(page, live_server.url, admin.user.email, PASSWORD)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    page.get_by_role("heading", level=1, name="Members").wait_for()
    # The owner's row offers no actions to an admin; the annotator's does.
    owner_row = page.get_by_role("row", name=re.compile("olivia@"))
    assert owner_row.get_by_role("button").count() == 0

    # Invite with the keyboard alone: type, Tab to the role, pick it with the arrows, Tab to the button, Enter.
    page.get_by_label("Email", exact=True).focus()
    page.keyboard.type("nora@northwind.example")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "role"
    page.keyboard.press("ArrowUp")  # annotator → reviewer
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Send invitation"
    page.keyboard.press("Enter")
    page.get_by_text("Invitation sent to nora@northwind.example.").wait_for()
    pending = page.get_by_role("region", name="Pending invitations")
    assert re.match(r"nora@northwind\.example\s+reviewer", pending.locator("tbody tr").inner_text())
    # Mail really leaves here (the suite's backend stands for SMTP): the link goes by mail only, never on the page.
    assert pending.get_by_role("button", name=re.compile("Copy link")).count() == 0
    assert "/invitations/accept#" not in page.content()

    # Change the annotator's role, record a skill level, pause them.
    page.get_by_label("Role of ana@northwind.example").select_option("reviewer")
    page.get_by_role("button", name="Change role of ana@northwind.example").click()
    page.get_by_text("ana@northwind.example is now reviewer.").wait_for()
    page.get_by_label("Member", exact=True).select_option(label="ana@northwind.example")
    page.get_by_label("Skill", exact=True).select_option(label="radiology")
    page.get_by_label("Level").fill("4")
    page.get_by_role("button", name="Record level").click()
    page.get_by_text("ana@northwind.example: radiology level 4.").wait_for()
    page.get_by_role("button", name="Pause ana@northwind.example").click()
    page.get_by_text("ana@northwind.example is paused").wait_for()
    row = page.get_by_role("row", name=re.compile("ana@"))
    assert re.search(r"radiology 4\s+paused", row.inner_text())
    page_check(page, axe, screenshot, "admin-members")
    with organization_context(organization.pk):
        annotator.refresh_from_db()
        assert (annotator.role, annotator.paused_at is not None) == ("reviewer", True)
        assert Invitation.objects.get().email == "nora@northwind.example"

    # Tokens: the secret is shown once, then the token is listed by its prefix only, and can be revoked.
    page.get_by_role("link", name="API tokens").first.click()
    page.get_by_label("Name", exact=True).fill("nightly export")
    page.get_by_label("Role", exact=True).select_option("manager")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("Secret of nightly export").input_value()
    with organization_context(organization.pk):
        token = ApiToken.objects.get()
    assert f"_{token.prefix}_" in secret
    assert len(secret) > 40
    page_check(page, axe, screenshot, "admin-tokens")
    page.goto(f"{live_server.url}/tokens/")
    assert secret not in page.content()
    page.get_by_role("button", name="Revoke nightly export").click()
    page.get_by_text(f"Token {token.prefix}… (nightly export) revoked.").wait_for()
    assert "revoked" in page.get_by_role("row", name=re.compile("nightly export")).inner_text()

    # The organization's name.
    page.get_by_role("link", name="Organization").first.click()
    page.get_by_label("Name", exact=True).fill("Southwind Lab")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Organization settings saved.").wait_for()
    assert page.get_by_text("Southwind Lab · people and access").is_visible()
    page_check(page, axe, screenshot, "admin-organization")
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Audit trail").click()
    page.get_by_role("heading", name="Audit trail", exact=True).wait_for()


def test_in_the_embedded_default_an_admin_copies_a_pending_invitations_link(
    live_server, page, screenshot, axe, sign_in, settings, tmp_path
):
    page.set_default_timeout(10_000)
    # As the embedded default runs: mail is written to files and never leaves the machine.
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    settings.PUBLIC_URL = live_server.url  # the links name this server
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    organization = OrganizationFactory(name="Northwind Lab")
    admin = member(organization, Role.ADMIN, "adam@northwind.example")
    sign_in(page, live_server.url, admin.user.email, PASSWORD)
    page.goto(f"{live_server.url}/members/")

    page.get_by_label("Email", exact=True).fill("nora@northwind.example")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation created for nora@northwind.example. Mail does not leave this machine").wait_for()
    link = page.get_by_label("Invitation link for nora@northwind.example").input_value()
    with organization_context(organization.pk):
        invitation = Invitation.objects.get()
    assert invitation.key_hash == hashlib.sha256(link.rsplit("#", 1)[1].encode()).hexdigest()
    # The worker wrote the mail; a later visit reads the same link back from it.
    (mail_file,) = (tmp_path / "mail").iterdir()
    assert link in mail_file.read_text()
    page.goto(f"{live_server.url}/members/")
    pending = page.get_by_role("region", name="Pending invitations")
    assert pending.get_by_label("Invitation link for nora@northwind.example").input_value() == link
    pending.get_by_role("button", name="Copy link for nora@northwind.example").click()
    page.locator("button[data-copied='true']").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == link
    assert page.get_by_role("status").filter(has_text="Link copied.").count() == 1
    page_check(page, axe, screenshot, "admin-members-invitation-link")

    # The link opens the invitation for the invitee (signed out, in a fresh context).
    visitor = page.context.browser.new_context()
    invitee = visitor.new_page()
    invitee.goto(link)
    invitee.get_by_role("heading", name="Join Northwind Lab").wait_for()
    visitor.close()
