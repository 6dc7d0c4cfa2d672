"""The JSON API of model connections (admins), project budgets and the calls made for a project."""

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from llm import config, selectors
from llm.api import serializers as s
from llm.models import ModelBudget, ModelCall, ModelConnection
from llm.services.connections import (
    model_budget_set,
    model_connection_create,
    model_connection_delete,
    model_connection_update,
)
from projects.api.base import ProjectAPIView
from projects.models import Project
from tenancy.api.base import OrganizationAPIView
from tenancy.api.schema import error_response
from tenancy.models import Role

_NAME_TAKEN = "A model connection with this name exists already."


class ModelConnectionListView(ListModelMixin, OrganizationAPIView):
    """The organization's model endpoints; managers see them (to name them in a schema), admins change them."""

    serializer_class = s.ModelConnectionSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "POST": Role.ADMIN}
    list_model = ModelConnection

    def list_queryset(self) -> Any:
        return selectors.connection_list()

    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        request=s.ModelConnectionSerializer,
        responses={201: s.ModelConnectionSerializer, 409: error_response(_NAME_TAKEN)},
    )
    def post(self, request: Request) -> Response:
        body = s.ModelConnectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        connection = model_connection_create(actor=self.membership, **body.validated_data)
        return Response(s.ModelConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)


class ModelConnectionDetailView(OrganizationAPIView):
    serializer_class = s.ModelConnectionSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "PATCH": Role.ADMIN, "DELETE": Role.ADMIN}

    def _connection(self, model_connection_id: str) -> ModelConnection:
        return self.get_by_uuid(selectors.connection_list(), model_connection_id)

    def get(self, request: Request, model_connection_id: str) -> Response:
        return Response(s.ModelConnectionSerializer(self._connection(model_connection_id)).data)

    @extend_schema(
        request=s.ModelConnectionSerializer,
        responses={200: s.ModelConnectionSerializer, 409: error_response(_NAME_TAKEN)},
    )
    def patch(self, request: Request, model_connection_id: str) -> Response:
        connection = self._connection(model_connection_id)
        body = s.ModelConnectionSerializer(connection, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        connection = model_connection_update(actor=self.membership, connection=connection, **body.validated_data)
        return Response(s.ModelConnectionSerializer(connection).data)

    @extend_schema(responses={204: None, 409: error_response("Calls were made through the connection.")})
    def delete(self, request: Request, model_connection_id: str) -> Response:
        model_connection_delete(actor=self.membership, connection=self._connection(model_connection_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _budget_body(budget: ModelBudget | None, project: Project) -> dict[str, Any]:
    # A project that never used a model has no row yet: it is shown with the defaults it would get.
    shown = budget or ModelBudget(
        project=project, token_limit=config.default_token_limit(), max_concurrent=config.default_max_concurrent()
    )
    running = selectors.running_call_count(project=project)
    return dict(s.ModelBudgetSerializer(shown, context={"running_calls": running}).data)


class ModelBudgetView(ProjectAPIView):
    """A project's allowance of model tokens and calls at once, and what it has spent."""

    serializer_class = s.ModelBudgetSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER, "PATCH": Role.ADMIN}

    def get(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        return Response(_budget_body(selectors.budget_for(project=project), project))

    @extend_schema(request=s.ModelBudgetUpdateSerializer, responses=s.ModelBudgetSerializer)
    def patch(self, request: Request, project_id: str) -> Response:
        project = self.get_project(project_id)
        body = s.ModelBudgetUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        budget = model_budget_set(actor=self.membership, project=project, **body.validated_data)
        return Response(_budget_body(budget, project))


class ModelCallListView(ListModelMixin, ProjectAPIView):
    """Every model call made for a project, newest first: who, which task, which model, tokens, latency, outcome."""

    serializer_class = s.ModelCallSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}
    list_model = ModelCall

    def list_queryset(self) -> Any:
        return selectors.call_list(project=self.get_project(self.kwargs["project_id"])).select_related("task", "member")

    def get(self, request: Request, project_id: str) -> Response:
        return self.list(request)
