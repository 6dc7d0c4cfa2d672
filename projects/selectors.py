"""Reads of projects and tasks, always within the organization in context."""

from django.db.models import QuerySet

from projects.models import LabelSchemaVersion, Project, Task


def project_list() -> QuerySet[Project]:
    return Project.objects.select_related("created_by").order_by("id")


def task_list(*, project: Project) -> QuerySet[Task]:
    return Task.objects.filter(project=project).order_by("id")


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
