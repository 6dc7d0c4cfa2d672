"""Request and response shapes of the judge-run endpoints."""

from typing import Any

from rest_framework import serializers

from core.api.strict import StrictSerializer
from llm.judge_prompt import INSTRUCTION_MAX_CHARS
from llm.models import JudgeRun, JudgeVerdict


class JudgeRunStartSerializer(StrictSerializer):
    connection = serializers.UUIDField(help_text="The id of the organization's model connection that judges.")
    # The body's key; DRF's metaclass takes declared fields off the class, so `Serializer.fields` is untouched.
    fields = serializers.ListField(  # type: ignore[assignment]
        child=serializers.CharField(max_length=64),
        required=False,
        allow_empty=True,
        max_length=200,
        help_text="Names of the schema fields to judge; left out or empty, every field a judge can answer "
        "(choices, rating, text, rubric, pairwise, ranking).",
    )
    instruction = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=INSTRUCTION_MAX_CHARS,
        trim_whitespace=False,
        help_text="Put before the prompt the platform builds from the schema, the guidelines and the task.",
    )


class JudgeRunSerializer(serializers.ModelSerializer[JudgeRun]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    project = serializers.UUIDField(source="project.uuid", read_only=True)
    connection = serializers.UUIDField(source="connection.uuid", read_only=True)
    connection_name = serializers.CharField(source="connection.name", read_only=True)
    model = serializers.CharField(source="connection.model", read_only=True)
    created_by = serializers.SerializerMethodField()
    processed = serializers.IntegerField(read_only=True)

    class Meta:
        model = JudgeRun
        fields = [
            "id",
            "project",
            "connection",
            "connection_name",
            "model",
            "fields",
            "instruction",
            "schema_version",
            "state",
            "reason",
            "total",
            "processed",
            "judged",
            "invalid",
            "failed",
            "errors",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_created_by(self, obj: JudgeRun) -> str | None:
        return None if obj.created_by is None else str(obj.created_by.uuid)


class JudgeVerdictSerializer(serializers.ModelSerializer[JudgeVerdict]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    task = serializers.UUIDField(source="task.uuid", read_only=True)
    external_id = serializers.CharField(source="task.external_id", read_only=True)
    call = serializers.SerializerMethodField()

    class Meta:
        model = JudgeVerdict
        fields = ["id", "task", "external_id", "result", "valid", "attempts", "error", "call", "created_at"]
        read_only_fields = fields

    def get_call(self, obj: JudgeVerdict) -> str | None:
        return None if obj.call is None else str(obj.call.uuid)


def judge_run_body(run: JudgeRun, **extra: Any) -> dict[str, Any]:
    return {**JudgeRunSerializer(run).data, **extra}
