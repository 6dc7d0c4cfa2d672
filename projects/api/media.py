"""Media files: upload a file that tasks refer to, and the helpers of every route that answers a signed URL."""

from typing import ClassVar

from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, extend_schema
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from projects import config
from projects.api import serializers_media as s
from projects.api.base import ProjectAPIView
from projects.services.media import ALLOWED_TYPES, MediaTooLarge, SignedMedia, media_upload
from tenancy.models import Role

FIELD_MAX = 128
# Room for the multipart envelope (boundaries, part headers) around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def absolute_url(request: Request, url: str) -> str:
    # The local store signs a path on this server; S3 signs a full URL already.
    return request.build_absolute_uri(url) if url.startswith("/") else url


def media_field(request: Request) -> str:
    """The `field` query parameter of a media URL request: the task data key naming the file."""
    field = request.query_params.get("field", "")
    if not field or len(field) > FIELD_MAX:
        raise ValidationError({"field": [f"Name the task data key holding the file (at most {FIELD_MAX} characters)."]})
    return field


def signed_media_response(request: Request, signed: SignedMedia | None) -> Response:
    if signed is None:
        raise NotFound()
    return Response({"url": absolute_url(request, signed.url), "expires_at": signed.expires_at})


MEDIA_FIELD_PARAMETER = OpenApiParameter(
    "field",
    {"type": "string", "minLength": 1, "maxLength": FIELD_MAX},
    required=True,
    description="The task data key naming the file.",
)


class ProjectMediaView(ProjectAPIView):
    """Upload a file that tasks will refer to by its returned `key`."""

    serializer_class = s.MediaObjectSerializer
    parser_classes = [MultiPartParser]
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.MANAGER}

    @extend_schema(
        request={
            "multipart/form-data": OpenApiRequest(
                s.MediaUploadSerializer, encoding={"file": {"contentType": ", ".join(ALLOWED_TYPES)}}
            )
        },
        responses={201: s.MediaObjectSerializer},
    )
    def post(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        limit = config.media_max_bytes()
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > limit + MULTIPART_OVERHEAD:
            raise MediaTooLarge(f"The request is {declared} bytes; media files may be at most {limit} bytes.")
        unknown = sorted(set(request.data) - {"file"})
        if unknown:
            raise ValidationError({key: [ErrorDetail("Unknown field.", code="unknown_field")] for key in unknown})
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": ["Attach the file as the multipart field `file`."]})
        media = media_upload(
            actor=self.membership, project=project, stream=upload, size=upload.size or 0, name=upload.name or ""
        )
        return Response(s.MediaObjectSerializer(media).data, status=status.HTTP_201_CREATED)
