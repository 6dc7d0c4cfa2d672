from typing import Any

from rest_framework import serializers

from core.api.strict import StrictSerializer
from projects.models import MediaObject
from projects.services.media import ALLOWED_TYPES


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
