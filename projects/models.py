"""Projects (what must be labelled, and how) and tasks (the items to label)."""

from typing import ClassVar

from django.conf import settings as django_settings
from django.db import models

from tenancy.scoping import TenantManager, TenantModel


class Project(TenantModel):
    """A labelling effort: its schema, guidelines, how many annotations each task needs."""

    objects: ClassVar[TenantManager["Project"]] = TenantManager()  # type: ignore[assignment]

    name = models.CharField(max_length=200)
    # Shown to annotators instead of the name on blind projects, so research priorities stay private.
    codename = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True)
    guidelines_version = models.PositiveIntegerField(default=1)
    label_schema = models.JSONField(default=dict, blank=True)
    schema_version = models.PositiveIntegerField(default=1)
    overlap = models.PositiveSmallIntegerField(default=1)
    settings = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(overlap__gte=1, overlap__lte=50), name="project_overlap_range"),
        ]
        indexes = [models.Index(fields=["organization", "name"], name="project_org_name")]

    @property
    def display_name(self) -> str:
        return self.codename or self.name

    def __str__(self) -> str:
        return self.name


class Task(TenantModel):
    """One item to label. `external_id` is the lab's own key and makes every import idempotent."""

    objects: ClassVar[TenantManager["Task"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    external_id = models.CharField(max_length=255)
    data = models.JSONField()
    priority = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="task_unique_external_id"),
        ]
        indexes = [models.Index(fields=["project", "id"], name="task_project_id")]

    def __str__(self) -> str:
        return self.external_id
