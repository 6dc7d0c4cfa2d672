"""What the API views of the projects and annotation apps stand on: the project a route names, the storage
connection a body names, and the lists of task data whose every page served is on record."""

import uuid
from collections.abc import Callable
from typing import Any

from django.db import models
from rest_framework.mixins import ListModelMixin
from rest_framework.request import Request
from rest_framework.response import Response

from core.audit.record import audit_record
from core.errors import FieldError, InvalidInput
from projects.models import Project, StorageConnection
from projects.selectors import project_list, storage_connection_find
from tenancy.api.base import OrganizationAPIView


class ProjectAPIView(OrganizationAPIView):
    """A route under one project of the organization."""

    def get_project(self, project_id: str) -> Project:
        """The project by public id; another tenant's, like a missing one, is a 404."""
        return self.get_by_uuid(project_list(), project_id)


def storage_in_body(connection_id: uuid.UUID) -> StorageConnection:
    """The storage connection a request body names (imports read from it, exports write to it). The id comes from
    the body, so another organization's is refused like a missing one, as an invalid field."""
    connection = storage_connection_find(connection_uuid=connection_id)
    if connection is None:
        message = "No storage connection of this organization has this id."
        raise InvalidInput("The request has invalid fields.", errors=[FieldError("storage", message, "does_not_exist")])
    return connection


class RecordedListMixin(ListModelMixin, OrganizationAPIView):
    """A list route that serves task data: the page it served is a read on record, so that "who saw task X" finds
    lists as well as single reads."""

    served: list[Any]

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)
        self.served = list(page) if page is not None else []
        return page

    def list_recorded(
        self,
        request: Request,
        *,
        action: str,
        target: models.Model,
        metadata: Callable[[list[Any]], dict[str, Any]],
    ) -> Response:
        """List, then record `action` on `target` with what `metadata` says of the rows served."""
        response = self.list(request)
        audit_record(action=action, target=target, metadata=metadata(self.served))
        return response
