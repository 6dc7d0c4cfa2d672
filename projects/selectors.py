"""Reads of projects and tasks, always within the organization in context."""

from django.db.models import QuerySet

from projects.models import LabelSchemaVersion, Project, Task


def project_list() -> QuerySet[Project]:
    return Project.objects.select_related("created_by").order_by("id")


def task_list(*, project: Project) -> QuerySet[Task]:
    return Task.objects.filter(project=project).order_by("id")


def schema_version_list(*, project: Project) -> "QuerySet[LabelSchemaVersion]":
    """The project's label schema versions, oldest first."""
    return LabelSchemaVersion.objects.filter(project=project).order_by("id")
