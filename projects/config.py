"""Typed accessors for the projects app's settings."""

from django.conf import settings


def bulk_max_tasks() -> int:
    """Most tasks one bulk-create request may carry; larger datasets go through import jobs."""
    return int(getattr(settings, "PROJECTS_BULK_MAX_TASKS", 10_000))


def task_data_max_bytes() -> int:
    """Largest serialized `data` of one task."""
    return int(getattr(settings, "PROJECTS_TASK_DATA_MAX_BYTES", 1024 * 1024))


MAX_OVERLAP = 50
EXTERNAL_ID_MAX_LENGTH = 255
PRIORITY_RANGE = (-1_000_000, 1_000_000)
