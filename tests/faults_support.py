"""Real database faults for the tests of what is retried: a privilege the app role lacks, a lock it cannot get."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import connection


def revoke_from_app_role(privilege: str, model: Any) -> None:
    """Take `privilege` on the model's table from the app role until the test's transaction rolls back: the
    app then meets the error a deployment whose grants missed it would meet."""
    role = connection.ops.quote_name(settings.DATABASE_APP_ROLE)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")  # the owner grants and revokes; the app role may not
        cursor.execute(f"REVOKE {privilege} ON {table} FROM {role}")
        cursor.execute(f"SET ROLE {role}")


@contextmanager
def table_locked_elsewhere(model: Any) -> Iterator[None]:
    """Another session holds an ACCESS EXCLUSIVE lock on the model's table until the block ends."""
    db = connection.settings_dict
    other = psycopg.connect(
        host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None
    )
    try:
        other.execute("SET lock_timeout = '10s'")  # a lock the test itself holds fails the test, not hangs it
        other.execute(f"LOCK TABLE {connection.ops.quote_name(model._meta.db_table)} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        other.rollback()
        other.close()
