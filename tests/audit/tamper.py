"""Shared by the audit integrity tests: acting as the database owner with the append-only triggers bypassed."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection

from audit.macs import event_mac_for, row_mac_matches
from audit.models import AuditEvent
from audit.services.integrity import READ_COLUMNS


@contextmanager
def as_owner_without_triggers() -> Iterator[Any]:
    """The table owner, with triggers off for this session (replica mode): what an intruder with the owner's
    login can do. ALTER TABLE ... DISABLE TRIGGER is refused inside the test transaction (deferred FK checks
    pend), and replica mode is the same bypass without a schema change."""
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            cursor.execute("SET session_replication_role = origin")
            cursor.execute(f"SET ROLE {connection.ops.quote_name(settings.DATABASE_APP_ROLE)}")


def remac(organization_id: int, category: str, sequences: list[int]) -> None:
    """Give rewritten events the MACs the platform would have made for them: what only a holder of the MAC key can
    do, so a test that ages events as a shortcut (not as an attack) leaves them genuine."""
    rows = AuditEvent.objects.filter(category=category, sequence__in=sequences).values(*READ_COLUMNS)
    updates = [(event_mac_for(AuditEvent(organization_id=organization_id, **row)), row["id"]) for row in rows]
    with as_owner_without_triggers() as cursor:
        for mac, pk in updates:
            cursor.execute("UPDATE audit_auditevent SET mac = %s WHERE id = %s", [mac, pk])
    for row in AuditEvent.objects.filter(category=category, sequence__in=sequences).values(*READ_COLUMNS):
        assert row_mac_matches(organization_id, row)
