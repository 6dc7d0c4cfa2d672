from rest_framework import serializers

from annotation.exports.filters import RANKING_PAIRS, STATUSES
from core.api.strict import StrictSerializer
from projects.models import ExportFormat, ExportJob


class ExportFiltersSerializer(StrictSerializer):
    status = serializers.ChoiceField(
        choices=list(STATUSES), required=False, help_text="done: every overlap slot answered; open: the rest."
    )
    created_after = serializers.DateTimeField(required=False, help_text="Tasks created at or after this time.")
    created_before = serializers.DateTimeField(required=False, help_text="Tasks created before this time.")
    reviewed_only = serializers.BooleanField(
        required=False, default=False, help_text="Only annotations a reviewer accepted, and corrections."
    )
    ranking_pairs = serializers.ChoiceField(
        choices=list(RANKING_PAIRS),
        required=False,
        help_text="dpo only: pairs a ranking gives, best versus worst (default) or every pair.",
    )


class ExportCreateSerializer(StrictSerializer):
    format = serializers.ChoiceField(choices=ExportFormat.choices)
    filters = ExportFiltersSerializer(required=False)
    storage = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="A storage connection of the organization to write the file to, instead of the platform's store.",
    )


class ExportJobSerializer(serializers.ModelSerializer[ExportJob]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    project = serializers.UUIDField(source="project.uuid", read_only=True)
    storage = serializers.SerializerMethodField()
    filters = serializers.DictField(read_only=True)

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "project",
            "format",
            "filters",
            "storage",
            "state",
            "rows",
            "file_key",
            "file_size",
            "sha256",
            "message",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_storage(self, job: ExportJob) -> str | None:
        return str(job.storage.uuid) if job.storage is not None else None
