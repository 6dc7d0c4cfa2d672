"""Operators and auditors recompute every organization's audit chains and checkpoints; exit 1 on any problem."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.management.organizations import organizations_named
from audit.services.verification import VerifyReport, audit_verify
from core.context import organization_context


class Command(BaseCommand):
    help = (
        "Recompute each organization's audit hash chains and signed checkpoints and name the first event that "
        "does not match. Exits 1 when any organization has a problem."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--organization", action="append", dest="organizations", help="An organization's slug (repeatable)."
        )
        parser.add_argument("--category", help="Verify only this category's chain (e.g. project, data_access).")
        parser.add_argument("--json", action="store_true", help="Print one JSON document instead of a summary.")

    def handle(self, *args: Any, **options: Any) -> None:
        reports: dict[str, VerifyReport] = {}
        for organization in organizations_named(options["organizations"]):
            with organization_context(organization.pk):
                reports[organization.slug] = audit_verify(category=options["category"])
        if options["json"]:
            document = {slug: report.as_dict() for slug, report in reports.items()}
            self.stdout.write(json.dumps({"ok": all(r.ok for r in reports.values()), "organizations": document}))
        else:
            for slug, report in reports.items():
                self.stdout.write(self._summary(slug, report))
        failed = [slug for slug, report in reports.items() if not report.ok]
        if failed:
            raise CommandError(f"Audit verification failed for {', '.join(failed)}.", returncode=1)

    @staticmethod
    def _summary(slug: str, report: VerifyReport) -> str:
        counts = (
            f"{report.events_checked} sealed events, {report.checkpoints_checked} checkpoints, "
            f"{report.unsealed_events} not yet sealed"
        )
        if report.ok:
            return f"{slug}: ok ({counts})"
        first = report.problems[0]
        return (
            f"{slug}: FAILED ({counts}); first problem: category={first.category} sequence={first.sequence} "
            f"kind={first.kind}: {first.message}"
        )
