"""Stream organizations' audit events to their SIEM: once (until caught up), or as a long-running loop."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.management.organizations import organizations_named
from audit.services.streaming import audit_stream_organization, organizations_to_stream


class Command(BaseCommand):
    help = (
        "Deliver new audit events to each organization's stream destination (its own, or AUDIT_STREAM_URL). "
        "Delivery is at least once: a cursor per category advances only after the receiver acknowledged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", help="Only this organization (slug).")
        parser.add_argument("--once", action="store_true", help="Deliver until caught up, then exit.")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="Seconds between rounds when looping (default 5)."
        )

    def _organization_ids(self, slug: str | None) -> list[int]:
        if slug is None:
            return organizations_to_stream()
        return [organization.pk for organization in organizations_named([slug])]

    def _round(self, slug: str | None) -> list[str]:
        errors: list[str] = []
        for organization_id in self._organization_ids(slug):
            result = audit_stream_organization(organization_id=organization_id)
            if result.events:
                self.stdout.write(f"organization {organization_id}: {result.events} events in {result.batches} batches")
            errors.extend(f"organization {organization_id}: {error}" for error in result.errors)
        return errors

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["organization"]
        if options["once"]:
            errors = self._round(slug)
            if errors:
                raise CommandError("Some events could not be delivered:\n" + "\n".join(errors))
            return
        while True:
            for error in self._round(slug):
                self.stderr.write(error)
            time.sleep(options["interval"])
