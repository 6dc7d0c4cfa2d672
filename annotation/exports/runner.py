"""Running an export job: stream the project's results through the format's writer into a temporary file, then
store it (the platform's object store, or the organization's own S3 location), recording progress as it goes.

The job moves pending → running → succeeded | failed. Progress (`rows`) is committed after every chunk of tasks,
so the API shows it while the job runs. A run that a lost worker left `running` starts over when the message is
delivered again; a finished job is never run twice.
"""

import io
import logging
import tempfile
from dataclasses import dataclass
from typing import IO

from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from annotation.exports.context import ExportContext, export_context_build
from annotation.exports.filters import ExportFilters
from annotation.exports.formats import WRITERS, export_filename
from annotation.exports.records import ExportSource, Pseudonyms, export_upper_id
from annotation.exports.target import ExportTargetError, export_target_put
from core.audit.record import Outcome, audit_record
from core.context import organization_context
from core.faults import fault_classify
from projects.models import ExportJob, JobState
from projects.object_store import Stored, object_store, organization_key

logger = logging.getLogger(__name__)

MESSAGE_MAX = 1000


@dataclass(frozen=True)
class _Started:
    job: ExportJob
    context: ExportContext
    upper_id: int


def _start(job: ExportJob) -> _Started | None:
    with organization_context(job.organization_id):
        job = (
            ExportJob.objects.select_for_update(of=("self",))
            .select_related("project", "organization", "storage")
            .get(pk=job.pk)
        )
        if job.state not in (JobState.PENDING, JobState.RUNNING):
            return None
        job.state = JobState.RUNNING
        job.started_at = timezone.now()
        job.rows = 0
        job.message = ""
        job.save(update_fields=["state", "started_at", "rows", "message", "updated_at"])
        filters = ExportFilters.from_document(job.filters)
        context = export_context_build(
            export_id=str(job.uuid), project=job.project, filters=filters, created_at=job.created_at
        )
        return _Started(job=job, context=context, upper_id=export_upper_id())


def _progress(job: ExportJob, rows: int) -> None:
    with organization_context(job.organization_id):
        ExportJob.objects.filter(pk=job.pk).update(rows=rows, updated_at=timezone.now())


def _write(started: _Started, spool: IO[bytes]) -> int:
    job = started.job
    text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
    writer = WRITERS[job.format](started.context, text)
    writer.begin()
    rows = 0
    source = ExportSource(
        organization_id=job.organization_id,
        project=job.project,
        filters=started.context.filters,
        upper_id=started.upper_id,
        pseudonyms=Pseudonyms(job.organization.uuid),
    )
    for written in writer.write_chunks(source):
        rows += written
        _progress(job, rows)
    writer.end()
    text.flush()
    text.detach()  # the spool stays open for storing; the wrapper must not close it
    return rows


def _store(job: ExportJob, spool: IO[bytes]) -> Stored:
    spool.seek(0)
    writer = WRITERS[job.format]
    name = export_filename(export_uuid=job.uuid, export_format=job.format)
    if job.storage is not None:
        return export_target_put(
            connection=job.storage, project=job.project, filename=name, stream=spool, content_type=writer.content_type
        )
    key = organization_key(job.organization.uuid, "exports", str(job.project.uuid), name)
    return object_store().put(key, spool, content_type=writer.content_type)


def _finish(job: ExportJob, *, state: str, rows: int | None, stored: Stored | None, message: str) -> ExportJob:
    """Record the outcome; `rows` None keeps the progress last committed (a run that failed part-way)."""
    with organization_context(job.organization_id):
        if rows is None:
            rows = ExportJob.objects.filter(pk=job.pk).values_list("rows", flat=True).get()
        job.state = state
        job.rows = rows
        job.message = message[:MESSAGE_MAX]
        job.finished_at = timezone.now()
        if stored is not None:
            job.file_key, job.file_size, job.sha256 = stored.key, stored.size, stored.sha256
        job.save(
            update_fields=["state", "rows", "message", "finished_at", "file_key", "file_size", "sha256", "updated_at"]
        )
        metadata = {"project": str(job.project.uuid), "format": job.format, "rows": rows}
        if stored is not None:
            metadata.update(
                file_size=stored.size, sha256=stored.sha256, storage=str(job.storage.uuid) if job.storage else None
            )
        else:
            metadata["message"] = job.message
        succeeded = state == JobState.SUCCEEDED
        audit_record(
            action="export.complete" if succeeded else "export.fail",
            target=job,
            outcome=Outcome.SUCCESS if succeeded else Outcome.FAILURE,
            metadata=metadata,
        )
    return job


def export_run(job: ExportJob) -> ExportJob:
    """Run one export job to its end (succeeded, or failed with a message); a finished job is left as it is.

    A fault a retry can fix (core.faults: the database or a store was briefly away) is raised, the job left
    running: the task runs it again from the start, or gives up with export_abandon. Any other fails it at once.
    """
    started = _start(job)
    if started is None:
        with organization_context(job.organization_id):
            return ExportJob.objects.get(pk=job.pk)
    job = started.job
    try:
        with tempfile.TemporaryFile() as spool:
            rows = _write(started, spool)
            stored = _store(job, spool)
    except ExportTargetError as exc:
        logger.warning("export.target_failed", extra={"export": str(job.uuid), "error": str(exc)})
        if exc.transient:
            raise
        return _finish(job, state=JobState.FAILED, rows=None, stored=None, message=str(exc))
    except SoftTimeLimitExceeded:
        logger.warning("export.time_limit", extra={"export": str(job.uuid)})
        message = "The export took longer than the worker's time limit; narrow it with filters, or ask the operator."
        return _finish(job, state=JobState.FAILED, rows=None, stored=None, message=message)
    except Exception as exc:
        fault = fault_classify(exc)
        if fault.transient:
            logger.warning("export.interrupted", extra={"export": str(job.uuid), "cause": fault.cause})
            raise
        # A fault of ours or of the platform's store: the job names its cause, the log has the traceback.
        logger.exception("export.failed", extra={"export": str(job.uuid), "cause": fault.cause})
        message = f"The export failed: {fault.cause}; the worker's log has the details (export {job.uuid})."
        return _finish(job, state=JobState.FAILED, rows=None, stored=None, message=message)
    logger.info("export.succeeded", extra={"export": str(job.uuid), "rows": rows, "bytes": stored.size})
    return _finish(job, state=JobState.SUCCEEDED, rows=rows, stored=stored, message="")


def export_abandon(job: ExportJob, *, message: str) -> None:
    """Fail a job that cannot go on (its runs keep failing, or failed before writing began); an ended job is
    left as it is."""
    with organization_context(job.organization_id):
        locked = (
            ExportJob.objects.select_for_update(of=("self",))
            .select_related("project", "storage")
            .filter(pk=job.pk)
            .first()
        )
        if locked is not None and locked.state in (JobState.PENDING, JobState.RUNNING):
            _finish(locked, state=JobState.FAILED, rows=None, stored=None, message=message)
