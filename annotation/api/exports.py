"""Data out: export jobs (create, follow, download)."""

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.api import serializers_exports as s
from annotation.exports.filters import export_filters_clean
from annotation.exports.selectors import export_list
from annotation.exports.services import export_create, export_download
from projects.api.base import ProjectAPIView, storage_in_body
from projects.api.media import absolute_url
from projects.api.serializers_media import SignedUrlSerializer
from projects.models import ExportJob
from tenancy.api.base import OrganizationAPIView
from tenancy.api.schema import error_response
from tenancy.models import Role


class ProjectExportListView(ListModelMixin, ProjectAPIView):
    """A project's export jobs; and starting one (it runs on a worker: follow it at exports/{id})."""

    serializer_class = s.ExportJobSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "POST": Role.MANAGER}
    list_model = ExportJob

    def list_queryset(self) -> Any:
        return export_list(project=self.get_project(self.kwargs["project_id"]))

    def get(self, request: Request, project_id: str) -> Response:
        return self.list(request)

    @extend_schema(request=s.ExportCreateSerializer, responses={202: s.ExportJobSerializer})
    def post(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        body = s.ExportCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        filters = export_filters_clean(export_format=data["format"], raw=dict(data.get("filters") or {}))
        storage = storage_in_body(data["storage"]) if data.get("storage") is not None else None
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
    serializer_class = SignedUrlSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}

    @extend_schema(
        responses={200: SignedUrlSerializer, 409: error_response("The export has not succeeded (yet).")},
        description="A signed URL of the export's file, valid for at most 5 minutes (409 until it has succeeded). "
        "The URL supports HTTP Range requests, so an interrupted download resumes.",
    )
    def get(self, request: Request, export_id: str) -> Response:
        signed = export_download(actor=self.membership, job=self.get_by_uuid(export_list(), export_id))
        return Response({"url": absolute_url(request, signed.url), "expires_at": signed.expires_at})
