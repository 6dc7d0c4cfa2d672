"""Seal now, without waiting for the beat: one organization or all of them."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.management.organizations import organizations_named
from audit.services.sealing import audit_seal
from core.audit.context import ActorContext, actor_context
from core.context import organization_context


class Command(BaseCommand):
    help = "Seal the new audit events of one organization (or every one) into signed checkpoints now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", help="The organization's slug (default: every organization).")

    def handle(self, *args: Any, **options: Any) -> None:
        slugs = [options["organization"]] if options["organization"] else None
        with actor_context(ActorContext(user_label="operator:audit_seal")):
            for organization in organizations_named(slugs):
                with organization_context(organization.pk):
                    result = audit_seal()
                self.stdout.write(
                    f"{organization.slug}: sealed {result.events} events in {result.checkpoints} checkpoints"
                )
