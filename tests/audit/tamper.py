"""Shared by the audit integrity tests: acting as the database owner with the append-only triggers bypassed."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection


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
