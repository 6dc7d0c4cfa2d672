"""Audit events, seals and checkpoints are append-only in the database itself, whoever connects."""

from django.db import migrations

from core.migration_ops import EnableTenantRLS

APPEND_ONLY_TABLES = ("audit_auditevent", "audit_auditseal", "audit_auditcheckpoint")

# Retention is the one sanctioned delete: the owner-only audit_expire() function sets this transaction-local flag.
# The app role has no DELETE privilege at all, so the flag matters only to the owner, and only inside that function.
FORWARD = [
    """
    CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND current_setting('app.audit_expiring', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    *[
        statement
        for table in APPEND_ONLY_TABLES
        for statement in (
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()",
        )
    ],
]
BACKWARD = [
    *[
        statement
        for table in APPEND_ONLY_TABLES
        for statement in (
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}",
        )
    ],
    "DROP FUNCTION IF EXISTS audit_event_refuse_change()",
]


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("tenancy", "0002_row_level_security")]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD),
        EnableTenantRLS("auditevent"),
        EnableTenantRLS("auditsequence"),
        EnableTenantRLS("auditseal"),
        EnableTenantRLS("auditcheckpoint"),
    ]
