"""The operator commands: organization_create, token_create and platform_bootstrap."""

import io
import re
import stat

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from core.context import no_organization, organization_context
from tenancy.models import ApiToken, Invitation, Membership, Organization, Role, User
from tenancy.selectors import api_token_authenticate
from tenancy.services.invitations import invitation_accept
from tests.factories import UserFactory

STRONG_PASSWORD = "violet tractor sings at noon"


def run(command: str, *args: str, stdin: str | None = None) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    extra = {"stdin": io.StringIO(stdin)} if stdin is not None else {}
    call_command(command, *args, stdout=out, stderr=err, **extra)
    return out.getvalue(), err.getvalue()


def audit_trail(organization: Organization) -> list[tuple[str, str]]:
    with organization_context(organization.pk):
        # Reading the trail as an operator would: every event of this organization, in sequence order.
        events = AuditEvent.objects.unscoped().filter(organization_id=organization.pk).order_by("sequence")
        return list(events.values_list("action", "actor_label"))


def members(organization: Organization) -> list[tuple[str, str]]:
    with organization_context(organization.pk):
        return list(Membership.objects.order_by("id").values_list("user__email", "role"))


# --- organization_create ---


def test_organization_create_invites_an_existing_account_which_becomes_owner_only_by_accepting(
    db, django_capture_on_commit_callbacks
):
    # Given an account that belongs nowhere yet (registered by anyone who once held an invitation to its address)
    account = UserFactory(email="ada@example.org")
    # When the operator creates an organization for that address
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run(
            "organization_create", "--name", "Acme Research", "--slug", "acme", "--owner-email", "Ada@Example.org"
        )
    # Then nobody owns it yet: the address gets an owner invitation, exactly as an address without an account would
    organization = Organization.objects.get(slug="acme")
    assert organization.name == "Acme Research"
    assert members(organization) == []
    assert audit_trail(organization) == [
        ("organization.create", "operator:organization_create"),
        ("invitation.create", "operator:organization_create"),
    ]
    assert out == (
        "Created organization 'acme'.\n"
        "Invited ada@example.org as owner: the invitation link goes to that address by mail only.\n"
    )
    (message,) = mail.outbox
    assert message.to == ["ada@example.org"]
    # And the account becomes owner when its holder accepts from the mailbox's link, signed in as it
    secret = re.search(r"/invitations/accept#([A-Za-z0-9_-]{43})", message.body).group(1)
    with no_organization():
        membership = invitation_accept(raw_key=secret, user=account)
    assert members(organization) == [("ada@example.org", "owner")]
    assert membership.user == account


def test_organization_create_creates_the_owner_account_from_stdin(db):
    out, _ = run(
        "organization_create",
        *("--name", "Acme", "--slug", "acme", "--owner-email", "ada@example.org", "--owner-name", "Ada"),
        "--owner-password-stdin",
        stdin=STRONG_PASSWORD + "\n",
    )
    user = User.objects.get(email="ada@example.org")
    assert user.name == "Ada"
    assert user.check_password(STRONG_PASSWORD)
    organization = Organization.objects.get(slug="acme")
    assert members(organization) == [("ada@example.org", "owner")]
    assert [action for action, _ in audit_trail(organization)] == ["organization.create", "member.add"]
    assert out == "Created organization 'acme'.\nCreated account ada@example.org as owner.\n"


def test_organization_create_invites_an_owner_without_account(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run("organization_create", "--name", "Acme", "--slug", "acme", "--owner-email", "ada@example.org")
    organization = Organization.objects.get(slug="acme")
    assert not User.objects.filter(email="ada@example.org").exists()
    assert members(organization) == []
    with organization_context(organization.pk):
        invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by, invitation.status) == (
        "ada@example.org",
        "owner",
        None,
        "pending",
    )
    assert audit_trail(organization) == [
        ("organization.create", "operator:organization_create"),
        ("invitation.create", "operator:organization_create"),
    ]
    # Mail really leaves here (the suite's backend stands for SMTP): the secret goes to the mailbox alone.
    assert out == (
        "Created organization 'acme'.\n"
        "Invited ada@example.org as owner: the invitation link goes to that address by mail only.\n"
    )
    assert "/invitations/accept" not in out
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.org"]
    assert "http://127.0.0.1:8000/invitations/accept#" in mail.outbox[0].body


def test_organization_create_prints_the_link_where_mail_stays_on_this_machine(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):
    # The embedded default writes mail to files: the operator is the only courier, so the link is shown once.
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run("organization_create", "--name", "Acme", "--slug", "acme", "--owner-email", "ada@example.org")
    lines = out.splitlines()
    assert lines[:2] == [
        "Created organization 'acme'.",
        "Invited ada@example.org as owner. Mail does not leave this machine here; pass this link on yourself:",
    ]
    assert len(lines) == 3
    assert re.fullmatch(r"http://127\.0\.0\.1:8000/invitations/accept#[A-Za-z0-9_-]{43}", lines[2])
    (written,) = (tmp_path / "mail").iterdir()
    assert lines[2] in written.read_text()


def test_organization_create_without_owner(db):
    out, _ = run("organization_create", "--name", "Acme", "--slug", "acme")
    organization = Organization.objects.get(slug="acme")
    assert members(organization) == []
    assert audit_trail(organization) == [("organization.create", "operator:organization_create")]
    assert "It has no owner yet" in out


