"""First start: a demo organization, its owner and an API token for that owner. Later runs change nothing."""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from core.audit.context import ActorContext, actor_context
from core.context import organization_context
from core.errors import DomainError
from tenancy.models import Organization, Role, User
from tenancy.services.members import membership_add
from tenancy.services.organizations import organization_create
from tenancy.services.tokens import api_token_create

DEMO_SLUG = "demo"
DEMO_NAME = "Demo"
ADMIN_EMAIL = "admin@localhost"
ADMIN_NAME = "Administrator"
TOKEN_NAME = "first-run"  # noqa: S105 - the token's label, not its secret


@dataclass(frozen=True)
class BootstrapCredentials:
    """What the first start hands to the operator; the password and token exist nowhere else in clear."""

    organization_slug: str
    email: str
    password: str | None  # None when the account existed before: its password was never ours to show
    token: str


def platform_bootstrap() -> BootstrapCredentials | None:
    """Create the demo organization with an owner and a token; None (and no writes) when it already exists."""
    if Organization.objects.filter(slug=DEMO_SLUG).exists():
        return None
    with actor_context(ActorContext(user_label="system:platform_bootstrap")), transaction.atomic():
        organization = organization_create(actor=None, name=DEMO_NAME, slug=DEMO_SLUG)
        password: str | None = None
        user = User.objects.filter(email=ADMIN_EMAIL).first()
        if user is None:
            password = secrets.token_urlsafe(18)
            user = User.objects.create_user(ADMIN_EMAIL, password, name=ADMIN_NAME)
        with organization_context(organization.pk):
            membership = membership_add(organization=organization, user=user, role=Role.OWNER, via="bootstrap")
            issued = api_token_create(actor=membership, name=TOKEN_NAME)
    return BootstrapCredentials(organization_slug=DEMO_SLUG, email=user.email, password=password, token=issued.raw)


def credentials_lines(credentials: BootstrapCredentials, url: str) -> list[str]:
    return [
        f"URL:          {url}",
        f"Organization: {credentials.organization_slug}",
        f"Login:        {credentials.email}",
        f"Password:     {credentials.password or '(the existing account keeps its password)'}",
        f"API token:    {credentials.token}",
    ]


def credentials_file_write(path: Path, credentials: BootstrapCredentials, url: str) -> None:
    """Keep the first-run credentials beside the data, readable by the operator's account only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # the mode given to open() is filtered by the umask; this is not
        handle.write("\n".join(credentials_lines(credentials, url)) + "\n")
    os.replace(partial, path)


class Command(BaseCommand):
    help = "Create the demo organization, its owner admin@localhost and an API token (first start only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--credentials-file",
            type=Path,
            help="Also write the generated credentials to this file (mode 0600).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            credentials = platform_bootstrap()
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if credentials is None:
            self.stdout.write(f"Already bootstrapped: organization {DEMO_SLUG!r} exists; nothing was created.")
            return
        url = f"{settings.PUBLIC_URL}/"
        self.stdout.write(self.style.SUCCESS(f"Created organization {DEMO_SLUG!r} with owner {credentials.email}."))
        for line in credentials_lines(credentials, url):
            self.stdout.write(f"  {line}")
        if options["credentials_file"]:
            credentials_file_write(options["credentials_file"], credentials, url)
            self.stdout.write(f"Saved to {options['credentials_file']} (readable only by you).")
        self.stdout.write("The password and token are not shown again.")
