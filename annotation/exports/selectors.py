"""Reads of export jobs, always within the organization in context."""

from django.db.models import QuerySet

from projects.models import ExportJob, Project


def export_list(*, project: Project | None = None) -> "QuerySet[ExportJob]":
    """Export jobs, oldest first: the project's, or every project's."""
    jobs = ExportJob.objects.select_related("project", "storage")
    if project is not None:
        jobs = jobs.filter(project=project)
    return jobs.order_by("id")
