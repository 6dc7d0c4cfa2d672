"""Judge runs and their verdicts, each behind row-level security."""

import uuid

import django.db.models.deletion
from django.db import migrations, models

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [
        ("llm", "0001_initial"),
        ("projects", "0011_reject_returns_to_annotator"),
        ("tenancy", "0005_api_token_resolve"),
    ]

    operations = [
        migrations.CreateModel(
            name="JudgeRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("fields", models.JSONField(default=list)),
                ("schema_version", models.PositiveIntegerField()),
                ("instruction", models.TextField(blank=True)),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("running", "Running"),
                            ("succeeded", "Succeeded"),
                            ("failed", "Failed"),
                            ("cancelled", "Cancelled"),
                            ("paused", "Paused"),
                        ],
                        default="pending",
                        max_length=16,
                    ),
                ),
                ("reason", models.TextField(blank=True)),
                ("total", models.IntegerField(default=0)),
                ("judged", models.IntegerField(default=0)),
                ("invalid", models.IntegerField(default=0)),
                ("failed", models.IntegerField(default=0)),
                ("errors", models.JSONField(default=list)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="judge_runs", to="llm.modelconnection"
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
                        on_delete=django.db.models.deletion.CASCADE, related_name="judge_runs", to="projects.project"
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="JudgeVerdict",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("result", models.JSONField(blank=True, null=True)),
                ("valid", models.BooleanField(default=False)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("error", models.TextField(blank=True)),
                (
                    "call",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="llm.modelcall",
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
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="verdicts", to="llm.judgerun"
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="projects.task"
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="judgerun",
            index=models.Index(fields=["project", "id"], name="judge_run_project_id"),
        ),
        migrations.AddIndex(
            model_name="judgeverdict",
            index=models.Index(fields=["run", "id"], name="judge_verdict_run_id"),
        ),
        migrations.AddConstraint(
            model_name="judgeverdict",
            constraint=models.UniqueConstraint(fields=("run", "task"), name="judge_verdict_one_per_task"),
        ),
        EnableTenantRLS("judgerun"),
        EnableTenantRLS("judgeverdict"),
    ]
