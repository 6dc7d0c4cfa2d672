"""Request and response shapes of the suggestion-job endpoints."""

from typing import Any

from rest_framework import serializers

from annotation.models import SuggestionJob
from annotation.quality.prompts import PROMPT_MAX_LENGTH
from core.api.strict import StrictSerializer
from projects.label_schema.suggestions import AGENT_MAX_LENGTH


class SuggestionJobCreateSerializer(StrictSerializer):
    connection = serializers.UUIDField(help_text="A model connection of the organization.")
    fields = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(max_length=100),
        min_length=1,
        help_text="The label fields the model suggests answers for.",
    )
    prompt = serializers.CharField(
        max_length=PROMPT_MAX_LENGTH,
        trim_whitespace=False,
        help_text="Sent as the user message, with each {{ key }} replaced by the task data's value (dots for nested "
        "keys; non-text values as JSON). Nothing else in it is interpreted.",
    )
    agent = serializers.CharField(
        max_length=AGENT_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        help_text="The name the suggestions carry (shown to annotators, reported per agent); the model by default.",
    )


class SuggestionJobErrorSerializer(serializers.Serializer[Any]):
    task = serializers.CharField(help_text="The task's external id.")
    code = serializers.CharField()
    message = serializers.CharField()


class SuggestionJobSerializer(serializers.ModelSerializer[SuggestionJob]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    project = serializers.UUIDField(source="project.uuid", read_only=True)
    connection = serializers.UUIDField(source="connection.uuid", read_only=True)
    fields = serializers.ListField(child=serializers.CharField(), read_only=True)  # type: ignore[assignment]
    # A declared field named `errors` shadows Serializer.errors only in the stubs; DRF keeps fields apart.
    errors = SuggestionJobErrorSerializer(  # type: ignore[assignment]
        many=True, read_only=True, help_text="The first 100 tasks that failed, in task order."
    )
    progress = serializers.SerializerMethodField(help_text="From 0 to 1.")

    class Meta:
        model = SuggestionJob
        fields = [
            "id",
            "project",
            "connection",
            "fields",
            "prompt",
            "agent",
            "state",
            "progress",
            "total",
            "done_count",
            "failed_count",
            "skipped_count",
            "tokens",
            "errors",
            "message",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_progress(self, job: SuggestionJob) -> float:
        if job.state == "succeeded":
            return 1.0
        if not job.total:
            return 0.0
        return min(1.0, (job.done_count + job.failed_count + job.skipped_count) / job.total)
