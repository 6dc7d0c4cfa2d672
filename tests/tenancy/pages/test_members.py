"""The admin pages (members, invitations, tokens, organization) through the Django test client."""

import hashlib
import logging
import re
import uuid
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from audit.models import AuditEvent
from core.context import organization_context
from tenancy.models import ApiToken, Invitation, Membership, Organization, Role
from tests.conftest import session_client
from tests.factories import ApiTokenFactory, MembershipFactory, OrganizationFactory, SkillFactory

pytestmark = pytest.mark.django_db

# (url name, method, form body, the object the route names or None): every route of tenancy/views_admin.py.
PAGES: list[tuple[str, str, dict[str, Any], str | None]] = [
    ("members", "GET", {}, None),
    ("members", "POST", {"action": "invite", "email": "new@lab.example", "role": "annotator"}, None),
    ("member-update", "POST", {"action": "role", "role": "reviewer"}, "member"),
    ("invitation-revoke", "POST", {}, "invitation"),
    ("tokens", "GET", {}, None),
    ("tokens", "POST", {"name": "ci", "role": "annotator"}, None),
    ("token-revoke", "POST", {}, "token"),
    ("organization-settings", "GET", {}, None),
    ("organization-settings", "POST", {"name": "Renamed"}, None),
]
# The one page managers may open: the member list, where they record verified skill levels.
MANAGER_PAGES = {("members", "GET")}


@pytest.fixture
def lab() -> Any:
    """An organization with an annotator, a pending invitation and a token: the objects the routes name."""
    organization = OrganizationFactory(name="Northwind Lab")
    with organization_context(organization.pk):
        annotator = MembershipFactory(organization=organization, role=Role.ANNOTATOR)
        token = ApiTokenFactory(membership=annotator, role=Role.ANNOTATOR)
        owner = MembershipFactory(organization=organization, role=Role.OWNER)
        from tenancy.services.invitations import invitation_create

        invitation = invitation_create(
            actor=owner, organization=organization, email="pending@lab.example", role=Role.REVIEWER
        ).invitation
    return {"organization": organization, "member": annotator, "token": token, "invitation": invitation}


def _url(name: str, target: str | None, lab: dict[str, Any], *, missing: bool = False) -> str:
    if target is None:
        return reverse(name)
    return reverse(name, args=[uuid.uuid4() if missing else lab[target].uuid])


def _snapshot(organization: Organization) -> Any:
    with organization_context(organization.pk):
        return (
            Organization.objects.get(pk=organization.pk).name,
            sorted(Membership.objects.values_list("role", "paused_at")),
            sorted(Invitation.objects.values_list("email", "revoked_at")),
            sorted(ApiToken.objects.values_list("name", "revoked_at")),
        )


REFUSED = [
    (role, *page)
    for page in PAGES
    for role in (Role.MANAGER, Role.REVIEWER)
    if not (role is Role.MANAGER and page[:2] in MANAGER_PAGES)
]


@pytest.mark.parametrize(
    ("role", "name", "method", "body", "target"), REFUSED, ids=[f"{r} {m} {n}" for r, n, m, _, _ in REFUSED]
)
def test_roles_below_the_page_are_refused_and_recorded(lab, role, name, method, body, target):
    # The members page itself is a manager's; what an admin alone may do on it is refused as such.
    needed = Role.MANAGER if name == "members" and not role.at_least(Role.MANAGER) else Role.ADMIN
    organization = lab["organization"]
    client, membership = session_client(organization, role)
    before = _snapshot(organization)

    url = _url(name, target, lab)
    response = client.post(url, body) if method == "POST" else client.get(url)

    assert response.status_code == 403
    assert f"{needed.value} role or higher".encode() in response.content
    assert _snapshot(organization) == before
    with organization_context(organization.pk):
        denied = AuditEvent.objects.get(action="access.forbidden", actor_user_id=membership.user_id)
        assert denied.target_type == f"ui:{name}"


@pytest.mark.parametrize(
    ("name", "method", "body", "target"), [p for p in PAGES if p[3] is not None], ids=lambda v: str(v)
)
def test_another_tenants_objects_are_not_found(lab, name, method, body, target):
    organization = lab["organization"]
    client, _ = session_client(OrganizationFactory(), Role.OWNER)
    before = _snapshot(organization)

    foreign = client.post(_url(name, target, lab), body)
    missing = client.post(_url(name, target, lab, missing=True), body)

    assert foreign.status_code == missing.status_code == 404
    assert _snapshot(organization) == before


