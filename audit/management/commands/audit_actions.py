"""Print the table of audit actions for docs/audit.md, or write it in place with --write."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from core.audit.actions import actions_markdown, document_with_actions

DOCUMENT = Path(settings.BASE_DIR) / "docs" / "audit.md"


class Command(BaseCommand):
    help = (
        "Print the categories and the table of every declared audit action (core.audit.actions), as docs/audit.md "
        "shows them; --write replaces them in docs/audit.md, between its markers."
    )
    # It renders a module's declarations into a file: neither the database nor the URLconf has a say in it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", action="store_true", help="Replace the table in docs/audit.md.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["write"]:
            self.stdout.write(actions_markdown(), ending="")
            return
        DOCUMENT.write_text(document_with_actions(DOCUMENT.read_text(encoding="utf-8")), encoding="utf-8")
        self.stdout.write(f"Wrote {DOCUMENT}")
