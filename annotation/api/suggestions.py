"""Suggestion jobs: a model suggests answers for a project's open tasks (start, follow, list, resume)."""

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.api import serializers_suggestions as s
from annotation.models import SuggestionJob
from annotation.selectors.suggestions import suggestion_job_all, suggestion_job_list
from annotation.services.suggestions import suggestion_job_resume, suggestion_job_start
from core.api.strict import EmptySerializer
from projects.api.base import ProjectAPIView
from tenancy.api.base import OrganizationAPIView
from tenancy.api.schema import error_response
from tenancy.models import Role


class ProjectSuggestionJobListView(ListModelMixin, ProjectAPIView):
    """A project's suggestion jobs; and starting one (it runs on a worker: follow it at suggestion-jobs/{id})."""

    serializer_class = s.SuggestionJobSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "POST": Role.MANAGER}
    list_model = SuggestionJob

    def list_queryset(self) -> Any:
        return suggestion_job_list(project=self.get_project(self.kwargs["project_id"]))

    def get(self, request: Request, project_id: str) -> Response:
        return self.list(request)

    @extend_schema(request=s.SuggestionJobCreateSerializer, responses={202: s.SuggestionJobSerializer})
    def post(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        body = s.SuggestionJobCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        job = suggestion_job_start(
            actor=self.membership,
            project=project,
            connection=str(data["connection"]),
            fields=data["fields"],
            prompt=data["prompt"],
            agent=data["agent"],
        )
        return Response(s.SuggestionJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class SuggestionJobDetailView(OrganizationAPIView):
    """One suggestion job: its state, progress, counts, tokens spent and first failures."""

    serializer_class = s.SuggestionJobSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}

    def get(self, request: Request, suggestion_job_id: str) -> Response:
        return Response(s.SuggestionJobSerializer(self.get_by_uuid(suggestion_job_all(), suggestion_job_id)).data)


class SuggestionJobResumeView(OrganizationAPIView):
    """Run a paused (budget used up) or failed job again: tasks it has suggested for are passed over."""

    serializer_class = EmptySerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.MANAGER}

    @extend_schema(
        request=EmptySerializer,
        responses={202: s.SuggestionJobSerializer, 409: error_response("The job is not paused or failed.")},
    )
    def post(self, request: Request, suggestion_job_id: str) -> Response:
        job = self.get_by_uuid(suggestion_job_all(), suggestion_job_id)
        EmptySerializer(data=request.data or {}).is_valid(raise_exception=True)
        job = suggestion_job_resume(actor=self.membership, job=job)
        return Response(s.SuggestionJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
