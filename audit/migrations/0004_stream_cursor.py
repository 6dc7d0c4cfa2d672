"""Delivery cursors of the SIEM streamer, one per organization and category, under row-level security."""

import django.db.models.deletion
from django.db import migrations, models

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0003_search_indexes"),
        ("tenancy", "0002_row_level_security"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditStreamCursor",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("category", models.CharField(max_length=32)),
                ("last_sequence", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(auto_now=True)),
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
                "constraints": [
                    models.UniqueConstraint(fields=("organization", "category"), name="audit_stream_cursor_unique")
                ],
            },
        ),
        EnableTenantRLS("auditstreamcursor"),
    ]