def test_admin_invites_and_a_taken_email_is_named(lab):
    organization = lab["organization"]
    client, _ = session_client(organization, Role.ADMIN)

    sent = client.post(reverse("members"), {"action": "invite", "email": "Nora@Lab.example", "role": "reviewer"})
    again = client.post(reverse("members"), {"action": "invite", "email": "nora@lab.example", "role": "reviewer"})
    too_high = client.post(reverse("members"), {"action": "invite", "email": "x@lab.example", "role": "owner"})
    bad = client.post(reverse("members"), {"action": "invite", "email": "not an email", "role": "reviewer"})

    assert sent.status_code == 302
    with organization_context(organization.pk):
        assert Invitation.objects.get(email="nora@lab.example").role == "reviewer"
    assert again.status_code == 400
    assert again.context["invite_form"].non_field_errors() == [
        "nora@lab.example already has a pending invitation; revoke it to send a new one."
    ]
    assert list(too_high.context["invite_form"].errors) == ["role"]
    assert bad.context["invite_form"].errors["email"] == ["Enter a valid email address."]


def test_manager_sees_members_and_records_skills_but_does_not_invite(lab):
    organization, annotator = lab["organization"], lab["member"]
    client, _ = session_client(organization, Role.MANAGER)
    with organization_context(organization.pk):
        skill = SkillFactory(name="radiology")

    page = client.get(reverse("members"))
    recorded = client.post(
        reverse("members"),
        {
            "action": "set_skill",
            "level-member": str(annotator.uuid),
            "level-skill": str(skill.uuid),
            "level-level": "3",
        },
    )
    invite = client.post(reverse("members"), {"action": "invite", "email": "x@lab.example", "role": "annotator"})

    assert page.status_code == 200
    assert b"Invite a member" not in page.content
    assert b"Change<span" not in page.content
    assert recorded.status_code == 302
    assert invite.status_code == 403
    with organization_context(organization.pk):
        assert [(m.skill.name, m.level) for m in annotator.skills.all()] == [("radiology", 3)]
        assert not Invitation.objects.filter(email="x@lab.example").exists()


def test_admin_changes_role_pauses_and_removes(lab):
    organization, member = lab["organization"], lab["member"]
    client, _ = session_client(organization, Role.ADMIN)
    url = reverse("member-update", args=[member.uuid])

    client.post(url, {"action": "role", "role": "reviewer"})
    client.post(url, {"action": "pause"})
    with organization_context(organization.pk):
        member.refresh_from_db()
        assert (member.role, member.paused_at is not None) == ("reviewer", True)
    refused = client.post(url, {"action": "role", "role": "admin"}, follow=True)
    assert "Only owners may grant the owner or admin role." in refused.content.decode()
    client.post(url, {"action": "remove"})
    with organization_context(organization.pk):
        assert not Membership.objects.filter(pk=member.pk).exists()
        actions = AuditEvent.objects.filter(action__startswith="member.").order_by("sequence")
        assert [e.action for e in actions] == ["member.update", "member.pause", "member.remove"]


def test_token_secret_shown_once_then_revoked(lab):
    organization = lab["organization"]
    client, admin = session_client(organization, Role.ADMIN)

    created = client.post(reverse("tokens"), {"name": "nightly export", "role": "manager"})
    listed = client.get(reverse("tokens"))

    raw = created.context["issued"].raw
    assert raw in created.content.decode()
    assert created["Cache-Control"] == "no-store"
    assert raw not in listed.content.decode()
    with organization_context(organization.pk):
        token = ApiToken.objects.get(name="nightly export")
    assert (token.role, token.membership_id) == ("manager", admin.pk)
    client.post(reverse("token-revoke", args=[token.uuid]))
    with organization_context(organization.pk):
        token.refresh_from_db()
        assert token.revoked_at is not None


def test_token_bad_input_names_the_field(lab):
    client, _ = session_client(lab["organization"], Role.ADMIN)

    too_high = client.post(reverse("tokens"), {"name": "x", "role": "owner"})
    past = client.post(reverse("tokens"), {"name": "x", "role": "admin", "expires_on": "2001-01-01"})
    blank = client.post(reverse("tokens"), {"name": "", "role": "admin"})

    assert too_high.status_code == past.status_code == blank.status_code == 400
    assert list(too_high.context["form"].errors) == ["role"]
    assert past.context["form"].errors["expires_on"] == ["The expiry must be in the future."]
    assert blank.context["form"].errors["name"] == ["This field is required."]


