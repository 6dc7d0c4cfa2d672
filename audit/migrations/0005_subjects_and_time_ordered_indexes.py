"""Search keyed on (occurred_at, id), and "who saw X" through a subject table.

- The per-filter indexes become (organization, <column>, occurred_at, id), the list's order, so a time window
  or a deep cursor is one index range rather than a walk along the primary key.
- AuditSubject: one row per object an event names (its target, and every task a task list served), append-only
  and under row-level security like the events, filled here from the events already recorded. It replaces the
  GIN index on metadata->'task_ids', which could not give its matches in the list's order.
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

from core.migration_ops import EnableTenantRLS

SUBJECTS = "audit_auditsubject"

INDEXES_FORWARD = [
    "DROP INDEX IF EXISTS audit_event_task_ids",
    "DROP INDEX IF EXISTS audit_event_org_mproject_id",
    "CREATE INDEX IF NOT EXISTS audit_event_org_mproject_at "
    "ON audit_auditevent (organization_id, (metadata -> 'project'), occurred_at, id)",
]
INDEXES_BACKWARD = [
    "DROP INDEX IF EXISTS audit_event_org_mproject_at",
    "CREATE INDEX IF NOT EXISTS audit_event_org_mproject_id "
    "ON audit_auditevent (organization_id, (metadata -> 'project'), id)",
    "CREATE INDEX IF NOT EXISTS audit_event_task_ids "
    "ON audit_auditevent USING gin ((metadata -> 'task_ids') jsonb_path_ops)",
]

# The same append-only triggers as the other trail tables (migration 0002): the owner-only retention path alone,
# with its transaction-local flag, may delete.
TRIGGERS_FORWARD = [
    f"CREATE TRIGGER {SUBJECTS}_no_update_delete BEFORE UPDATE OR DELETE ON {SUBJECTS} "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()",
    f"CREATE TRIGGER {SUBJECTS}_no_truncate BEFORE TRUNCATE ON {SUBJECTS} "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()",
]
TRIGGERS_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {SUBJECTS}_no_truncate ON {SUBJECTS}",
    f"DROP TRIGGER IF EXISTS {SUBJECTS}_no_update_delete ON {SUBJECTS}",
]

# Each event's own target, and the task ids (strings) a task list names, as `audit.services.recording.subject_ids` picks
# them; UNION drops a subject an event names twice.
BACKFILL = f"""
INSERT INTO {SUBJECTS} (organization_id, subject_id, occurred_at, event_id)
SELECT organization_id, target_id, occurred_at, id FROM audit_auditevent
WHERE organization_id = %s AND target_id <> ''
UNION
SELECT e.organization_id, listed.value #>> '{{}}', e.occurred_at, e.id
FROM audit_auditevent e
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(e.metadata -> 'task_ids') = 'array' THEN e.metadata -> 'task_ids' ELSE '[]' END
) AS listed(value)
WHERE e.organization_id = %s AND jsonb_typeof(listed.value) = 'string'
  AND length(listed.value #>> '{{}}') BETWEEN 1 AND 64
"""  # noqa: S608 - table names are ours


def forward(apps: Any, schema_editor: Any) -> None:
    for statement in INDEXES_FORWARD + TRIGGERS_FORWARD:
        schema_editor.execute(statement, params=None)
    # The events are under forced row-level security and the migrating owner has no BYPASSRLS: read them one
    # organization at a time, as that organization.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tenancy_organization ORDER BY id")
        organization_ids = [row[0] for row in cursor.fetchall()]
        for organization_id in organization_ids:
            cursor.execute("SELECT set_config('app.organization_id', %s, true)", [str(organization_id)])
            cursor.execute(BACKFILL, [organization_id, organization_id])
        cursor.execute("SELECT set_config('app.organization_id', '', true)")


def backward(apps: Any, schema_editor: Any) -> None:
    for statement in TRIGGERS_BACKWARD + INDEXES_BACKWARD:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_stream_cursor"),
        ("tenancy", "0002_row_level_security"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="auditevent", name="audit_event_org_category_id"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_event_org_action_id"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_event_org_actor_id"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_event_org_target_id"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_event_org_ttype_id"),
        migrations.RemoveIndex(model_name="auditevent", name="audit_event_org_outcome_id"),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["organization", "category", "occurred_at", "id"], name="audit_event_org_category_at"
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["organization", "action", "occurred_at", "id"], name="audit_event_org_action_at"
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["organization", "actor_label", "occurred_at", "id"], name="audit_event_org_actor_at"
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["organization", "target_id", "occurred_at", "id"], name="audit_event_org_target_at"
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["organization", "target_type", "occurred_at", "id"], name="audit_event_org_ttype_at"
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["organization", "outcome", "occurred_at", "id"], name="audit_event_org_outcome_at"
            ),
        ),
        migrations.CreateModel(
            name="AuditSubject",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("subject_id", models.CharField(max_length=64)),
                ("occurred_at", models.DateTimeField()),
                (
                    "event",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="subjects",
                        to="audit.auditevent",
                    ),
                ),
                (
                    "organization",
                    models.ForeignKey(
                        editable=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="tenancy.organization",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["organization", "subject_id", "occurred_at", "event"], name="audit_subject_lookup"
                    )
                ],
            },
        ),
        migrations.RunPython(forward, backward),
        EnableTenantRLS("auditsubject"),
    ]
