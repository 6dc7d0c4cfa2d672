"""Request and response shapes of the project and task endpoints."""

from typing import Any

from rest_framework import serializers

from projects import config
from projects.models import Project, Task
from tenancy.api.strict import StrictModelSerializer


class ProjectSerializer(StrictModelSerializer):
    """The full project, for managers and above."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    label_schema = serializers.DictField(required=False)
    settings = serializers.DictField(required=False)
    overlap = serializers.IntegerField(min_value=1, max_value=config.MAX_OVERLAP, required=False)

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "codename",
            "description",
            "guidelines",
            "guidelines_version",
            "label_schema",
            "schema_version",
            "overlap",
            "settings",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "guidelines_version", "schema_version", "created_at", "updated_at"]


class ProjectBriefSerializer(serializers.ModelSerializer[Project]):
    """What annotators and reviewers see: the codename instead of the name, and what they need to label."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = Project
        fields = ["id", "name", "guidelines", "guidelines_version", "label_schema", "schema_version"]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer[Task]):
    id = serializers.UUIDField(source="uuid", read_only=True)

    class Meta:
        model = Task
        fields = ["id", "external_id", "data", "priority", "created_at"]
        read_only_fields = fields


class TaskInputSerializer(serializers.Serializer[Any]):
    """Documents one bulk item; the service validates all items in one pass and reports each by index."""

    external_id = serializers.CharField(
        max_length=config.EXTERNAL_ID_MAX_LENGTH,
        required=False,
        help_text="Your key for the item; re-sending it creates nothing twice.",
    )
    # A declared field named `data` shadows Serializer.data only in the stubs; DRF keeps fields apart.
    data = serializers.DictField()  # type: ignore[assignment]
    priority = serializers.IntegerField(required=False, default=0)


class TaskCreatedSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    external_id = serializers.CharField()


class TaskBulkResultSerializer(serializers.Serializer[Any]):
    created = serializers.IntegerField()
    existing = serializers.IntegerField()
    tasks = TaskCreatedSerializer(many=True)
    existing_external_ids = serializers.ListField(child=serializers.CharField())
