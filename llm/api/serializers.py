from rest_framework import serializers

from core.api.strict import StrictModelSerializer, StrictSerializer
from llm.models import ModelBudget, ModelCall, ModelConnection


class ModelConnectionSerializer(StrictModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    base_url = serializers.CharField(
        max_length=500,
        help_text="The OpenAI-compatible API root, for example https://models.lab.internal/v1. Loopback, private, "
        "link-local and metadata addresses are refused unless the operator allows their network.",
    )
    api_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=4096,
        trim_whitespace=False,
        help_text="Write-only: sent as the bearer token, stored encrypted, never returned. Empty removes it.",
    )
    has_api_key = serializers.SerializerMethodField()
    parameters = serializers.JSONField(
        required=False,
        help_text="Defaults for every call: temperature, top_p, max_tokens, presence_penalty, frequency_penalty, "
        "seed, stop.",
    )
    timeout_seconds = serializers.IntegerField(required=False, help_text="Longest wait for each piece of a reply.")

    class Meta:
        model = ModelConnection
        fields = [
            "id",
            "name",
            "base_url",
            "model",
            "parameters",
            "api_key",
            "has_api_key",
            "timeout_seconds",
            "enabled",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_has_api_key(self, obj: ModelConnection) -> bool:
        return bool(obj.api_key_sealed)


class ModelBudgetSerializer(StrictModelSerializer):
    token_limit = serializers.IntegerField(
        required=False, allow_null=True, help_text="Tokens the project may spend in all; null for no limit."
    )
    max_concurrent = serializers.IntegerField(required=False, help_text="Model calls the project may run at once.")
    running_calls = serializers.SerializerMethodField()

    class Meta:
        model = ModelBudget
        fields = ["token_limit", "tokens_used", "max_concurrent", "running_calls", "updated_at"]
        read_only_fields = ["tokens_used", "updated_at"]

    def get_running_calls(self, obj: ModelBudget) -> int:
        return int(self.context.get("running_calls", 0))


class ModelCallSerializer(serializers.ModelSerializer[ModelCall]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    connection = serializers.CharField(source="connection.name", read_only=True)
    model = serializers.CharField(source="connection.model", read_only=True)
    task = serializers.UUIDField(source="task.uuid", read_only=True, allow_null=True)
    member = serializers.UUIDField(source="member.uuid", read_only=True, allow_null=True)

    class Meta:
        model = ModelCall
        fields = [
            "id",
            "connection",
            "model",
            "purpose",
            "state",
            "task",
            "member",
            "parameters",
            "prompt_tokens",
            "completion_tokens",
            "ttft_ms",
            "latency_ms",
            "error_code",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields


class ModelBudgetUpdateSerializer(StrictSerializer):
    token_limit = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    max_concurrent = serializers.IntegerField(required=False, min_value=1, max_value=1000)
