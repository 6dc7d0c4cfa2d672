"""The database's own tenant wall: row-level security seen through raw SQL as the app role, as in production.

Nothing here goes through the ORM's scoping except the last tests, which check that the ORM fails closed.
"""

# ruff: noqa: S608 - the SQL built with f-strings only interpolates table names read from the catalog

from typing import Any

import pytest
from django.conf import settings
from django.db import ProgrammingError, connection, transaction

from core.context import TenantContextMissing, no_organization, organization_context
from core.db import GUC_ORGANIZATION, GUC_TOKEN_HASH, GUC_USER
from core.scoping import TenantManager, TenantOwned
from tenancy.models import Organization
from tests.isolation.routes import as_table_owner, populate, tenant_models

APP_ROLE = settings.DATABASE_APP_ROLE
TENANT_MODELS = tenant_models()
# Tables whose read policy is deliberately wider than the tenant, and the one setting that widens each.
WIDER_READS = {
    "tenancy_membership": GUC_USER,
    "tenancy_apitoken": GUC_TOKEN_HASH,
    "tenancy_invitation": "app.invitation_hash",
}


def fetch(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def scalar(sql: str, params: Any = None) -> Any:
    return fetch(sql, params)[0][0]


def tenant_tables() -> list[str]:
    """Every table in the schema with an organization_id column, whatever declared it."""
    return [
        row[0]
        for row in fetch(
            """
            SELECT c.relname FROM pg_class c
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'organization_id' AND NOT a.attisdropped
            WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
            ORDER BY c.relname
            """
        )
    ]


def refused(sql: str, params: Any = None) -> str:
    """Run a statement that must be refused for lack of privilege; return the database's message."""
    with pytest.raises(ProgrammingError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert caught.value.__cause__.sqlstate == "42501"  # insufficient_privilege
    return str(caught.value)


def set_guc(name: str, value: str) -> None:
    fetch("SELECT set_config(%s, %s, true)", [name, value])


def test_app_role_is_not_superuser_bypasses_nothing_and_owns_nothing(db):
    assert scalar("SELECT current_user") == APP_ROLE
    assert fetch(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
    ) == [(False, False, False, False)]
    assert (
        scalar("SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)")
        == 0
    )
    assert (
        scalar(
            "SELECT count(*) FROM pg_namespace WHERE nspowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
        )
        == 0
    )
    # Nor may it become an owner: membership in an owning role would let it SET ROLE past every policy.
    owners = fetch(
        """
        SELECT DISTINCT pg_get_userbyid(relowner), pg_has_role(current_user, relowner, 'MEMBER')
        FROM pg_class WHERE relnamespace = 'public'::regnamespace
        """
    )
    assert owners
    assert [owner for owner, member in owners if member] == []


def test_app_role_may_not_truncate_or_alter_tenant_tables(db):
    problems = [
        f"{table}: {privilege}"
        for table in tenant_tables()
        for privilege in ("TRUNCATE", "REFERENCES", "TRIGGER")
        if scalar("SELECT has_table_privilege(current_user, %s, %s)", [table, privilege])
    ]
    assert problems == []
    assert "must be owner" in refused('ALTER TABLE "projects_project" DISABLE ROW LEVEL SECURITY')


def test_every_tenant_table_forces_a_tenant_policy(db):
    tables = tenant_tables()
    assert set(tables) >= {m._meta.db_table for m in TENANT_MODELS}
    problems: list[str] = []
    checks: set[str] = set()
    for table in tables:
        flags = fetch("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = %s::regclass", [table])
        if flags != [(True, True)]:
            problems.append(f"{table}: row security enabled/forced = {flags}")
        policies = fetch(
            """
            SELECT polname, polcmd, polpermissive, polroles::oid[],
                   pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)
            FROM pg_policy WHERE polrelid = %s::regclass ORDER BY polname
            """,
            [table],
        )
        if len(policies) != 1:
            # Permissive policies add up: any second one could only widen what the tenant policy admits.
            problems.append(f"{table}: expected exactly one policy, found {[p[0] for p in policies]}")
            continue
        name, command, permissive, roles, using, check = policies[0]
        if (name, command, permissive, roles) != ("tenant_isolation", "*", True, [0]):
            problems.append(f"{table}: policy {name} for {command}, permissive={permissive}, roles={roles}")
        if check is None or f"current_setting('{GUC_ORGANIZATION}'" not in check or " OR " in check:
            problems.append(f"{table}: WITH CHECK must test the tenant setting and nothing else: {check}")
            continue
        checks.add(check)
        if table in WIDER_READS:
            extra = WIDER_READS[table]
            if using is None or check not in using or using.count(" OR ") != 1 or f"'{extra}'" not in using:
                problems.append(f"{table}: USING must be the tenant test OR the {extra} lookup: {using}")
        elif using != check:
            problems.append(f"{table}: USING must equal WITH CHECK: {using}")
    assert problems == []
    # One tenant test, the same everywhere.
    assert len(checks) == 1
    assert checks.pop().replace(" ", "") == (
        "(organization_id=(NULLIF(current_setting('app.organization_id'::text,true),''::text))::bigint)"
    )


def test_with_no_tenant_set_every_tenant_table_reads_empty(db):
    populate("acme")
    populate("bravo")
    assert fetch("SELECT current_setting(%s, true)", [GUC_ORGANIZATION]) in ([("",)], [(None,)])
    problems = []
    for table in tenant_tables():
        seen = scalar(f'SELECT count(*) FROM "{table}"')
        with as_table_owner():
            exist = scalar(f'SELECT count(*) FROM "{table}"')
        if exist == 0:
            problems.append(f"{table}: no rows to hide; give populate() one of them")
        if seen != 0:
            problems.append(f"{table}: {seen} of {exist} rows visible with no tenant set")
    assert problems == []


def test_a_tenant_sees_exactly_its_own_rows(db):
    a, b = populate("acme"), populate("bravo")
    for table in tenant_tables():
        with as_table_owner():
            expected = scalar(f'SELECT count(*) FROM "{table}" WHERE organization_id = %s', [a.organization.pk])
        with organization_context(a.organization.pk):
            rows = fetch(f'SELECT DISTINCT organization_id, count(*) FROM "{table}" GROUP BY 1')
        assert rows == [(a.organization.pk, expected)], table
    assert b.organization.pk != a.organization.pk


def test_writes_for_another_organization_are_refused(db):
    a, b = populate("acme"), populate("bravo")
    with organization_context(a.organization.pk):
        for table in tenant_tables():
            columns = [
                r[0]
                for r in fetch(
                    "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                    "AND NOT attisdropped AND attname NOT IN ('id', 'organization_id') ORDER BY attnum",
                    [table],
                )
            ]
            row_id = scalar(f'SELECT min(id) FROM "{table}"')
            assert row_id is not None, f"{table}: tenant A has no row to copy"
            names = ", ".join(f'"{c}"' for c in columns)
            # A copy of A's own row, labelled as B's: the WITH CHECK clause, not a constraint, must stop it.
            message = refused(
                f'INSERT INTO "{table}" ({names}, organization_id) SELECT {names}, %s FROM "{table}" WHERE id = %s',
                [b.organization.pk, row_id],
            )
            assert f'new row violates row-level security policy for table "{table}"' in message
            if scalar("SELECT has_table_privilege(current_user, %s, 'UPDATE')", [table]):
                message = refused(
                    f'UPDATE "{table}" SET organization_id = %s WHERE id = %s', [b.organization.pk, row_id]
                )
                assert f'new row violates row-level security policy for table "{table}"' in message
            # B's rows are out of reach of A's writes: they match nothing.
            with connection.cursor() as cursor:
                if scalar("SELECT has_table_privilege(current_user, %s, 'DELETE')", [table]):
                    cursor.execute(f'DELETE FROM "{table}" WHERE organization_id = %s', [b.organization.pk])
                    assert cursor.rowcount == 0, table
                if scalar("SELECT has_table_privilege(current_user, %s, 'UPDATE')", [table]):
                    cursor.execute(
                        f'UPDATE "{table}" SET organization_id = organization_id WHERE organization_id = %s',
                        [b.organization.pk],
                    )
                    assert cursor.rowcount == 0, table
    for table in tenant_tables():
        with as_table_owner():
            assert scalar(f'SELECT count(*) FROM "{table}" WHERE organization_id = %s', [b.organization.pk]) > 0, table


def test_lookup_settings_admit_only_the_row_they_name_and_never_widen_writes(db):
    a, b = populate("acme"), populate("bravo")
    with transaction.atomic():
        set_guc(GUC_USER, str(a.owner.user_id))
        assert fetch("SELECT organization_id, user_id FROM tenancy_membership") == [
            (a.organization.pk, a.owner.user_id)
        ]
        assert scalar("SELECT count(*) FROM projects_project") == 0
        assert scalar("SELECT count(*) FROM tenancy_apitoken") == 0
        message = refused(
            "INSERT INTO tenancy_membership (uuid, created_at, updated_at, role, user_id, organization_id) "
            "VALUES (gen_random_uuid(), now(), now(), 'owner', %s, %s)",
            [a.owner.user_id, b.organization.pk],
        )
        assert "row-level security" in message
        set_guc(GUC_USER, "")
    token = b.tokens[next(iter(b.tokens))]
    with transaction.atomic():
        set_guc(GUC_TOKEN_HASH, token.key_hash)
        assert fetch("SELECT id FROM tenancy_apitoken") == [(token.pk,)]
        assert scalar("SELECT count(*) FROM tenancy_membership") == 0
        set_guc(GUC_TOKEN_HASH, "")
    assert scalar("SELECT count(*) FROM tenancy_apitoken") == 0


def test_tenant_setting_does_not_outlive_its_context(db):
    a = populate("acme")
    with organization_context(a.organization.pk):
        assert scalar("SELECT current_setting(%s, true)", [GUC_ORGANIZATION]) == str(a.organization.pk)
        assert scalar("SELECT count(*) FROM projects_project") == 2  # its project and its chat project
    assert scalar("SELECT current_setting(%s, true)", [GUC_ORGANIZATION]) == ""
    assert scalar("SELECT count(*) FROM projects_project") == 0


# --- the app layer fails closed too ---


@pytest.mark.parametrize("model", TENANT_MODELS, ids=[m._meta.label_lower for m in TENANT_MODELS])
def test_orm_without_a_tenant_raises(db, model):
    populate("acme")
    with no_organization():
        with pytest.raises(TenantContextMissing):
            model.objects.count()
        with pytest.raises(TenantContextMissing):
            list(model.objects.all())
        with pytest.raises(TenantContextMissing):
            model.objects.filter(pk=1).exists()
        with pytest.raises(TenantContextMissing):
            model._default_manager.first()
        with pytest.raises(TenantContextMissing):
            model().save()


def test_every_model_owned_by_an_organization_uses_the_fail_closed_manager():
    from django.apps import apps

    owned = []
    for model in apps.get_models():
        points_at_organization = any(
            getattr(f, "related_model", None) is Organization and f.many_to_one for f in model._meta.get_fields()
        )
        if points_at_organization or issubclass(model, TenantOwned):
            owned.append(model._meta.label_lower)
            assert issubclass(model, TenantOwned), model
            assert type(model._default_manager) is TenantManager, model
            assert type(model.objects) is TenantManager, model
    assert len(owned) >= 7
