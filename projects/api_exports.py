"""Data out and media: export jobs (create, follow, download) and media files (upload; a signed URL for the
annotator holding a task's lease)."""

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiParameter, OpenApiRequest, extend_schema
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.mixins import ListModelMixin
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from projects import config
from projects import serializers_exports as s
from projects.exports.filters import export_filters_clean
from projects.exports.selectors import export_list
from projects.exports.services import export_create, export_download
from projects.media import (
    ALLOWED_TYPES,
    MediaTooLarge,
    SignedMedia,
    held_assignment,
    media_upload,
    media_url_for_assignment,
)
from projects.models import ExportJob, StorageConnection
from projects.selectors import project_list
from tenancy.api.base import OrganizationAPIView
from tenancy.api.schema import error_response
from tenancy.errors import FieldError, InvalidInput
from tenancy.models import Role

FIELD_MAX = 128
# Room for the multipart envelope (boundaries, part headers) around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def _absolute(request: Request, url: str) -> str:
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
    return Response({"url": _absolute(request, signed.url), "expires_at": signed.expires_at})


MEDIA_FIELD_PARAMETER = OpenApiParameter(
    "field",
    {"type": "string", "minLength": 1, "maxLength": FIELD_MAX},
    required=True,
    description="The task data key naming the file.",
)


class ProjectExportListView(ListModelMixin, OrganizationAPIView):
    """A project's export jobs; and starting one (it runs on a worker: follow it at exports/{id})."""

    serializer_class = s.ExportJobSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "POST": Role.MANAGER}

    def get_queryset(self) -> Any:
        if self.generating_schema:
            return ExportJob.objects.unscoped().none()
        return export_list(project=self.get_by_uuid(project_list(), self.kwargs["project_id"]))

    def get(self, request: Request, project_id: str) -> Response:
        return self.list(request)

    @extend_schema(request=s.ExportCreateSerializer, responses={202: s.ExportJobSerializer})
    def post(self, request: Request, project_id: str) -> Response:
        project = self.get_by_uuid(project_list(), project_id)
        body = s.ExportCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        filters = export_filters_clean(export_format=data["format"], raw=dict(data.get("filters") or {}))
        storage = None
        if data.get("storage") is not None:
            storage = StorageConnection.objects.filter(uuid=data["storage"]).first()
            if storage is None:
                raise InvalidInput(
                    "The request has invalid fields.",
                    errors=[
                        FieldError(
                            "storage", "No storage connection of this organization has this id.", "does_not_exist"
                        )
                    ],
                )
        job = export_create(
            actor=self.membership, project=project, export_format=data["format"], filters=filters, storage=storage
        )
        return Response(s.ExportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailView(OrganizationAPIView):
    """One export job: its state and progress (`rows` written so far), and once done its size and SHA-256."""

    serializer_class = s.ExportJobSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}

    def get(self, request: Request, export_id: str) -> Response:
        return Response(s.ExportJobSerializer(self.get_by_uuid(export_list(), export_id)).data)


class ExportDownloadView(OrganizationAPIView):
    serializer_class = s.SignedUrlSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}

    @extend_schema(
        responses={200: s.SignedUrlSerializer, 409: error_response("The export has not succeeded (yet).")},
        description="A signed URL of the export's file, valid for at most 5 minutes (409 until it has succeeded). "
        "The URL supports HTTP Range requests, so an interrupted download resumes.",
    )
    def get(self, request: Request, export_id: str) -> Response:
        signed = export_download(actor=self.membership, job=self.get_by_uuid(export_list(), export_id))
        return Response({"url": _absolute(request, signed.url), "expires_at": signed.expires_at})


class ProjectMediaView(OrganizationAPIView):
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
        project = self.get_by_uuid(project_list(), project_id)
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


class AssignmentMediaView(OrganizationAPIView):
    serializer_class = s.SignedUrlSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ANNOTATOR}

    @extend_schema(
        parameters=[MEDIA_FIELD_PARAMETER],
        responses=s.SignedUrlSerializer,
        description="A signed URL (at most 5 minutes) of the file the task names under `field`, for the member "
        "holding this assignment's live lease only; anyone else, or a key outside the organization, gets 404.",
    )
    def get(self, request: Request, assignment_id: str) -> Response:
        assignment = held_assignment(actor=self.membership, assignment_uuid=assignment_id)
        if assignment is None:
            raise NotFound()
        signed = media_url_for_assignment(actor=self.membership, assignment=assignment, field=media_field(request))
        return signed_media_response(request, signed)
