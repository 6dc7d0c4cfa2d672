"""Platform operators issue an API token for a member; the secret is printed once and stored only hashed."""

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from core.audit.context import ActorContext, actor_context
from core.context import organization_context
from core.errors import DomainError
from tenancy.management.commands.organization_create import domain_error_text
from tenancy.models import Membership, Organization, Role, User
from tenancy.services.tokens import api_token_create


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Issue an API token acting as a member of an organization. The token alone goes to standard output "
        "(so scripts can capture it); it is never shown again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="The organization's slug.")
        parser.add_argument("--email", required=True, help="The member the token acts as.")
        parser.add_argument("--name", required=True, help="What the token is for, e.g. 'nightly import'.")
        parser.add_argument(
            "--role", choices=Role.values, help="A role no higher than the member's (default: the member's)."
        )
        parser.add_argument("--expires-days", type=_positive_int, help="Days until the token expires (default: never).")

    def handle(self, *args: Any, **options: Any) -> None:
        slug, email = options["organization"], options["email"].strip().lower()
        organization = Organization.objects.filter(slug=slug).first()
        if organization is None:
            raise CommandError(f"No organization with slug {slug!r}.")
        if not User.objects.filter(email=email).exists():
            raise CommandError(f"No user with email {email!r}.")
        expires_at = timezone.now() + timedelta(days=options["expires_days"]) if options["expires_days"] else None
        role = Role(options["role"]) if options["role"] else None
        try:
            operator = ActorContext(user_label="operator:token_create")
            with actor_context(operator), organization_context(organization.pk):
                membership = Membership.objects.select_related("user").filter(user__email=email).first()
                if membership is None:
                    raise CommandError(f"{email} is not a member of {slug!r}.")
                issued = api_token_create(actor=membership, name=options["name"], role=role, expires_at=expires_at)
        except DomainError as exc:
            raise CommandError(domain_error_text(exc)) from exc
        token = issued.token
        expiry = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "never expires"
        self.stderr.write(
            f"Created token {token.name!r} (prefix {token.prefix}, role {token.role}, {expiry}) for {email} "
            f"in {slug!r}. It is shown only now:"
        )
        self.stdout.write(issued.raw)
