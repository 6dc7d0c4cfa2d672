"""Creating and cancelling import jobs. Each writes its audit event in the same transaction; the run itself is
queued once that transaction commits (projects.imports.runner does the work)."""

import gzip
import re
import uuid
import zlib
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from core.audit.record import audit_record
from core.enqueue import enqueue_on_commit
from core.errors import Conflict, FieldError, InvalidInput, UnsupportedFormat
from projects import config, permissions
from projects.imports.parsers import FORMATS
from projects.imports.runner import TERMINAL_STATES
from projects.imports.source import GZIP_MAGIC, SNIFF_BYTES, SUPPORTED_FORMATS, content_kind
from projects.models import ImportJob, JobState, Project, StorageConnection
from projects.object_store import object_store, organization_key
from projects.services.storage import unsafe_key_reason
from tenancy.models import Membership
from tenancy.permissions import check

RUN_TASK = "projects.import_run"
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}
# What counts as a file name's extension, for naming it in a refusal ("report.final draft" has none).
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,10})$")


def import_format_from_name(filename: str) -> str | None:
    """The format a file name says (`data.jsonl`, `data.csv.gz`), if it says one."""
    name = filename.lower().removesuffix(".gz")
    for extension, fmt in _EXTENSIONS.items():
        if name.endswith(extension):
            return fmt
    return None


def import_upload_format(*, filename: str, given: str | None) -> str:
    """The format of an uploaded file: the one the request names, else the one its file name says. A name whose
    extension is not one imports read (`.xlsx`, `.png`) is refused as an unsupported format (415)."""
    if given:
        _check_format(given)
        return given
    fmt = import_format_from_name(filename)
    if fmt is not None:
        return fmt
    extension = _EXTENSION.search(filename.lower().removesuffix(".gz"))
    if extension is not None:
        message = (
            f"Unsupported file format .{extension.group(1)}: imports read {SUPPORTED_FORMATS}. Convert the file; "
            "or, if it is one of these under another name, name its format."
        )
        raise UnsupportedFormat(message, errors=[FieldError("file", message, "unsupported_format")])
    raise InvalidInput(
        "The request has invalid fields.",
        errors=[FieldError("format", "Name the format (jsonl, json or csv); the file name does not say it.")],
    )


def _check_content(upload: IO[bytes], fmt: str) -> None:
    """Refuse a file whose first bytes say it is a spreadsheet, an image or an archive, whatever its name or the
    format asked for, before anything of it is stored."""
    start = upload.tell()
    head = upload.read(SNIFF_BYTES)
    try:
        if head.startswith(GZIP_MAGIC):
            upload.seek(start)
            with gzip.GzipFile(fileobj=upload, mode="rb") as unzipped:
                head = unzipped.read(SNIFF_BYTES)
    except (OSError, EOFError, zlib.error):
        head = b""  # a broken gzip file: the import reports it, with the rest of what it finds
    finally:
        upload.seek(start)
    kind = content_kind(head)
    if kind is not None:
        message = f"Unsupported file format: the file is {kind}, not {fmt}. Imports read {SUPPORTED_FORMATS}."
        raise UnsupportedFormat(message, errors=[FieldError("file", message, "unsupported_format")])


def _options(skip_bad_rows: bool, update_existing: bool) -> dict[str, Any]:
    return {"skip_bad_rows": bool(skip_bad_rows), "update_existing": bool(update_existing)}


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidInput(
            "Unknown import format.", errors=[FieldError("format", f"Must be one of {', '.join(FORMATS)}.")]
        )


def _created(actor: Membership, job: ImportJob) -> ImportJob:
    audit_record(
        action="import.create",
        target=job,
        metadata={
            "project": str(job.project.uuid),
            "source": job.source,
            "format": job.format,
            "file_size": job.file_size,
            "storage": str(job.storage.uuid) if job.storage else "",
            "prefix": job.s3_prefix,
            "options": job.options,
        },
    )
    enqueue_on_commit(RUN_TASK, job.organization_id, job.pk)
    return job


def import_create_upload(
    *,
    actor: Membership,
    project: Project,
    upload: IO[bytes],
    size: int,
    fmt: str,
    skip_bad_rows: bool = False,
    update_existing: bool = False,
) -> ImportJob:
    """Store an uploaded dataset under the organization's prefix (streamed, never whole in memory) and queue
    its import."""
    check(permissions.import_manage(actor))
    _check_format(fmt)
    _check_content(upload, fmt)
    limit = config.import_max_file_bytes()
    if size > limit:
        raise InvalidInput(
            f"The file is larger than {limit} bytes (IMPORT_MAX_FILE_BYTES).",
            errors=[FieldError("file", f"Larger than {limit} bytes.", "file_too_large")],
        )
    public_id = uuid.uuid4()
    key = organization_key(project.organization.uuid, "imports", str(public_id), "source")
    store = object_store()
    stored = store.put(key, upload, "application/octet-stream")
    try:
        with transaction.atomic():
            job = ImportJob.objects.create(
                uuid=public_id,
                project=project,
                created_by=actor.user,
                source="upload",
                format=fmt,
                file_key=stored.key,
                file_size=stored.size,
                options=_options(skip_bad_rows, update_existing),
            )
            return _created(actor, job)
    except BaseException:
        store.delete(stored.key)  # the job never existed, so neither does its file
        raise


def import_create_s3(
    *,
    actor: Membership,
    project: Project,
    storage: StorageConnection,
    prefix: str,
    fmt: str,
    skip_bad_rows: bool = False,
    update_existing: bool = False,
) -> ImportJob:
    """Queue the import of every object under `prefix` (inside the connection's own prefix), in key order."""
    check(permissions.import_manage(actor))
    _check_format(fmt)
    reason = unsafe_key_reason(prefix)
    if reason or len(prefix) > 1024:
        raise InvalidInput(
            "The prefix is not usable.",
            errors=[FieldError("prefix", f"The prefix {reason or 'is longer than 1024 characters'}.", "unsafe_key")],
        )
    with transaction.atomic():
        job = ImportJob.objects.create(
            project=project,
            created_by=actor.user,
            source="s3",
            format=fmt,
            storage=storage,
            s3_prefix=prefix,
            options=_options(skip_bad_rows, update_existing),
        )
        return _created(actor, job)


def import_cancel(*, actor: Membership, job: ImportJob) -> ImportJob:
    """Stop an import that has not finished; nothing of it is kept. A finished one cannot be cancelled."""
    check(permissions.import_manage(actor))
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.state in TERMINAL_STATES:
            raise Conflict(f"The import has already ended ({locked.state}).")
        before = locked.state
        locked.state = JobState.CANCELLED
        locked.finished_at = timezone.now()
        locked.message = "Cancelled; nothing was imported."
        locked.save(update_fields=["state", "finished_at", "message", "updated_at"])
        audit_record(action="import.cancel", target=locked, changes={"state": [before, JobState.CANCELLED]})
        # A run picks the cancellation up and removes what was staged (and the uploaded file).
        enqueue_on_commit(RUN_TASK, locked.organization_id, locked.pk)
    return locked
