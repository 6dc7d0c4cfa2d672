"""config/database: the roles script as the deployment applies it, and the embedded server `make run` starts."""

import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg.conninfo import make_conninfo

from config.database import DatabaseRoles, EmbeddedServer, database_drop, database_provision, embedded_socket_dir


def _admin() -> str:
    s = connection.settings_dict
    return make_conninfo(host=s["HOST"], port=s["PORT"] or None, user=s["USER"], dbname="postgres")


def _scalar(dsn: str, sql: str, params: list[object] | None = None) -> object:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(sql, params or []).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def scratch_roles():
    """A database and two roles of this test's own, dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    roles = DatabaseRoles(name=f"roles_{suffix}", owner=f"owner_{suffix}", app=f"app_{suffix}")
    yield roles
    database_drop(_admin(), roles.name)
    with psycopg.connect(_admin(), autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{roles.owner}", "{roles.app}"')


def test_roles_script_creates_what_the_deployment_promises_and_runs_twice(db, scratch_roles):
    admin = _admin()

    database_provision(admin, scratch_roles)
    database_provision(admin, scratch_roles)  # idempotent: every `make run` applies it again

    attributes = (
        "SELECT rolsuper, rolinherit, rolbypassrls, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = %s"
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        assert conn.execute(attributes, [scratch_roles.owner]).fetchone() == (False, True, False, False, False)
        assert conn.execute(attributes, [scratch_roles.app]).fetchone() == (False, False, False, False, False)
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [scratch_roles.name]
        ).fetchone()
        assert owner == (scratch_roles.owner,)
        # PUBLIC holds nothing on the database: no CONNECT, no TEMPORARY, no CREATE.
        public = conn.execute(
            "SELECT count(*) FROM pg_database, aclexplode(datacl) AS acl WHERE datname = %s AND acl.grantee = 0",
            [scratch_roles.name],
        ).fetchone()
        assert public == (0,)
        privileges = conn.execute(
            "SELECT has_database_privilege(%s, %s, 'CONNECT'), has_database_privilege(%s, %s, 'TEMPORARY'),"
            " has_database_privilege(%s, %s, 'CREATE')",
            [scratch_roles.app, scratch_roles.name] * 3,
        ).fetchone()
        assert privileges == (True, True, False)
    app = make_conninfo(admin, user=scratch_roles.app, dbname=scratch_roles.name)
    with psycopg.connect(app) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.planted (id int)")
        conn.rollback()
        # What the import's staging needs, and all it needs beyond row privileges.
        conn.execute("CREATE TEMPORARY TABLE staging (id int) ON COMMIT DELETE ROWS")


def test_roles_script_sets_passwords_only_when_given(db, scratch_roles):
    admin = _admin()
    database_provision(admin, scratch_roles)
    has_password = "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s"
    assert _scalar(admin, has_password, [scratch_roles.app]) is False

    database_provision(admin, DatabaseRoles(**{**scratch_roles.__dict__, "app_password": "a-long-app-password"}))

    assert _scalar(admin, has_password, [scratch_roles.app]) is True
    assert _scalar(admin, has_password, [scratch_roles.owner]) is False


def test_embedded_server_starts_under_the_data_directory_and_serves_the_app_role_on_its_socket_only(tmp_path):
    server = EmbeddedServer(tmp_path / "var")

    assert server.start() is True
    try:
        assert server.start() is False  # already running: a second start reuses it
        database_provision(server.dsn(), DatabaseRoles())
        with psycopg.connect(server.dsn("annotate_app", "annotate")) as conn:
            assert conn.execute("SELECT current_user, current_setting('listen_addresses')").fetchone() == (
                "annotate_app",
                "",
            )
        assert (server.socket_dir / ".s.PGSQL.5432").exists()
        assert (server.socket_dir.stat().st_mode & 0o777) == 0o700
    finally:
        server.stop()
    assert server.running() is False


def test_socket_folder_moves_out_of_a_data_directory_too_deep_for_a_unix_socket(tmp_path):
    deep = tmp_path / ("d" * 120)

    assert embedded_socket_dir(tmp_path) == tmp_path.resolve() / "postgres" / "run"
    short = embedded_socket_dir(deep)
    assert short.parent == Path(__import__("tempfile").gettempdir())
    assert len(str(short / ".s.PGSQL.5432")) < 100
