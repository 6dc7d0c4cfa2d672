"""Suite-wide fixtures: the database as the app role, API clients per member, and the factories."""

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django.db import DatabaseError, connection, connections
from django.db.backends.signals import connection_created
from django.test import Client
from django.test.utils import setup_databases
from psycopg.conninfo import make_conninfo
from pytest_factoryboy import register
from rest_framework.test import APIClient

from config.database import DatabaseRoles, connection_as, database_drop, database_provision
from core.context import organization_context
from tenancy.models import Role
from tests.factories import (
    ApiTokenFactory,
    MembershipFactory,
    OrganizationFactory,
    ProjectFactory,
    TaskFactory,
    UserFactory,
)

register(UserFactory)
register(OrganizationFactory)
register(MembershipFactory)
register(ApiTokenFactory)
register(ProjectFactory)
register(TaskFactory)

APP_ROLE = settings.DATABASE_APP_ROLE
OWNER_ROLE = "annotate_owner"


def _admin_dsn(settings_dict: dict[str, Any]) -> str:
    """The suite's own login (DATABASE_URL: a superuser, or a role with CREATEROLE and CREATEDB), on the
    maintenance database: it provisions and drops the test database and plays the attacker in tamper tests."""
    return make_conninfo(
        host=settings_dict["HOST"] or None,
        port=settings_dict["PORT"] or None,
        user=settings_dict["USER"] or None,
        password=settings_dict["PASSWORD"] or None,
        dbname="postgres",
    )


@pytest.fixture(scope="session")
def django_db_setup(
    django_test_environment: None,
    django_db_blocker: Any,
    django_db_modify_db_settings: None,
    django_db_keepdb: bool,
) -> Iterator[None]:
    """The test database is made by the deployment's own script (config/database/roles.sql: owner and app roles,
    TEMP and CREATE revoked from PUBLIC) and migrated as the owner role, exactly as an operator's `migrate` runs."""
    settings_dict = connection.settings_dict
    name = settings_dict["TEST"].get("NAME") or f"test_{settings_dict['NAME']}"
    admin = _admin_dsn(settings_dict)
    with django_db_blocker.unblock():
        if not django_db_keepdb:
            database_drop(admin, name)
        database_provision(admin, DatabaseRoles(name=name, owner=OWNER_ROLE, app=APP_ROLE))
        with connection_as(settings_dict, OWNER_ROLE, connection.close):
            # keepdb: the script made the database already; Django only migrates it (as the owner).
            setup_databases(verbosity=0, interactive=False, keepdb=True)
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            connections.close_all()
            database_drop(admin, name)


def _become_app_role(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    # The suite logs in as the owner (to create and migrate the test database) and then acts as the app
    # role for everything else, exactly as the web and worker processes do in production.
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {connection.ops.quote_name(APP_ROLE)}")


@pytest.fixture(scope="session", autouse=True)
def _app_role_session(request: pytest.FixtureRequest, django_db_blocker: Any) -> Iterator[None]:
    """Act as the app role once the test database is built."""
    request.getfixturevalue("django_db_setup")
    if not str(connection.settings_dict["NAME"]).startswith("test_"):
        # No test in this session uses the database (pytest-django then builds none): there is nothing to act
        # as, and connecting would reach the development database instead.
        yield
        return
    with django_db_blocker.unblock():
        _become_app_role(connection=connection)
    connection_created.connect(_become_app_role, dispatch_uid="tests.app_role")
    _patch_flush_as_owner()
    yield
    connection_created.disconnect(dispatch_uid="tests.app_role")
    with django_db_blocker.unblock():
        for conn in connections.all():
            if conn.connection is not None:
                with conn.cursor() as cursor:
                    cursor.execute("RESET ROLE")


def _patch_flush_as_owner() -> None:
    """Transactional tests empty the tables with TRUNCATE, which only the owner may do, and which the audit
    table's trigger refuses; the flush runs as the owner with triggers in replica mode, and nothing else does."""
    ops_class = type(connection.ops)
    original = ops_class.execute_sql_flush
    if getattr(original, "_as_owner", False):
        return

    def execute_sql_flush(self: Any, sql_list: list[str]) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute("SET session_replication_role = replica")
        try:
            # A request a browser test left behind can still hold row locks that the TRUNCATE's table locks wait
            # on in the other order; PostgreSQL then breaks the deadlock by failing one side. The flush tries again
            # once the request has finished instead of failing the test that happened to be last.
            for attempt in range(3):
                try:
                    original(self, sql_list)
                    break
                except DatabaseError as exc:
                    code = getattr(exc.__cause__, "sqlstate", None)
                    if code not in {"40P01", "55P03"} or attempt == 2:
                        raise
                    time.sleep(0.5)
        finally:
            with self.connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = origin")
                cursor.execute(f"SET ROLE {self.connection.ops.quote_name(APP_ROLE)}")

    execute_sql_flush._as_owner = True  # type: ignore[attr-defined]
    ops_class.execute_sql_flush = execute_sql_flush


@pytest.fixture(autouse=True)
def _cache_of_its_own() -> Iterator[None]:
    """Each test gets its own cache keys, so throttle counters and cached values never carry from one test (or
    one concurrent suite run) into another; the keys expire on their own."""
    cache = caches["default"]
    original = cache.key_prefix
    cache.key_prefix = f"{original}-{uuid.uuid4().hex[:12]}"
    yield
    cache.key_prefix = original


@pytest.fixture
def tenant(db: Any) -> Iterator[Any]:
    """An organization, entered: factories and queries in the test body act for it."""
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        yield organization


@pytest.fixture
def other_tenant(db: Any) -> Any:
    return OrganizationFactory()


def member_client(organization: Any, role: Role, **user_fields: Any) -> tuple[APIClient, Any]:
    """An API client authenticated with a fresh token of a new member of `organization` with `role`."""
    with organization_context(organization.pk):
        membership = MembershipFactory(organization=organization, role=role, **user_fields)
        token = ApiTokenFactory(membership=membership, role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.raw}")
    client.membership = membership  # type: ignore[attr-defined]
    return client, membership


def session_client(organization: Any, role: Role) -> tuple[Client, Any]:
    """A browser-like client signed in as a new member of `organization` with `role` (for the web pages)."""
    with organization_context(organization.pk):
        membership = MembershipFactory(organization=organization, role=role)
    client = Client()
    client.force_login(membership.user)
    return client, membership


@pytest.fixture
def api_as(db: Any) -> Any:
    """`api_as(org, role)` → an APIClient acting as a new member of that organization with that role."""

    def make(organization: Any, role: Role = Role.OWNER, **user_fields: Any) -> APIClient:
        client, _ = member_client(organization, role, **user_fields)
        return client

    return make
