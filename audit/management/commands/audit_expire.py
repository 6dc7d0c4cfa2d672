"""Remove audit events past their category's retention, whole sealed checkpoint ranges at a time.

Runs as the database owner (in production, the login the `migrate` service uses); the app role cannot delete.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.management.organizations import organizations_named
from audit.services.retention import audit_expire, may_expire
from core.audit.context import ActorContext, actor_context
from core.context import organization_context


class Command(BaseCommand):
    help = (
        "Delete sealed audit events older than AUDIT_RETENTION_DAYS allows (whole checkpoint ranges only), "
        "keeping the signed checkpoints and recording an audit.expire event. Must run as the database owner."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", help="Only this organization (slug).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would be removed; change nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not may_expire():
            raise CommandError(
                "audit_expire must run as the database owner (the migrate login); the app role may not delete "
                "audit events."
            )
        organizations = organizations_named([options["organization"]] if options["organization"] else None)
        prefix = "would expire" if options["dry_run"] else "expired"
        try:
            for organization in organizations:
                operator = ActorContext(user_label="operator:audit_expire")
                with actor_context(operator), organization_context(organization.pk):
                    results = audit_expire(dry_run=options["dry_run"])
                for item in results:
                    self.stdout.write(
                        f"{organization.slug}: {prefix} {item.category} through #{item.through_sequence} "
                        f"({item.events} events)"
                    )
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
