"""The projects app's answers to tenancy's signals (tenancy.signals), connected when Django starts (projects.apps)."""

from typing import Any

from django.dispatch import receiver

from projects.models import Project, Task
from tenancy.signals import skill_requirers


@receiver(skill_requirers)
def skill_required_by_projects(*, name: str, **_: Any) -> str | None:
    """A project or a task that routes by the skill `name`: renaming or deleting it would strand them."""
    project = Project.objects.filter(required_skills__has_key=name).order_by("id").first()
    if project is not None:
        return f"project {project.name!r}"
    if Task.objects.filter(required_skills__has_key=name).exists():
        return "tasks"
    return None