def test_organization_rename(lab):
    organization = lab["organization"]
    client, _ = session_client(organization, Role.ADMIN)

    blank = client.post(reverse("organization-settings"), {"name": "  "})
    renamed = client.post(reverse("organization-settings"), {"name": "Southwind Lab"})

    assert blank.status_code == 400
    assert blank.context["form"].errors["name"] == ["This field is required."]
    assert renamed.status_code == 302
    with organization_context(organization.pk):
        assert Organization.objects.get(pk=organization.pk).name == "Southwind Lab"
        assert AuditEvent.objects.get(action="organization.update").changes == {
            "name": ["Northwind Lab", "Southwind Lab"]
        }


# --- invitation links: shown where mail stays on this machine (the embedded default), never elsewhere ---

FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
INVITE = {"action": "invite", "email": "nora@lab.example", "role": "reviewer"}


def _secret_of(content: bytes) -> str:
    """The one invitation secret a page shows (in the link's read-only field)."""
    found = re.findall(rb'value="http://[^"]+/invitations/accept#([A-Za-z0-9_-]{43})"', content)
    assert len(found) == 1, found
    return found[0].decode()


def _nora(organization: Organization) -> Invitation:
    with organization_context(organization.pk):
        return Invitation.objects.get(email="nora@lab.example")


def test_embedded_default_shows_the_link_on_creation_and_reads_it_back_from_the_mail_file(
    lab, settings, tmp_path, django_capture_on_commit_callbacks, caplog
):
    settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH = FILE_BACKEND, str(tmp_path / "mail")
    organization = lab["organization"]
    client, admin = session_client(organization, Role.ADMIN)
    caplog.set_level(logging.DEBUG)

    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(reverse("members"), INVITE)
    later = client.get(reverse("members"))

    # Shown on the creating response itself (no redirect), then read back from the mail the worker wrote.
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    secret = _secret_of(created.content)
    assert _nora(organization).key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert "Invitation created for nora@lab.example. Mail does not leave this machine here" in created.text
    assert _secret_of(later.content) == secret
    assert later["Cache-Control"] == "no-store"
    assert b'data-copy="invite-link-' in later.content
    # The earlier invitation (made before this test's mail folder) has no mail to read back: said, not shown.
    assert later.text.count("Its mail is not written yet") == 1
    # Never in a log line, its message or its fields.
    assert secret not in "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    # Nor in what the API lists or shows of it.
    api = APIClient()
    api.force_login(admin.user)
    listed = api.get("/api/v1/invitations/")
    shown = api.get(f"/api/v1/invitations/{_nora(organization).uuid}")
    assert (listed.status_code, shown.status_code) == (200, 200)
    assert secret not in listed.text + shown.text


def test_with_console_mail_the_link_is_shown_once_then_pointed_to(lab, settings):
    settings.EMAIL_BACKEND = CONSOLE_BACKEND
    client, _ = session_client(lab["organization"], Role.ADMIN)

    created = client.post(reverse("members"), INVITE)
    later = client.get(reverse("members"))

    assert created.status_code == 200
    _secret_of(created.content)
    assert b"/invitations/accept#" not in later.content
    assert "Mail is printed on the worker's console here" in later.text


@pytest.mark.parametrize(
    "backend",
    ["django.core.mail.backends.smtp.EmailBackend", "django.core.mail.backends.locmem.EmailBackend"],
)
def test_with_a_backend_that_sends_mail_the_link_is_never_shown(
    lab, settings, tmp_path, django_capture_on_commit_callbacks, backend
):
    organization = lab["organization"]
    client, _ = session_client(organization, Role.ADMIN)
    # A mail folder holding this very invitation's link, as an earlier file-based run would have left it.
    settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH = FILE_BACKEND, str(tmp_path / "mail")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("members"), INVITE).status_code == 200
    settings.EMAIL_BACKEND = backend

    created = client.post(reverse("members"), {**INVITE, "email": "omar@lab.example"})  # its mail is not sent here
    page = client.get(reverse("members"))

    assert created.status_code == 302  # redirected as any form: the link went by mail only
    assert b"/invitations/accept#" not in page.content
    assert b"data-copy" not in page.content
    assert b"Its mail is not written yet" not in page.content
    assert "Cache-Control" not in page or "no-store" not in page["Cache-Control"]


def test_managers_never_see_invitation_links(lab, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH = FILE_BACKEND, str(tmp_path / "mail")
    organization = lab["organization"]
    admin, _ = session_client(organization, Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post(reverse("members"), INVITE).status_code == 200
    manager, _ = session_client(organization, Role.MANAGER)

    page = manager.get(reverse("members"))

    assert b"nora@lab.example" in page.content
    assert b"/invitations/accept#" not in page.content
