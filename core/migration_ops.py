"""Migration operations and hooks that put tenant isolation into the database itself."""

import logging
from typing import Any

from django.apps import apps as global_apps
from django.conf import settings
from django.db import connections
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState

from core import db
from core.scoping import DEFAULT_APP_GRANTS, TenantOwned

logger = logging.getLogger(__name__)


class EnableTenantRLS(Operation):
    """Enable and force row-level security on a tenant model's table."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__name__, [self.model_name], {})

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def database_forwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        table = to_state.apps.get_model(app_label, self.model_name)._meta.db_table
        # The live model class carries the policy's extra read rule; historical models do not keep attributes.
        live = global_apps.get_model(app_label, self.model_name)
        for statement in db.policy_sql(table, getattr(live, "rls_extra_using", "")):
            schema_editor.execute(statement)

    def database_backwards(
        self,
        app_label: str,
        schema_editor: BaseDatabaseSchemaEditor,
        from_state: ProjectState,
        to_state: ProjectState,
    ) -> None:
        table = from_state.apps.get_model(app_label, self.model_name)._meta.db_table
        for statement in db.policy_drop_sql(table):
            schema_editor.execute(statement)

    def describe(self) -> str:
        return f"Enable row-level security on {self.model_name}"


# Django's own tables the app role only reads: it must never record or forge a migration.
_READ_ONLY_TABLES = {"django_migrations": ("SELECT",)}


def app_role_table_grants() -> list[tuple[str, tuple[str, ...]]]:
    """Each table with the privileges the app role gets on it: DML by default, less where a model says so."""
    grants: dict[str, tuple[str, ...]] = dict(_READ_ONLY_TABLES)
    for model in global_apps.get_models(include_auto_created=True):
        table = model._meta.db_table
        if issubclass(model, TenantOwned):
            grants[table] = model.app_role_grants
        else:
            grants.setdefault(table, DEFAULT_APP_GRANTS)
    return sorted(grants.items())


def apply_app_role_grants(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """post_migrate: grant the app role its table privileges (idempotent)."""
    if sender.name != "tenancy":
        return  # once per migrate run is enough; tenancy is always installed
    conn = connections[using]
    role = settings.DATABASE_APP_ROLE
    with conn.cursor() as cursor:
        cursor.execute(db.ROLE_EXISTS, {"role": role})
        if cursor.fetchone() is None:
            logger.warning("tenancy.app_role_missing", extra={"role": role})
            return
    existing = set(conn.introspection.table_names())
    db.grant_app_role(conn, role, [(t, p) for t, p in app_role_table_grants() if t in existing])
