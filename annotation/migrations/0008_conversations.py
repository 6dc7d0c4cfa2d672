"""Live chat with the organization's models: conversations and their message trees, tenant-owned with row-level
security like every annotation table."""

import uuid

import django.db.models.deletion
from django.db import migrations, models

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0007_annotation_suggestions"),
        ("llm", "0001_initial"),
        ("projects", "0004_review_and_schema_versions"),
        ("tenancy", "0004_row_level_security"),
    ]

    operations = [
        migrations.CreateModel(
            name="Conversation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("field", models.CharField(max_length=64)),
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
                        related_name="conversations",
                        to="projects.project",
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="conversations", to="projects.task"
                    ),
                ),
                (
                    "assignment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="conversations",
                        to="annotation.assignment",
                    ),
                ),
                (
                    "annotator",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="conversations",
                        to="tenancy.membership",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["project", "id"], name="conversation_project_id")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("assignment", "field"), name="conversation_one_per_assignment_field"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ChatMessage",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("uuid", models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("role", models.CharField(choices=[("user", "User"), ("assistant", "Assistant")], max_length=16)),
                ("content", models.TextField(blank=True)),
                ("turn", models.PositiveSmallIntegerField()),
                (
                    "origin",
                    models.CharField(
                        choices=[
                            ("prompt", "Prompt"),
                            ("generated", "Generated"),
                            ("regenerated", "Regenerated"),
                            ("edited", "Edited"),
                        ],
                        max_length=16,
                    ),
                ),
                ("model_name", models.CharField(blank=True, max_length=200)),
                ("parameters", models.JSONField(blank=True, default=dict)),
                ("slot", models.CharField(blank=True, max_length=1)),
                ("slot_order", models.JSONField(blank=True, default=list)),
                (
                    "state",
                    models.CharField(
                        choices=[("streaming", "Streaming"), ("complete", "Complete"), ("failed", "Failed")],
                        max_length=16,
                    ),
                ),
                ("error_code", models.CharField(blank=True, max_length=32)),
                ("error_message", models.CharField(blank=True, max_length=300)),
                ("ttft_ms", models.FloatField(blank=True, null=True)),
                ("latency_ms", models.FloatField(blank=True, null=True)),
                ("prompt_tokens", models.PositiveIntegerField(default=0)),
                ("completion_tokens", models.PositiveIntegerField(default=0)),
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
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="annotation.conversation",
                    ),
                ),
                (
                    "parent",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.RESTRICT,
                        related_name="children",
                        to="annotation.chatmessage",
                    ),
                ),
                (
                    "edited_from",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.RESTRICT,
                        related_name="+",
                        to="annotation.chatmessage",
                    ),
                ),
                (
                    "regenerated_from",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.RESTRICT,
                        related_name="+",
                        to="annotation.chatmessage",
                    ),
                ),
                (
                    "connection",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="llm.modelconnection",
                    ),
                ),
            ],
            options={"indexes": [models.Index(fields=["conversation", "id"], name="chat_message_conversation")]},
        ),
        EnableTenantRLS("conversation"),
        EnableTenantRLS("chatmessage"),
    ]
