"""Data in: import jobs (start from an upload or an S3 prefix, follow, cancel) and the storage connections that
name an organization's S3 locations."""

from typing import Any, ClassVar

from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpRequest
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.mixins import ListModelMixin
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.parsers import RequestTooLarge, StrictJSONParser
from core.api.strict import EmptySerializer
from projects import config
from projects.api import serializers_imports as s
from projects.api.base import ProjectAPIView, storage_in_body
from projects.imports import selectors
from projects.imports.services import import_cancel, import_create_s3, import_create_upload, import_upload_format
from projects.models import ImportJob, StorageConnection
from projects.selectors import storage_connection_list
from projects.services.storage import (
    storage_connection_create,
    storage_connection_delete,
    storage_connection_update,
)
from tenancy.api.base import OrganizationAPIView
from tenancy.api.schema import error_response
from tenancy.models import Role

_NAME_TAKEN = "Another storage connection of the organization has this name."
# Room for the multipart envelope (boundaries, part headers, the small fields) around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


class ImportUploadHandler(TemporaryFileUploadHandler):
    """An uploaded dataset goes straight to a temporary file, never into memory, and a body larger than the
    import limit is refused as it arrives (by its declared length, or by what has actually come)."""

    def handle_raw_input(
        self, input_data: Any, META: dict[str, Any], content_length: int, boundary: Any, encoding: Any = None
    ) -> None:
        limit = config.import_max_file_bytes()
        if content_length > limit + MULTIPART_OVERHEAD:
            raise RequestTooLarge(f"The request is {content_length} bytes; an import file may be at most {limit}.")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        limit = config.import_max_file_bytes()
        if start + len(raw_data) > limit:
            raise RequestTooLarge(f"The file is larger than {limit} bytes (IMPORT_MAX_FILE_BYTES).")
        return super().receive_data_chunk(raw_data, start)


class ProjectImportListView(ListModelMixin, ProjectAPIView):
    """A project's import jobs; and starting one, from an uploaded file (multipart) or an S3 prefix (JSON). It
    runs on a worker: follow it at imports/{id}."""

    serializer_class = s.ImportJobSerializer
    parser_classes = [StrictJSONParser, MultiPartParser]
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "POST": Role.MANAGER}
    list_model = ImportJob

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Before anything reads the body: the upload is spooled to disk by our handler alone.
        request.upload_handlers = [ImportUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    def list_queryset(self) -> Any:
        return selectors.import_list(project=self.get_project(self.kwargs["project_id"]))

    def get(self, request: Request, project_id: str) -> Response:
        return self.list(request)

    @extend_schema(
        request={"multipart/form-data": s.ImportUploadSerializer, "application/json": s.ImportS3Serializer},
        responses={202: s.ImportJobSerializer},
    )
    def post(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        if (request.content_type or "").startswith("multipart/"):
            upload_body = s.ImportUploadSerializer(data=request.data)
            upload_body.is_valid(raise_exception=True)
            data = upload_body.validated_data
            upload = data["file"]
            fmt = import_upload_format(filename=upload.name or "", given=data.get("format"))
            job = import_create_upload(
                actor=self.membership,
                project=project,
                upload=upload,
                size=upload.size or 0,
                fmt=fmt,
                skip_bad_rows=data["skip_bad_rows"],
                update_existing=data["update_existing"],
            )
        else:
            s3_body = s.ImportS3Serializer(data=request.data)
            s3_body.is_valid(raise_exception=True)
            data = s3_body.validated_data
            job = import_create_s3(
                actor=self.membership,
                project=project,
                storage=storage_in_body(data["storage"]),
                prefix=data["prefix"],
                fmt=data["format"],
                skip_bad_rows=data["skip_bad_rows"],
                update_existing=data["update_existing"],
            )
        return Response(s.ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(OrganizationAPIView):
    """One import job: its state, progress, counts and first row errors."""

    serializer_class = s.ImportJobSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}

    def get(self, request: Request, import_id: str) -> Response:
        return Response(s.ImportJobSerializer(self.get_by_uuid(selectors.import_all(), import_id)).data)


class ImportCancelView(OrganizationAPIView):
    """Stop an import that has not ended; nothing of it is kept (409 once it has ended)."""

    serializer_class = EmptySerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.MANAGER}

    @extend_schema(
        request=EmptySerializer,
        responses={200: s.ImportJobSerializer, 409: error_response("The import has ended already.")},
    )
    def post(self, request: Request, import_id: str) -> Response:
        job = self.get_by_uuid(selectors.import_all(), import_id)
        EmptySerializer(data=request.data or {}).is_valid(raise_exception=True)
        job = import_cancel(actor=self.membership, job=job)
        return Response(s.ImportJobSerializer(job).data)


class StorageConnectionListView(ListModelMixin, OrganizationAPIView):
    """The organization's S3 locations (admins); the secret key is write-only."""

    serializer_class = s.StorageConnectionSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ADMIN, "POST": Role.ADMIN}
    list_model = StorageConnection

    def list_queryset(self) -> Any:
        return storage_connection_list()

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        request=s.StorageConnectionSerializer,
        responses={201: s.StorageConnectionSerializer, 409: error_response(_NAME_TAKEN)},
    )
    def post(self, request: Request) -> Response:
        body = s.StorageConnectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        connection = storage_connection_create(actor=self.membership, **body.validated_data)
        return Response(s.StorageConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)


class StorageConnectionDetailView(OrganizationAPIView):
    serializer_class = s.StorageConnectionSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ADMIN, "PATCH": Role.ADMIN, "DELETE": Role.ADMIN}

    def _connection(self, connection_id: str) -> StorageConnection:
        return self.get_by_uuid(storage_connection_list(), connection_id)

    def get(self, request: Request, connection_id: str) -> Response:
        return Response(s.StorageConnectionSerializer(self._connection(connection_id)).data)

    @extend_schema(
        request=s.StorageConnectionSerializer,
        responses={200: s.StorageConnectionSerializer, 409: error_response(_NAME_TAKEN)},
    )
    def patch(self, request: Request, connection_id: str) -> Response:
        connection = self._connection(connection_id)
        body = s.StorageConnectionSerializer(connection, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        connection = storage_connection_update(actor=self.membership, connection=connection, **body.validated_data)
        return Response(s.StorageConnectionSerializer(connection).data)

    @extend_schema(responses={204: None, 409: error_response("Import or export jobs refer to the connection.")})
    def delete(self, request: Request, connection_id: str) -> Response:
        storage_connection_delete(actor=self.membership, connection=self._connection(connection_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
