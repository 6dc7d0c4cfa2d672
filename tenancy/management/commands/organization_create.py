"""Platform operators create a tenant and give it its first owner: by invitation, or a new account made here."""

import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from core.audit.context import ActorContext, actor_context
from core.context import organization_context
from core.errors import DomainError
from tenancy import config as tenancy_config
from tenancy.models import Organization, Role, User
from tenancy.services.invitations import invitation_create
from tenancy.services.members import membership_add
from tenancy.services.organizations import organization_create


def domain_error_text(exc: DomainError) -> str:
    details = "; ".join(f"{error.field}: {error.message}" for error in exc.errors)
    return f"{exc.message} {details}".strip()


class Command(BaseCommand):
    help = (
        "Create an organization. With --owner-email, invite that address as its owner (by mail; an existing "
        "account becomes owner only by accepting, signed in), or with --owner-password-stdin create the owner's "
        "account for an address that has none."
    )
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Display name, e.g. 'Acme Research'.")
        parser.add_argument("--slug", required=True, help="Unique short name used in URLs and commands.")
        parser.add_argument("--owner-email", help="The first owner's email address.")
        parser.add_argument("--owner-name", default="", help="The owner's name, for a new account.")
        parser.add_argument(
            "--owner-password-stdin",
            action="store_true",
            help="Create the owner's account with the password read from the first line of standard input.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        email: str | None = options["owner_email"]
        if options["owner_password_stdin"] and not email:
            raise CommandError("--owner-password-stdin needs --owner-email.")
        password: str | None = None
        if email:
            email = email.strip().lower()
            try:
                validate_email(email)
            except ValidationError as exc:
                raise CommandError(f"Not a valid email address: {email!r}.") from exc
            if options["owner_password_stdin"]:
                if User.objects.filter(email=email).exists():
                    raise CommandError(
                        f"{email} already has an account; omit --owner-password-stdin to invite it as owner."
                    )
                password = self._read_password(options.get("stdin") or sys.stdin, email, options["owner_name"])

        operator = ActorContext(user_label="operator:organization_create")
        lines: list[str] = []  # printed once the transaction has committed, never for a rolled-back create
        try:
            with actor_context(operator), transaction.atomic():
                organization = organization_create(actor=None, name=options["name"], slug=options["slug"])
                if not email:
                    lines.append("It has no owner yet; run this command with --owner-email to create one.")
                else:
                    with organization_context(organization.pk):
                        lines += self._add_owner(organization, email, password, options["owner_name"])
        except DomainError as exc:
            raise CommandError(domain_error_text(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created organization {organization.slug!r}."))
        for line in lines:
            self.stdout.write(line)

    def _add_owner(self, organization: Organization, email: str, password: str | None, name: str) -> list[str]:
        if password is None:
            # An invitation, whether or not the address has an account: attaching an existing account here would
            # hand the organization to whoever registered that address first, without its owner's consent. The
            # account's holder accepts from the mailbox's link, signed in.
            issued = invitation_create(actor=None, organization=organization, email=email, role=Role.OWNER)
            if not tenancy_config.mail_stays_local():
                return [f"Invited {email} as owner: the invitation link goes to that address by mail only."]
            # Mail stays on this machine (the embedded default): the operator is the only one to pass it on.
            return [
                f"Invited {email} as owner. Mail does not leave this machine here; pass this link on yourself:",
                issued.accept_url,
            ]
        # handle() refused a password for an address that has an account: none is ever set on one here.
        user = User.objects.create_user(email, password, name=name)
        membership_add(organization=organization, user=user, role=Role.OWNER, via="operator")
        return [f"Created account {email} as owner."]

    def _read_password(self, stdin: Any, email: str, name: str) -> str:
        password = stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError("No password on standard input.")
        try:
            validate_password(password, User(email=email, name=name))
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from exc
        return str(password)
