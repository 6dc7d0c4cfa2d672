"""Suggestions: what an annotation records about the ones its annotator was offered, and the jobs that have a
model write them.

`Annotation.suggestions` maps each field the task carried a suggestion for to
`{"shown": bool, "kept": bool, "agent": str, "score": float | None}`, computed by the server at submit: shown when
the project showed suggestions, kept when the submitted value equals the suggested one. Fields without a
suggestion are absent, so an empty object means "nothing was suggested".

`SuggestionJob` is a durable job row like an import's, tenant-owned under row-level security.
"""

import uuid

import django.db.models.deletion
from django.db import migrations, models

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0006_annotation_reviewed"),
        ("llm", "0001_initial"),
        ("projects", "0012_task_suggestions"),
        ("tenancy", "0004_row_level_security"),
    ]

    operations = [
        migrations.AddField(
            model_name="annotation",
            name="suggestions",
            # A database default too: rows written by hand-written SQL need not name the column.
            field=models.JSONField(blank=True, default=dict, db_default={}),
        ),
        migrations.CreateModel(
            name="SuggestionJob",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("fields", models.JSONField(default=list)),
                ("prompt", models.TextField()),
                ("agent", models.CharField(max_length=200)),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("running", "Running"),
                            ("paused", "Paused"),
                            ("succeeded", "Succeeded"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=16,
                    ),
                ),
                ("total", models.PositiveIntegerField(default=0)),
                ("done_count", models.PositiveIntegerField(default=0)),
                ("failed_count", models.PositiveIntegerField(default=0)),
                ("skipped_count", models.PositiveIntegerField(default=0)),
                ("tokens", models.BigIntegerField(default=0)),
                ("errors", models.JSONField(blank=True, default=list)),
                ("checkpoint", models.BigIntegerField(default=0)),
                ("message", models.CharField(blank=True, max_length=1000)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("lease_holder", models.CharField(blank=True, default="", max_length=128)),
                ("lease_expires_at", models.DateTimeField(blank=True, null=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="llm.modelconnection"
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="tenancy.membership",
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
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="suggestion_jobs",
                        to="projects.project",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["project", "id"], name="suggestion_job_project_id")],
            },
        ),
        EnableTenantRLS("suggestionjob"),
    ]
