"""Request and response shapes of the project and task endpoints."""

from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from core.api.strict import ExactResponseMixin, StrictModelSerializer, StrictSerializer
from projects import config
from projects.label_schema.fields import chat_connections_hidden
from projects.models import LabelSchemaVersion, Project, Task
from projects.services.projects import PROJECT_FIELDS
from tenancy.models import SKILL_LEVEL_MAX, SKILL_LEVEL_MIN


class ProjectSerializer(StrictModelSerializer):
    """The full project, for managers and above."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    label_schema = serializers.DictField(required=False)
    settings = serializers.DictField(required=False)
    overlap = serializers.IntegerField(min_value=1, max_value=config.MAX_OVERLAP, required=False)
    required_skills = serializers.DictField(
        child=serializers.IntegerField(min_value=SKILL_LEVEL_MIN, max_value=SKILL_LEVEL_MAX), required=False
    )
    required_languages = serializers.ListField(child=serializers.CharField(max_length=16), required=False)
    gold_rate = serializers.FloatField(min_value=0, max_value=1, required=False)
    gold_min_accuracy = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    qualification_size = serializers.IntegerField(min_value=0, max_value=500, required=False)
    qualification_min_accuracy = serializers.FloatField(min_value=0, max_value=1, required=False)
    qualification_cooldown_hours = serializers.IntegerField(min_value=0, max_value=24 * 365, required=False)
    max_active_per_annotator = serializers.IntegerField(min_value=1, max_value=50, required=False)
    lease_seconds = serializers.IntegerField(min_value=30, max_value=86400, required=False)
    review_mode = serializers.ChoiceField(choices=["none", "sample", "all"], required=False)
    review_rate = serializers.FloatField(min_value=0, max_value=1, required=False)
    review_levels = serializers.IntegerField(min_value=1, max_value=2, required=False)
    reject_returns_to = serializers.ChoiceField(
        choices=["annotator", "pool"],
        required=False,
        help_text="Where a rejected annotation's task goes: back to its annotator, who sees the reviewer's comment "
        "(`annotator`, the default for a new project), or to anyone else (`pool`).",
    )
    agreement_threshold = serializers.FloatField(min_value=0, max_value=1, required=False)
    new_schema_version = serializers.BooleanField(
        write_only=True,
        required=False,
        help_text="Start a new schema version (needed when a change would orphan existing annotations).",
    )

    class Meta:
        model = Project
        # Every field the services let a manager set, as they list them (projects.services.projects), so that the
        # two never drift apart; then what only the platform sets.
        fields = [
            "id",
            *PROJECT_FIELDS,
            "new_schema_version",
            "guidelines_version",
            "schema_version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "guidelines_version", "schema_version", "created_at", "updated_at"]


class ProjectBriefSerializer(ExactResponseMixin, serializers.ModelSerializer[Project]):
    """What annotators and reviewers see: the codename instead of the name, and what they need to label."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)
    # A chat field's model connections are named by slot letter only: the comparison is blind to labellers.
    label_schema = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = ["id", "name", "guidelines", "guidelines_version", "label_schema", "schema_version"]
        read_only_fields = fields

    def get_label_schema(self, project: Project) -> dict[str, Any]:
        return chat_connections_hidden(project.label_schema)


# What GET on a project answers: the whole project to managers and above, the brief to everyone else. The brief's
# schema is closed, so exactly one of the two matches any answer.
PROJECT_FOR_ROLE = PolymorphicProxySerializer(
    component_name="ProjectForRole",
    serializers=[ProjectSerializer, ProjectBriefSerializer],
    resource_type_field_name=None,
)


class TaskSerializer(serializers.ModelSerializer[Task]):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = Task
        fields = ["id", "external_id", "data", "priority", "created_at"]
        read_only_fields = fields


@extend_schema_field({"type": "object", "minProperties": 1, "additionalProperties": True})
class TaskDataField(serializers.DictField):
    pass


class TaskInputSerializer(StrictSerializer):
    """Documents one bulk item; the service validates all items in one pass and reports each by index.

    Strict like the service (projects.services.tasks._TASK_KEYS), so the schema says an unknown key is refused.
    """

    external_id = serializers.CharField(
        max_length=config.EXTERNAL_ID_MAX_LENGTH,
        required=False,
        help_text="Your key for the item; re-sending it creates nothing twice.",
    )
    # A declared field named `data` shadows Serializer.data only in the stubs; DRF keeps fields apart.
    data = TaskDataField(help_text="What the label schema's fields read; not empty.")  # type: ignore[assignment]
    priority = serializers.IntegerField(
        required=False, default=0, min_value=config.PRIORITY_RANGE[0], max_value=config.PRIORITY_RANGE[1]
    )
    required_skills = serializers.DictField(
        child=serializers.IntegerField(min_value=SKILL_LEVEL_MIN, max_value=SKILL_LEVEL_MAX),
        required=False,
        help_text="Overrides the project's: skill name -> least level.",
    )
    language = serializers.CharField(max_length=16, required=False, allow_blank=True)
    gold_answer = serializers.DictField(
        required=False, allow_null=True, help_text="Makes the task a gold task: the answer it is scored against."
    )
    qualification = serializers.BooleanField(
        required=False, default=False, help_text="Part of the qualification set (needs a gold_answer)."
    )
    suggestions = serializers.DictField(
        required=False,
        allow_null=True,
        help_text='Pre-annotations to pre-fill, per field: {"<field>": {"value": ..., "agent": "model@v3", '
        '"score": 0.8}}; each value is checked like an answer.',
    )


class TaskCreatedSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    external_id = serializers.CharField()


class TaskBulkResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    existing = serializers.IntegerField()
    tasks = TaskCreatedSerializer(many=True)
    existing_external_ids = serializers.ListField(child=serializers.CharField())


class SchemaVersionSerializer(serializers.ModelSerializer[LabelSchemaVersion]):
    class Meta:
        model = LabelSchemaVersion
        fields = ["version", "document", "created_at"]
        read_only_fields = fields


class LabelStudioConvertSerializer(StrictSerializer):
    label_studio_config = serializers.CharField(
        write_only=True, max_length=200_000, help_text="The <View> XML of a Label Studio project."
    )
    label_schema = serializers.DictField(read_only=True)
