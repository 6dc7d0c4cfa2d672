"""Print the generated part of docs/architecture.md, or write it in place with --write."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from core import architecture


class Command(BaseCommand):
    help = "Print the map of modules, routes and tasks for docs/architecture.md (--write updates the file)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--write", action="store_true", help="Replace the generated part of the document.")

    def handle(self, *args: Any, **options: Any) -> None:
        generated = architecture.render()
        if not options["write"]:
            self.stdout.write(generated, ending="")
            return
        path = architecture.DOCUMENT
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        path.write_text(architecture.document_with(generated, current), encoding="utf-8")
        self.stdout.write(f"Wrote {path}")
