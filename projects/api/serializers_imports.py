"""Request and response shapes of the import and storage-connection endpoints."""

from typing import Any

from rest_framework import serializers

from core.api.strict import StrictModelSerializer, StrictSerializer
from projects.imports.parsers import FORMATS
from projects.imports.runner import import_progress
from projects.models import ImportJob, StorageConnection

_FORMAT_HELP = "jsonl, json (one array) or csv; a .gz file is decompressed. docs/datasets.md describes each."


class ImportUploadSerializer(StrictSerializer):
    """multipart/form-data: the file itself."""

    file = serializers.FileField(write_only=True, allow_empty_file=True, help_text="The dataset (plain or gzip).")
    format = serializers.ChoiceField(
        choices=list(FORMATS), required=False, help_text=_FORMAT_HELP + " Taken from the file name when omitted."
    )
    skip_bad_rows = serializers.BooleanField(
        default=False, help_text="Import the good rows and report the bad ones (default: all or nothing)."
    )
    update_existing = serializers.BooleanField(
        default=False, help_text="Replace the data of tasks whose external_id exists when it changed."
    )


class ImportS3Serializer(StrictSerializer):
    """application/json: every object under a prefix of a storage connection, in key order."""

    storage = serializers.UUIDField(help_text="A storage connection of the organization.")
    prefix = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=1024,
        trim_whitespace=False,
        help_text="Inside the connection's own prefix.",
    )
    format = serializers.ChoiceField(choices=list(FORMATS), help_text=_FORMAT_HELP)
    skip_bad_rows = serializers.BooleanField(default=False)
    update_existing = serializers.BooleanField(default=False)


class ImportErrorSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField(allow_null=True, help_text="Where the row starts (1 is the first line).")
    field = serializers.CharField(help_text="A path inside the row (data.text), '' for the whole row, or file.")
    code = serializers.CharField()
    message = serializers.CharField()
    object = serializers.CharField(required=False, help_text="The S3 object, for imports from a prefix.")


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    project = serializers.UUIDField(source="project.uuid", read_only=True)
    storage = serializers.SerializerMethodField()
    prefix = serializers.CharField(source="s3_prefix", read_only=True)
    options = serializers.DictField(read_only=True)
    # A declared field named `errors` shadows Serializer.errors only in the stubs; DRF keeps fields apart.
    errors = ImportErrorSerializer(  # type: ignore[assignment]
        many=True, read_only=True, help_text="The first 100 problems, in file order."
    )
    progress = serializers.SerializerMethodField(help_text="From 0 to 1.")

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "project",
            "source",
            "format",
            "storage",
            "prefix",
            "file_size",
            "options",
            "state",
            "progress",
            "rows_read",
            "created_count",
            "updated_count",
            "unchanged_count",
            "error_count",
            "errors",
            "message",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_storage(self, job: ImportJob) -> str | None:
        return str(job.storage.uuid) if job.storage is not None else None

    def get_progress(self, job: ImportJob) -> float:
        return import_progress(job)


class StorageConnectionSerializer(StrictModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    secret_access_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=256,
        trim_whitespace=False,
        help_text="Write-only: stored encrypted, never returned. Empty removes it.",
    )
    has_secret = serializers.SerializerMethodField()
    prefix = serializers.CharField(required=False, allow_blank=True, max_length=1024, trim_whitespace=False)
    endpoint_url = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="S3 API of an S3-compatible store (https://minio.example.org); empty for AWS. Loopback, private, "
        "link-local and metadata addresses are refused.",
    )

    class Meta:
        model = StorageConnection
        fields = [
            "id",
            "name",
            "bucket",
            "prefix",
            "endpoint_url",
            "region",
            "access_key_id",
            "secret_access_key",
            "has_secret",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "has_secret", "created_at", "updated_at"]

    def get_has_secret(self, connection: StorageConnection) -> bool:
        return bool(connection.secret_access_key_encrypted)
