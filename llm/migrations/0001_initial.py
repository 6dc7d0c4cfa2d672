"""Model connections, project budgets and model calls, each behind row-level security."""

import uuid

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("projects", "0011_reject_returns_to_annotator"),
        ("tenancy", "0005_api_token_resolve"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ModelConnection",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("name", models.CharField(max_length=100)),
                ("base_url", models.CharField(max_length=500)),
                ("model", models.CharField(max_length=200)),
                ("parameters", models.JSONField(blank=True, default=dict)),
                ("api_key_sealed", models.TextField(blank=True)),
                ("timeout_seconds", models.PositiveSmallIntegerField(default=60)),
                ("enabled", models.BooleanField(default=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "created_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
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
                "constraints": [
                    models.UniqueConstraint(fields=("organization", "name"), name="model_connection_unique_name")
                ],
            },
        ),
        migrations.CreateModel(
            name="ModelBudget",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("token_limit", models.BigIntegerField(blank=True, null=True)),
                ("tokens_used", models.BigIntegerField(default=0)),
                ("max_concurrent", models.PositiveSmallIntegerField(default=8)),
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
                (
                    "project",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="model_budget", to="projects.project"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("tokens_used__gte", 0)), name="model_budget_used_non_negative"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ModelCall",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "purpose",
                    models.CharField(
                        choices=[("chat", "Chat"), ("suggestion", "Suggestion"), ("judge", "Judge")], max_length=16
                    ),
                ),
                (
                    "state",
                    models.CharField(
                        choices=[("running", "Running"), ("succeeded", "Succeeded"), ("failed", "Failed")],
                        default="running",
                        max_length=16,
                    ),
                ),
                ("parameters", models.JSONField(default=dict)),
                ("tokens_reserved", models.IntegerField(default=0)),
                ("prompt_tokens", models.IntegerField(default=0)),
                ("completion_tokens", models.IntegerField(default=0)),
                ("ttft_ms", models.FloatField(blank=True, null=True)),
                ("latency_ms", models.FloatField(blank=True, null=True)),
                ("error_code", models.CharField(blank=True, max_length=32)),
                ("stale_after", models.DateTimeField()),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "connection",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="calls", to="llm.modelconnection"
                    ),
                ),
                (
                    "member",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="model_calls",
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
                        on_delete=django.db.models.deletion.CASCADE, related_name="model_calls", to="projects.project"
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="projects.task",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        condition=models.Q(("state", "running")),
                        fields=["project", "stale_after"],
                        name="model_call_running",
                    ),
                    models.Index(fields=["project", "id"], name="model_call_project_id"),
                ],
            },
        ),
        EnableTenantRLS("modelconnection"),
        EnableTenantRLS("modelbudget"),
        EnableTenantRLS("modelcall"),
    ]
