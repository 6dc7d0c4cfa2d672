"""Reads of projects, tasks and storage connections, always within the organization in context."""

import uuid
from typing import Any

from django.db.models import Count, F, Q, QuerySet

from projects.models import LabelSchemaVersion, Project, StorageConnection, Task


def project_list() -> QuerySet[Project]:
    return Project.objects.select_related("created_by").order_by("id")


def project_find(*, project_uuid: uuid.UUID) -> Project | None:
    """One project by public id; None when it is missing or another organization's."""
    return project_list().filter(uuid=project_uuid).first()


def task_list(*, project: Project) -> QuerySet[Task]:
    return Task.objects.filter(project=project).order_by("id")


def task_all() -> QuerySet[Task]:
    """Every task of the organization, with its project, for lookups by public id."""
    return Task.objects.select_related("project")


def task_counts(*, project: Project) -> dict[str, Any]:
    """How many tasks the project has, how many are done (every annotation asked for is in), how many are gold."""
    return task_list(project=project).aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(done__gte=F("overlap"))),
        gold=Count("id", filter=Q(is_gold=True)),
    )


def task_with_project(*, task_id: int) -> Task | None:
    """One task by internal id, with its project; None when it was deleted since someone named it."""
    return Task.objects.select_related("project").filter(pk=task_id).first()


def schema_version_list(*, project: Project) -> "QuerySet[LabelSchemaVersion]":
    """The project's label schema versions, oldest first."""
    return LabelSchemaVersion.objects.filter(project=project).order_by("id")


def project_has_label_fields(*, project: Project) -> bool:
    """Whether annotators have anything to answer: a project is created without fields, and until its schema
    names one, the labelling page and the routing have nothing to offer (the pages then point to the schema)."""
    return bool((project.label_schema or {}).get("fields"))


def storage_connection_list() -> "QuerySet[StorageConnection]":
    """The organization's S3 locations, oldest first."""
    return StorageConnection.objects.order_by("id")


def storage_connection_find(*, connection_uuid: uuid.UUID) -> StorageConnection | None:
    """One storage connection by public id, as a request body names it; None when it is missing or another
    organization's."""
    return StorageConnection.objects.filter(uuid=connection_uuid).first()
