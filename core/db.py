"""PostgreSQL plumbing for tenant isolation: transaction-local settings, policies, grants."""

import logging
import re
import textwrap
from collections.abc import Iterable, Iterator, Mapping, Sequence
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

# Set a setting until the transaction ends (`true`: local). No table.
SET_LOCAL_SETTING = "SELECT set_config(%(name)s, %(value)s, true)"
# Whether a database role exists. The catalog's unique index on rolname.
ROLE_EXISTS = "SELECT 1 FROM pg_roles WHERE rolname = %(role)s"


def set_guc(name: str, value: str) -> None:
    """Set a transaction-local setting (`set_config(..., true)`), so it dies with the transaction."""
    with connection.cursor() as cursor:
        cursor.execute(SET_LOCAL_SETTING, {"name": name, "value": value})


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


# Row-level security on a tenant table, and its removal. DDL takes no parameters: the table goes in quoted, the
# policy's conditions are our own expressions.
POLICY_ENABLE = (
    "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
    "DROP POLICY IF EXISTS tenant_isolation ON {table}",
    "CREATE POLICY tenant_isolation ON {table} USING ({using}) WITH CHECK ({check})",
)
POLICY_DISABLE = (
    "DROP POLICY IF EXISTS tenant_isolation ON {table}",
    "ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
)


def policy_sql(table: str, extra_using: str = "") -> list[str]:
    """Row-level security for one tenant table: enabled, forced on the owner too, USING and WITH CHECK.

    `extra_using` widens what may be read (never what may be written), for the pre-tenant lookups above.
    """
    using = f"({TENANT_MATCH})" + (f" OR ({extra_using})" if extra_using else "")
    quoted = connection.ops.quote_name(table)
    return [sql_statement(text, table=quoted, using=using, check=TENANT_MATCH) for text in POLICY_ENABLE]


def policy_drop_sql(table: str) -> list[str]:
    """What undoes `policy_sql` on a table: no policy, row-level security off."""
    quoted = connection.ops.quote_name(table)
    return [sql_statement(text, table=quoted) for text in POLICY_DISABLE]


def role_exists(role: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(ROLE_EXISTS, {"role": role})
        return cursor.fetchone() is not None


# The app role's privileges: on the schema and its sequences, then per table (all revoked, the declared ones
# granted). DDL takes no parameters: the role and the table go in quoted, the privileges are the models' words.
GRANT_SCHEMA = "GRANT USAGE ON SCHEMA public TO {role}"
GRANT_SEQUENCES = "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"
REVOKE_TABLE = "REVOKE ALL ON {table} FROM {role}"
GRANT_TABLE = "GRANT {privileges} ON {table} TO {role}"


def grant_app_role(conn: BaseDatabaseWrapper, role: str, tables: Iterable[tuple[str, tuple[str, ...]]]) -> None:
    """Give the app role exactly the privileges each table declares, and nothing on the schema itself."""
    qn = conn.ops.quote_name
    with conn.cursor() as cursor:
        cursor.execute(sql_statement(GRANT_SCHEMA, role=qn(role)))
        cursor.execute(sql_statement(GRANT_SEQUENCES, role=qn(role)))
        for table, privileges in tables:
            cursor.execute(sql_statement(REVOKE_TABLE, table=qn(table), role=qn(role)))
            cursor.execute(sql_statement(GRANT_TABLE, privileges=", ".join(privileges), table=qn(table), role=qn(role)))


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


# Hand-written statements are module constants of whole SQL text, each hot path's in one `sql` module of its app.
# What the text cannot spell itself, because the models declare it, goes in once, when the module is imported:
# table names and column lists, as `{name}` slots.
_SLOT = re.compile(r"\{([a-z][a-z0-9_]*)\}")
# A named parameter, `%(name)s`, as psycopg reads them.
_PARAMETER = re.compile(r"%\(([a-z][a-z0-9_]*)\)s")


def table_name(model: type[Model]) -> str:
    """The model's table, quoted for a statement's text."""
    return connection.ops.quote_name(model._meta.db_table)


def select_columns(model: type[Model], alias: str) -> str:
    """The model's columns as `alias."column", ...`, for a SELECT or RETURNING list that `row_instance` reads."""
    return ", ".join(row_columns(model, alias))


def insert_columns(model: type[Model], *, leave_out: Iterable[str] = ()) -> str:
    """The model's columns in declaration order, quoted, for an INSERT's column list: all but the primary key and
    the columns `leave_out` names (left to their database default, NULL for most). The statement's values follow
    the same order."""
    qn = connection.ops.quote_name
    columns = [str(f.column) for f in model._meta.concrete_fields if not f.primary_key]
    left = set(leave_out)
    if left - set(columns):
        raise ValueError(f"{model.__name__} has no column {', '.join(sorted(left - set(columns)))}")
    return ", ".join(qn(column) for column in columns if column not in left)


def sql_statement(text: str, **parts: "str | type[Model]") -> str:
    """A statement's text with each `{name}` slot replaced by `parts[name]`: a model stands for its quoted table
    name, a string goes in as it is (a column list from `select_columns`, a fragment of our own). Every slot
    must be given, so a misspelt one fails when its module is imported; braces around anything but a plain name
    ('{}'::jsonb, JSON text) are the statement's own. The indentation of a triple-quoted text is dropped, and a
    part of several lines is indented as the line of its slot.

    Called at import time for table names and column lists; per call only to put in a VALUES list whose length
    varies (`values_rows`), a statement of the ORM's, or the names in DDL (which takes no parameters)."""

    text = textwrap.dedent(text).strip()

    def fill(match: re.Match[str]) -> str:
        part = parts[match.group(1)]
        if not isinstance(part, str):
            return table_name(part)
        line = text[text.rfind("\n", 0, match.start()) + 1 : match.start()]
        return part.replace("\n", "\n" + line[: len(line) - len(line.lstrip())])

    return _SLOT.sub(fill, text)


def values_rows(
    prefix: str, row: str, rows: Sequence[Mapping[str, Any]], *, empty: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The rows of a VALUES list whose length varies per call, and their parameters.

    `row` is one row written with named parameters, `(%(ordinal)s::int, %(subject)s::varchar)`; each of `rows`
    gives its values by those names. Row i becomes a copy of `row` whose parameters are renamed
    `%(<prefix><i>_<name>)s`, and the returned parameters carry the values under those names, to merge into the
    statement's own (the prefix keeps two lists of one statement apart). With no rows, `empty` stands in (a row
    of NULLs that matches nothing), as VALUES must have one.
    """
    names = set(_PARAMETER.findall(row))
    texts: list[str] = []
    params: dict[str, Any] = {}
    for index, values in enumerate(rows):
        if set(values) != names:
            raise ValueError(f"a {prefix} row gives {sorted(values)}, the statement wants {sorted(names)}")
        key = f"{prefix}{index}_"
        texts.append(_PARAMETER.sub(rf"%({key}\g<1>)s", row))
        params.update((key + name, value) for name, value in values.items())
    if texts:
        return ", ".join(texts), params
    if empty is None:
        raise ValueError(f"no {prefix} rows, and no stand-in for an empty list")
    return empty, params
