"""Compare the database's signed checkpoints with their copies in the checkpoint bucket; exit 1 on any difference."""

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.management.organizations import organizations_named
from audit.services.checkpoints import AnchorReport, checkpoint_bucket, checkpoint_copies_compare
from core.context import organization_context


class Command(BaseCommand):
    help = (
        "Compare each organization's signed audit checkpoints in the database with the copies written to "
        "AUDIT_CHECKPOINT_BUCKET (under Object Lock, out of reach of whoever controls the database) and name every "
        "checkpoint that differs, is missing from either side, or whose copy no trusted key signed. Exits 1 on any."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--organization", action="append", dest="organizations", help="An organization's slug (repeatable)."
        )
        parser.add_argument("--category", help="Compare only this category's chain.")
        parser.add_argument("--json", action="store_true", help="Print one JSON document instead of a summary.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not checkpoint_bucket():
            raise CommandError("AUDIT_CHECKPOINT_BUCKET is not set: checkpoints are not copied anywhere to compare.")
        reports: dict[str, AnchorReport] = {}
        for organization in organizations_named(options["organizations"]):
            with organization_context(organization.pk):
                reports[organization.slug] = checkpoint_copies_compare(
                    organization=organization, category=options["category"]
                )
        if options["json"]:
            document = {
                slug: {
                    "ok": report.ok,
                    "compared": report.compared,
                    "pending": report.pending,
                    "differences": [asdict(d) for d in report.differences],
                }
                for slug, report in reports.items()
            }
            self.stdout.write(json.dumps({"ok": all(r.ok for r in reports.values()), "organizations": document}))
        else:
            for slug, report in reports.items():
                counts = f"{report.compared} copies compared, {report.pending} not copied yet"
                if report.ok:
                    self.stdout.write(f"{slug}: ok ({counts})")
                    continue
                self.stdout.write(f"{slug}: DIFFERS ({counts})")
                for difference in report.differences:
                    self.stdout.write(f"  {difference.problem}")
        failed = [slug for slug, report in reports.items() if not report.ok]
        if failed:
            raise CommandError(f"Checkpoints differ from their copies for {', '.join(failed)}.", returncode=1)
