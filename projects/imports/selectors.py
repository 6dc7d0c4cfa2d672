"""Reads of import jobs, always within the organization in context."""

from django.db.models import QuerySet

from projects.models import ImportJob, Project


def import_list(*, project: Project) -> QuerySet[ImportJob]:
    """A project's imports, oldest first (the API pages by id)."""
    return ImportJob.objects.filter(project=project).select_related("project", "storage").order_by("id")


def import_all() -> QuerySet[ImportJob]:
    """Every import of the organization, for lookups by public id."""
    return ImportJob.objects.select_related("project", "storage").order_by("id")
