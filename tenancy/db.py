"""PostgreSQL plumbing for tenant isolation: transaction-local settings, policies, grants.

Every function here is a no-op on SQLite (the embedded default), where the app layer alone isolates tenants.
"""

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)

GUC_ORGANIZATION = "app.organization_id"
# Lookups that must find a row before its organization is known carry the secret (or the user) they look up by;
# each table's policy admits exactly the rows matching it and nothing else.
GUC_USER = "app.user_id"
GUC_TOKEN_HASH = "app.token_hash"  # noqa: S105 - a setting name, not a secret
GUC_INVITATION_HASH = "app.invitation_hash"

TENANT_MATCH = f"organization_id = NULLIF(current_setting('{GUC_ORGANIZATION}', true), '')::bigint"


def is_postgres(conn: BaseDatabaseWrapper | None = None) -> bool:
    return (conn or connection).vendor == "postgresql"


def set_guc(name: str, value: str) -> None:
    """Set a transaction-local setting (`set_config(..., true)`), so it dies with the transaction."""
    if not is_postgres():
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


@contextmanager
def lookup_scope(name: str, value: str) -> Iterator[None]:
    """Admit the rows one pre-tenant lookup may see (a token by its hash, a user's memberships)."""
    with transaction.atomic():
        set_guc(name, value)
        try:
            yield
        finally:
            if connection.needs_rollback is False:
                set_guc(name, "")


def policy_sql(table: str, extra_using: str = "") -> list[str]:
    """Row-level security for one tenant table: enabled, forced on the owner too, USING and WITH CHECK.

    `extra_using` widens what may be read (never what may be written), for the pre-tenant lookups above.
    """
    using = f"({TENANT_MATCH})" + (f" OR ({extra_using})" if extra_using else "")
    return [
        f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
        f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
        f'DROP POLICY IF EXISTS tenant_isolation ON "{table}"',
        f'CREATE POLICY tenant_isolation ON "{table}" USING ({using}) WITH CHECK ({TENANT_MATCH})',
    ]


def role_exists(role: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        return cursor.fetchone() is not None


def grant_app_role(conn: BaseDatabaseWrapper, role: str, tables: Iterable[tuple[str, tuple[str, ...]]]) -> None:
    """Give the app role exactly the privileges each table declares, and nothing on the schema itself."""
    qn = conn.ops.quote_name
    with conn.cursor() as cursor:
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {qn(role)}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {qn(role)}")
        for table, privileges in tables:
            cursor.execute(f"REVOKE ALL ON {qn(table)} FROM {qn(role)}")
            cursor.execute(f"GRANT {', '.join(privileges)} ON {qn(table)} TO {qn(role)}")
