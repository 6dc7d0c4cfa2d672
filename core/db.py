"""PostgreSQL plumbing for tenant isolation: transaction-local settings, policies, grants."""

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.backends.utils import CursorWrapper
from django.db.models import Model
from psycopg.pq import Format

_M = TypeVar("_M", bound=Model)

logger = logging.getLogger(__name__)

GUC_ORGANIZATION = "app.organization_id"
# Lookups that must find a row before its organization is known carry the secret (or the user) they look up by;
# each table's policy admits exactly the rows matching it and nothing else.
GUC_USER = "app.user_id"
GUC_TOKEN_HASH = "app.token_hash"  # noqa: S105 - a setting name, not a secret
GUC_INVITATION_HASH = "app.invitation_hash"

TENANT_MATCH = f"organization_id = NULLIF(current_setting('{GUC_ORGANIZATION}', true), '')::bigint"


def set_guc(name: str, value: str) -> None:
    """Set a transaction-local setting (`set_config(..., true)`), so it dies with the transaction."""
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


def prepared_cursor() -> CursorWrapper:
    """A cursor whose statements the server plans once per connection and then reuses (server-side binding:
    psycopg prepares a statement after a few executions). For the few hot statements that are built by hand and
    cost more to plan than to run, such as the claim; everything else keeps Django's client-side binding.
    Otherwise the same as `connection.cursor()`: wrapped, logged and counted as Django's own."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = connection.connection
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(raw)  # type: ignore[call-arg]  # a psycopg cursor: it takes its connection
    # As Django's own cursors: timestamps in the connection's time zone.
    if raw.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone != connection.timezone:
        register_tzloader(connection.timezone, cursor)
    # The stubs type the argument as a wrapper; Django passes (and wraps) the driver's cursor, as here.
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)  # type: ignore[arg-type]
    return connection.make_cursor(cursor)  # type: ignore[arg-type]


def row_columns(model: type[Model], alias: str) -> list[str]:
    """The model's columns as `alias."column"`, in the order `row_instance` reads them back."""
    qn = connection.ops.quote_name
    return [f"{alias}.{qn(str(f.column))}" for f in model._meta.concrete_fields]


def row_instance(model: type[_M], values: "list[Any] | tuple[Any, ...]") -> _M:
    """A model instance from a raw statement's values for `row_columns(model, ...)`, converted as the ORM would
    (JSON text to objects): for statements that return rows they wrote, so nothing has to read them again."""
    fields = model._meta.concrete_fields
    converted = []
    for field, value in zip(fields, values, strict=True):
        converter = getattr(field, "from_db_value", None)
        converted.append(value if converter is None or value is None else converter(value, None, connection))
    return model.from_db(connection.alias, [f.attname for f in fields], converted)
