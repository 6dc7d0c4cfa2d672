"""Typed accessors for the projects app's settings."""

from django.conf import settings


def bulk_max_tasks() -> int:
    """Most tasks one bulk-create request may carry; larger datasets go through import jobs."""
    return int(getattr(settings, "PROJECTS_BULK_MAX_TASKS", 10_000))


def task_data_max_bytes() -> int:
    """Largest serialized `data` of one task."""
    return int(getattr(settings, "PROJECTS_TASK_DATA_MAX_BYTES", 1024 * 1024))


def label_schema_max_bytes() -> int:
    """Largest serialized label schema document; the field, option and criterion counts have fixed limits."""
    return int(getattr(settings, "PROJECTS_LABEL_SCHEMA_MAX_BYTES", 256 * 1024))


MAX_OVERLAP = 50
EXTERNAL_ID_MAX_LENGTH = 255
PRIORITY_RANGE = (-1_000_000, 1_000_000)


# Signed URLs (media for annotators, export downloads) never outlive this, whatever the setting says.
SIGNED_URL_MAX_SECONDS = 300


def signed_url_seconds() -> int:
    """Life of a signed URL handed out for a media file or an export download: 1 to 300 seconds."""
    seconds = int(getattr(settings, "PROJECTS_SIGNED_URL_SECONDS", SIGNED_URL_MAX_SECONDS))
    return max(1, min(seconds, SIGNED_URL_MAX_SECONDS))


def media_max_bytes() -> int:
    """Largest media file one upload may carry."""
    return int(getattr(settings, "PROJECTS_MEDIA_MAX_BYTES", 100 * 1024 * 1024))


# --- import jobs ---


def import_max_file_bytes() -> int:
    """Largest file an import reads: the upload (or each S3 object) as sent, and again once decompressed."""
    return int(getattr(settings, "IMPORT_MAX_FILE_BYTES", 1024 * 1024 * 1024))


def import_max_rows() -> int:
    """Most rows (good and bad together) one import may carry."""
    return int(getattr(settings, "IMPORT_MAX_ROWS", 1_000_000))


def import_max_field_bytes() -> int:
    """Largest single value in an imported row: one JSON string, or one CSV cell."""
    return int(getattr(settings, "IMPORT_MAX_FIELD_BYTES", 1024 * 1024))


def import_row_max_bytes() -> int:
    """Largest raw row (a JSONL line, a JSON array element, a CSV record). Derived, not set: room for a task's
    data at its limit twice over (JSON escapes inflate text) or for one field at its limit, plus the other keys."""
    return max(2 * task_data_max_bytes(), import_max_field_bytes()) + 64 * 1024


def import_max_depth() -> int:
    """Deepest nesting of an imported row; the same limit as a JSON request body, so both ways in agree."""
    return int(getattr(settings, "API_MAX_JSON_DEPTH", 64))


def import_batch_rows() -> int:
    """Rows staged per committed batch: the unit of progress and of what a killed worker redoes."""
    return max(1, int(getattr(settings, "IMPORT_BATCH_ROWS", 5000)))


# A batch is also cut at this many raw bytes, so that a file of large rows keeps memory as flat as one of small ones.
IMPORT_BATCH_BYTES = 16 * 1024 * 1024
# Row errors kept on the job (each with its line and field); the count covers all of them.
IMPORT_ERRORS_KEPT = 100


def import_slice_seconds() -> float:
    """How long one run of an import works before handing over to a fresh task (which resumes at once)."""
    return float(getattr(settings, "IMPORT_SLICE_SECONDS", 600))