def test_organization_create_refuses_a_taken_slug(db, organization_factory):
    organization_factory(slug="acme", name="First")
    with pytest.raises(CommandError, match="An organization with slug 'acme' already exists"):
        run("organization_create", "--name", "Second", "--slug", "acme")
    assert list(Organization.objects.filter(slug="acme").values_list("name", flat=True)) == ["First"]


def test_organization_create_refuses_a_weak_password_and_writes_nothing(db):
    with pytest.raises(CommandError, match=r"Password refused: .*too short"):
        run(
            "organization_create",
            *("--name", "Acme", "--slug", "acme", "--owner-email", "ada@example.org", "--owner-password-stdin"),
            stdin="short\n",
        )
    assert not Organization.objects.filter(slug="acme").exists()
    assert not User.objects.filter(email="ada@example.org").exists()


def test_organization_create_refuses_a_password_for_an_existing_account(db):
    UserFactory(email="ada@example.org")
    with pytest.raises(CommandError, match="already has an account"):
        run(
            "organization_create",
            *("--name", "Acme", "--slug", "acme", "--owner-email", "ada@example.org", "--owner-password-stdin"),
            stdin=STRONG_PASSWORD + "\n",
        )
    assert not Organization.objects.filter(slug="acme").exists()


# --- token_create ---


@pytest.fixture
def manager(db, organization_factory, membership_factory):
    organization = organization_factory(slug="acme")
    with organization_context(organization.pk):
        return membership_factory(organization=organization, role=Role.MANAGER, user__email="mia@example.org")


def test_token_create_prints_a_working_token_once(manager):
    out, err = run("token_create", "--organization", "acme", "--email", "MIA@example.org", "--name", "nightly import")
    # Only the secret goes to stdout, so `TOKEN=$(manage.py token_create ...)` works
    raw = out.strip()
    assert out == raw + "\n"
    token = api_token_authenticate(raw=raw)
    assert token is not None
    assert (token.membership_id, token.name, token.role, token.expires_at) == (
        manager.pk,
        "nightly import",
        "manager",
        None,
    )
    assert err == (
        f"Created token 'nightly import' (prefix {token.prefix}, role manager, never expires) for mia@example.org "
        "in 'acme'. It is shown only now:\n"
    )
    assert audit_trail(manager.organization) == [("token.create", "operator:token_create")]


def test_token_create_with_lower_role_and_expiry(manager):
    out, _ = run(
        "token_create",
        *("--organization", "acme", "--email", "mia@example.org", "--name", "ci"),
        *("--role", "annotator", "--expires-days", "7"),
    )
    token = api_token_authenticate(raw=out.strip())
    assert token is not None
    assert token.role == "annotator"
    assert token.expires_at is not None
    assert 6.99 < (token.expires_at - token.created_at).total_seconds() / 86400 < 7.01


def test_token_create_refuses_a_role_above_the_members(manager):
    with pytest.raises(CommandError, match=r"cannot have a higher role than yours \(manager\)"):
        run("token_create", "--organization", "acme", "--email", "mia@example.org", "--name", "x", "--role", "owner")
    with organization_context(manager.organization_id):
        assert ApiToken.objects.count() == 0


@pytest.mark.parametrize(
    ("organization", "email", "message"),
    [
        ("nope", "mia@example.org", "No organization with slug 'nope'."),
        ("acme", "nobody@example.org", "No user with email 'nobody@example.org'."),
        ("acme", "other@example.org", "other@example.org is not a member of 'acme'."),
    ],
)
def test_token_create_names_what_is_unknown(manager, organization, email, message):
    UserFactory(email="other@example.org")
    with pytest.raises(CommandError) as excinfo:
        run("token_create", "--organization", organization, "--email", email, "--name", "x")
    assert str(excinfo.value) == message
    with organization_context(manager.organization_id):
        assert ApiToken.objects.count() == 0


# --- platform_bootstrap ---


def test_platform_bootstrap_creates_demo_owner_and_token(db, tmp_path):
    credentials_file = tmp_path / "credentials.txt"
    out, _ = run("platform_bootstrap", "--credentials-file", str(credentials_file))
    organization = Organization.objects.get(slug="demo")
    assert members(organization) == [("admin@localhost", "owner")]
    fields = dict(line.strip().split(":", 1) for line in out.splitlines() if line.startswith("  "))
    password, raw_token = fields["Password"].strip(), fields["API token"].strip()
    assert fields["Login"].strip() == "admin@localhost"
    assert User.objects.get(email="admin@localhost").check_password(password)
    token = api_token_authenticate(raw=raw_token)
    assert token is not None
    assert (token.organization_id, token.role, token.name) == (organization.pk, "owner", "first-run")
    assert audit_trail(organization) == [
        ("organization.create", "system:platform_bootstrap"),
        ("member.add", "system:platform_bootstrap"),
        ("token.create", "system:platform_bootstrap"),
    ]
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    saved = credentials_file.read_text()
    assert f"Password:     {password}\n" in saved
    assert f"API token:    {raw_token}\n" in saved


def test_platform_bootstrap_twice_creates_nothing_new(db):
    run("platform_bootstrap")
    organization = Organization.objects.get(slug="demo")

    def snapshot():
        with organization_context(organization.pk):
            return (
                Organization.objects.count(),
                User.objects.count(),
                Membership.objects.count(),
                ApiToken.objects.count(),
                AuditEvent.objects.unscoped().filter(organization_id=organization.pk).count(),
            )

    before = snapshot()
    out, _ = run("platform_bootstrap")
    assert snapshot() == before == (1, 1, 1, 1, 3)
    assert out == "Already bootstrapped: organization 'demo' exists; nothing was created.\n"
