"""Print one organization's event-MAC key, for an auditor to authenticate unsealed events of an export offline."""

import base64
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.management.organizations import organizations_named
from audit.signing import event_mac_key


class Command(BaseCommand):
    help = (
        "Print the base64 of the key that MACs one organization's audit events, for "
        "`python -m audit.offline_verify --mac-key`. Whoever holds it can check that organization's unsealed "
        "events offline; whoever holds it and can also write to the database could forge events of that "
        "organization that pass every check: hand it only to an auditor without access to the database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="The organization's slug.")

    def handle(self, *args: Any, **options: Any) -> None:
        (organization,) = organizations_named([options["organization"]])
        self.stdout.write(base64.b64encode(event_mac_key(organization.pk)).decode())
