"""Request and response shapes of the export and media endpoints."""

from typing import Any

from rest_framework import serializers

from projects.exports.filters import RANKING_PAIRS, STATUSES
from projects.media import ALLOWED_TYPES
from projects.models import ExportFormat, ExportJob, MediaObject
from tenancy.api.strict import StrictSerializer


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


class SignedUrlSerializer(serializers.Serializer[Any]):
    url = serializers.CharField(help_text="Signed; valid until expires_at (at most 5 minutes).")
    expires_at = serializers.DateTimeField()


class MediaUploadSerializer(StrictSerializer):
    """multipart/form-data: the file, and nothing else (the view refuses any other part)."""

    file = serializers.FileField(write_only=True, help_text="Image, PDF, plain text or audio; sniffed by content.")


class MediaObjectSerializer(serializers.ModelSerializer[MediaObject]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    content_type = serializers.ChoiceField(
        choices=list(ALLOWED_TYPES), read_only=True, help_text="What the file's first bytes say it is."
    )

    class Meta:
        model = MediaObject
        fields = ["id", "key", "size", "sha256", "content_type", "created_at"]
        read_only_fields = fields
