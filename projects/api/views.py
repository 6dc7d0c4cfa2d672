"""Project and task endpoints."""

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import ListSerializer

from core.audit.record import audit_record
from projects import config, permissions, selectors
from projects.api import serializers as s
from projects.api.base import ProjectAPIView, RecordedListMixin
from projects.api.filters import TaskFilter
from projects.label_schema import label_studio_to_schema
from projects.models import LabelSchemaVersion, Project, Task
from projects.services.projects import project_create, project_delete, project_update
from projects.services.tasks import task_bulk_create
from tenancy.api.base import OrganizationAPIView
from tenancy.api.schema import error_response
from tenancy.models import Role
from tenancy.permissions import allows


class ProjectAccessMixin(ProjectAPIView):
    def project_serializer_class(self) -> type[Any]:
        if self.generating_schema or allows(permissions.project_settings_read(self.membership)):
            return s.ProjectSerializer
        return s.ProjectBriefSerializer


class ProjectListView(ListModelMixin, ProjectAccessMixin):
    serializer_class = s.ProjectSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.MANAGER}
    list_model = Project

    def list_queryset(self) -> Any:
        return selectors.project_list()

    def get_serializer_class(self) -> type[Any]:
        return self.project_serializer_class()

    @extend_schema(responses=s.PROJECT_FOR_ROLE)
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(request=s.ProjectSerializer, responses={201: s.ProjectSerializer})
    def post(self, request: Request) -> Response:
        serializer = s.ProjectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        fields.pop("new_schema_version", None)  # a new project starts at version 1
        project = project_create(actor=self.membership, **fields)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(ProjectAccessMixin):
    serializer_class = s.ProjectSerializer
    required_roles: ClassVar[dict[str, Role]] = {"PATCH": Role.MANAGER, "DELETE": Role.ADMIN}

    @extend_schema(responses=s.PROJECT_FOR_ROLE)
    def get(self, request: Request, project_id: str) -> Response:
        return Response(self.project_serializer_class()(self.get_project(project_id)).data)

    @extend_schema(
        request=s.ProjectSerializer,
        responses={
            200: s.ProjectSerializer,
            409: error_response("The new label schema would orphan annotations: ask for new_schema_version."),
        },
    )
    def patch(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        serializer = s.ProjectSerializer(project, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        project = project_update(actor=self.membership, project=project, **serializer.validated_data)
        return Response(s.ProjectSerializer(project).data)

    def delete(self, request: Request, project_id: str) -> Response:
        project_delete(actor=self.membership, project=self.get_project(project_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskListView(RecordedListMixin, ProjectAccessMixin):
    """The tasks of a project (cursor-paginated, filterable), and adding up to 10,000 of them at once."""

    serializer_class = s.TaskSerializer
    filterset_class = TaskFilter
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "POST": Role.MANAGER}
    list_model = Task

    project: Project

    def list_queryset(self) -> Any:
        return selectors.task_list(project=self.project)

    def get(self, request: Request, project_id: str) -> Response:
        self.project = self.get_project(project_id)
        return self.list_recorded(
            request,
            action="data_access.task_list",
            target=self.project,
            metadata=lambda served: {"count": len(served), "task_ids": [str(task.uuid) for task in served]},
        )

    @extend_schema(
        request=ListSerializer(child=s.TaskInputSerializer(), min_length=1, max_length=config.bulk_max_tasks()),
        responses={201: s.TaskBulkResultSerializer, 200: s.TaskBulkResultSerializer},
    )
    def post(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        if not isinstance(request.data, list):
            raise ValidationError({"body": ["Send a JSON array of tasks."]})
        result = task_bulk_create(actor=self.membership, project=project, items=request.data)
        body = {
            "created": len(result.created),
            "existing": len(result.existing),
            "tasks": [{"id": str(t.uuid), "external_id": t.external_id} for t in result.created],
            "existing_external_ids": result.existing,
        }
        return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class TaskDetailView(ProjectAccessMixin):
    serializer_class = s.TaskSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}

    def get(self, request: Request, project_id: str, task_id: str) -> Response:
        project = self.get_project(project_id)
        task = self.get_by_uuid(selectors.task_list(project=project), task_id)
        # A read of task data is on record, like every page of the task list.
        audit_record(action="data_access.task_view", target=task, metadata={"project": str(project.uuid)})
        return Response(s.TaskSerializer(task).data)


class SchemaVersionListView(ListModelMixin, ProjectAccessMixin):
    """Every version of the project's label schema, oldest first; annotations name the one they were made under."""

    serializer_class = s.SchemaVersionSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.REVIEWER}
    list_model = LabelSchemaVersion

    def list_queryset(self) -> Any:
        return selectors.schema_version_list(project=self.get_project(self.kwargs["project_id"]))

    def get(self, request: Request, project_id: str) -> Response:
        return self.list(request)


class LabelStudioConvertView(OrganizationAPIView):
    """Convert a Label Studio labelling config (a documented subset) into a label schema, to review and apply."""

    serializer_class = s.LabelStudioConvertSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": Role.MANAGER}

    @extend_schema(request=s.LabelStudioConvertSerializer, responses=s.LabelStudioConvertSerializer)
    def post(self, request: Request) -> Response:
        body = s.LabelStudioConvertSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        schema = label_studio_to_schema(body.validated_data["label_studio_config"], path="label_studio_config")
        return Response({"label_schema": schema})
