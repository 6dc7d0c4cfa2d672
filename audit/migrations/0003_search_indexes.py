"""Search indexes: one (organization, <column>, id) index per filter so that a newest-first page is a backward index
scan, plus two indexes on metadata (the project an event names, and a task list's task ids)."""

from django.conf import settings
from django.db import migrations, models

METADATA_INDEXES = [
    (
        "audit_event_org_mproject_id",
        "CREATE INDEX IF NOT EXISTS audit_event_org_mproject_id "
        "ON audit_auditevent (organization_id, (metadata -> 'project'), id)",
    ),
    (
        "audit_event_task_ids",
        "CREATE INDEX IF NOT EXISTS audit_event_task_ids "
        "ON audit_auditevent USING gin ((metadata -> 'task_ids') jsonb_path_ops)",
    ),
]


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
        ("tenancy", "0002_row_level_security"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="auditevent",
            name="audit_event_org_time",
        ),
        migrations.RemoveIndex(
            model_name="auditevent",
            name="audit_event_org_target",
        ),
        migrations.RemoveIndex(
            model_name="auditevent",
            name="audit_event_org_action",
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["organization", "occurred_at", "id"], name="audit_event_org_time_id"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["organization", "category", "id"], name="audit_event_org_category_id"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["organization", "action", "id"], name="audit_event_org_action_id"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["organization", "actor_label", "id"], name="audit_event_org_actor_id"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["organization", "target_id", "id"], name="audit_event_org_target_id"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["organization", "target_type", "id"], name="audit_event_org_ttype_id"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["organization", "outcome", "id"], name="audit_event_org_outcome_id"),
        ),
        migrations.RunSQL(
            [statement for _, statement in METADATA_INDEXES],
            [f"DROP INDEX IF EXISTS {name}" for name, _ in METADATA_INDEXES],
        ),
    ]
