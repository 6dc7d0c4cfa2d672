"""Running an import job: every row staged in committed batches, then merged into the tasks in one transaction.

Why staging. An import must keep memory flat (never the whole file), be all or nothing by default, and survive a
worker killed at any moment without losing or doubling a row. Staging gives all three at once:

- The source is read once, as a stream, in batches (5,000 rows or 16 MiB). Each batch's good rows go to the
  staging table (ImportRow) in the same transaction that records the job's progress, its row errors and its
  checkpoint (S3 object, byte offset, line, and what the parser needs to resume there). A batch is therefore
  staged and checkpointed, or neither. A rerun (the task redelivered after a kill, or the next time slice) starts
  from the checkpoint: nothing staged twice, nothing skipped. Each run bumps a sequence number in the checkpoint
  and every batch checks it under the job's row lock, so a run that was overtaken by a newer one stops at its
  next batch instead of staging what the newer one stages too.
- Once everything has been read, one transaction decides. Bad rows without skip_bad_rows fail the job and
  nothing is kept. Otherwise duplicate external_ids within the import are found in SQL (the first occurrence is
  kept, the others are errors), and one INSERT ... SELECT ... ON CONFLICT statement creates the new tasks and
  leaves alone (or, with update_existing, updates when changed) those whose external_id the project has already,
  so running an import again adds nothing twice; the job is marked succeeded. Killed during this transaction,
  everything of it rolls back and the rerun merges again. The staging rows are deleted in the next transaction
  (or, if the worker dies first, by the job's next delivery, which finds it ended).

Validating in a first pass and inserting in a second would read the source twice and, to stay all or nothing,
insert inside one long transaction that no checkpoint can resume; inserting each batch into the task table as it
comes would not be all or nothing. Staging costs a second write of each row, and buys the three properties.
"""

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from core.audit.record import Outcome, audit_record
from core.context import organization_context
from core.enqueue import enqueue_on_commit
from projects import config
from projects.imports import staging
from projects.imports.errors import FileError, RowProblem, SourceUnavailable
from projects.imports.parsers import Limits, reader_for
from projects.imports.rows import CheckedRow, row_task
from projects.imports.source import SourceReader
from projects.label_schema.fields import LabelSchema
from projects.models import ImportJob, JobState, Project
from projects.object_store import S3ObjectStore, object_store
from projects.services.schema_versions import project_schema
from projects.services.storage import (
    S3Client,
    StorageError,
    join_prefix,
    s3_client,
    storage_error,
    unsafe_key_reason,
)

logger = logging.getLogger(__name__)

TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})
PHASE_STAGE = "stage"
PHASE_MERGE = "merge"
PHASE_DONE = "done"


@dataclass(frozen=True)
class RunOutcome:
    finished: bool  # False: the time slice ran out with rows left; a continuation must be scheduled


class _Stop(Exception):
    """This run must stop quietly: the job was cancelled, or a newer run of it has taken over."""


@dataclass
class _Run:
    job: ImportJob
    project: Project
    schema: LabelSchema | None
    limits: Limits
    checkpoint: dict[str, Any]
    rows_read: int
    error_count: int
    deadline: float

    @property
    def skip_bad_rows(self) -> bool:
        return bool(self.job.options.get("skip_bad_rows"))

    @property
    def update_existing(self) -> bool:
        return bool(self.job.options.get("update_existing"))

    @property
    def seq(self) -> int:
        return int(self.checkpoint.get("seq", 0))


@dataclass
class _Source:
    index: int
    key: str
    label: str  # how errors name it: "" for an upload, the object key for S3
    opener: Callable[[int], IO[bytes]]
    position: dict[str, Any]
    gzip: bool | None


@dataclass
class _Batch:
    start_offset: int
    rows: int = 0
    bad_rows: int = 0
    tasks: list[CheckedRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)


# --- entry point ---


def import_run(job: ImportJob, *, time_budget: float | None = None) -> RunOutcome:
    """Work on an import for up to `time_budget` seconds (IMPORT_SLICE_SECONDS by default); resumable.

    Called outside any transaction and tenant context: each batch enters the job's tenant in its own transaction.
    Raises SourceUnavailable when the source could not be read for a reason a later attempt may not meet.
    """
    budget = config.import_slice_seconds() if time_budget is None else time_budget
    run = _begin(job, deadline=time.monotonic() + budget)
    if run is None:
        _cleanup(job)
        return RunOutcome(finished=True)
    try:
        if run.checkpoint.get("phase", PHASE_STAGE) == PHASE_STAGE and not _stage(run):
            return RunOutcome(finished=False)
        _merge(run)
    except FileError as exc:
        _fail(run, exc.message, exc.as_dict())
    except StorageError as exc:
        if exc.transient:
            raise SourceUnavailable(exc.message) from exc
        _fail(run, exc.message, {"line": None, "field": "storage", "code": "storage_error", "message": exc.message})
    except _Stop:
        _cleanup(job)
    return RunOutcome(finished=True)


def import_abandon(job: ImportJob, *, message: str) -> None:
    """Fail a job that cannot go on (its runs keep failing), keeping nothing of it."""
    _finish_failed(job, message=message, error=None)


def _begin(job: ImportJob, *, deadline: float) -> _Run | None:
    with organization_context(job.organization_id):
        locked = (
            ImportJob.objects.select_for_update(of=("self",))
            .select_related("project", "storage")
            .filter(pk=job.pk)
            .first()
        )
        if locked is None or locked.state in TERMINAL_STATES:
            return None  # deleted with its project, or ended: nothing to run
        checkpoint = dict(locked.checkpoint or {})
        checkpoint.setdefault("phase", PHASE_STAGE)
        checkpoint["runs"] = int(checkpoint.get("runs", 0)) + 1
        # A new run takes over: an older one still going notices at its next batch and stops.
        checkpoint["seq"] = int(checkpoint.get("seq", 0)) + 1
        if locked.state == JobState.PENDING:
            locked.state = JobState.RUNNING
            locked.started_at = timezone.now()
        if "staged" in checkpoint and staging.staged_count(locked) != checkpoint["staged"]:
            checkpoint = _restart(locked, checkpoint)
        locked.checkpoint = checkpoint
        locked.save(
            update_fields=["state", "started_at", "checkpoint", "rows_read", "error_count", "errors", "updated_at"]
        )
        schema = project_schema(locked.project)
    limits = Limits(
        row_bytes=config.import_row_max_bytes(),
        field_bytes=config.import_max_field_bytes(),
        max_depth=config.import_max_depth(),
    )
    return _Run(
        job=locked,
        project=locked.project,
        schema=schema,
        limits=limits,
        checkpoint=checkpoint,
        rows_read=locked.rows_read,
        error_count=locked.error_count,
        deadline=deadline,
    )


def _restart(locked: ImportJob, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Start the job over: its staging rows are not all there (the staging table is unlogged, and a database
    crash, or a standby taking over, empties it), so the checkpoint can no longer be trusted."""
    logger.warning("import.restarted", extra={"import": str(locked.uuid), "staged": checkpoint.get("staged")})
    staging.clear_staged(locked)
    locked.rows_read = 0
    locked.error_count = 0
    locked.errors = []
    return {"phase": PHASE_STAGE, "runs": checkpoint["runs"], "seq": checkpoint["seq"], "staged": 0}


def _lock(run: _Run) -> ImportJob:
    """The job, row-locked until the transaction ends; _Stop if it was cancelled or deleted (with its project),
    or another run took over."""
    locked = ImportJob.objects.select_for_update().filter(pk=run.job.pk).first()
    if locked is None or locked.state != JobState.RUNNING or int((locked.checkpoint or {}).get("seq", 0)) != run.seq:
        raise _Stop()
    return locked


# --- pass over the source ---


def _stage(run: _Run) -> bool:
    """Stage every remaining row; False when the time slice ran out first."""
    if run.job.source == "s3":
        _survey_s3(run)
    for source in _sources(run):
        # Checked between objects too: a prefix of many small objects hands over like one large file does.
        if not _read(run, source) or time.monotonic() > run.deadline:
            return False
    _advance_phase(run)
    return True


def _read(run: _Run, source: _Source) -> bool:
    """Stage one source from its position; False when the time slice ran out first."""
    max_rows = config.import_max_rows()
    limit = config.IMPORT_BATCH_BYTES
    batch_rows = config.import_batch_rows()
    data_max_bytes = config.task_data_max_bytes()
    label = f"Object {source.key!r}" if source.label else "The file"
    try:
        with SourceReader(
            source.opener,
            offset=int(source.position.get("offset", 0)),
            gzip_hint=source.gzip,
            max_bytes=config.import_max_file_bytes(),
            label=label,
        ) as stream:
            source.gzip = stream.gzip
            reader = reader_for(run.job.format, stream, source.position, run.limits)
            batch = _Batch(start_offset=stream.offset)
            for row in reader.rows():
                batch.rows += 1
                if run.rows_read + batch.rows > max_rows:
                    raise FileError(
                        "too_many_rows", f"The import has more than {max_rows} rows (IMPORT_MAX_ROWS).", line=row.line
                    )
                if row.problem is not None:
                    batch.bad_rows += 1
                    batch.problems.append(row.problem)
                elif row.item is not None:
                    result = row_task(row.item, line=row.line, schema=run.schema, data_max_bytes=data_max_bytes)
                    if isinstance(result, list):
                        batch.bad_rows += 1
                        batch.problems.extend(result)
                    else:
                        batch.tasks.append(result)
                if batch.rows >= batch_rows or stream.offset - batch.start_offset >= limit:
                    _flush(run, source, batch, reader.position(), raw=_raw_position(stream), done=False)
                    batch = _Batch(start_offset=stream.offset)
                    if time.monotonic() > run.deadline:
                        return False
            _flush(run, source, batch, reader.position(), raw=_raw_position(stream), done=True)
    except FileError as exc:
        exc.source = exc.source or source.label
        raise
    return True


def _raw_position(stream: SourceReader) -> int:
    """How far into the stored file the reader is, for progress: exact for a plain file; for a compressed one,
    what the decompressor has consumed (ahead by up to one read buffer)."""
    return stream.raw_consumed if stream.gzip else stream.offset


def _flush(run: _Run, source: _Source, batch: _Batch, position: dict[str, Any], *, raw: int, done: bool) -> None:
    """Stage a batch and move the checkpoint past it, in one transaction."""
    checkpoint = dict(run.checkpoint)
    checkpoint["seq"] = run.seq + 1
    if done:
        checkpoint.pop("source", None)
        checkpoint["done_index"] = source.index
        checkpoint["done_key"] = source.key
        checkpoint["raw_done"] = int(checkpoint.get("raw_done", 0)) + raw
        checkpoint["raw_bytes"] = checkpoint["raw_done"]
    else:
        checkpoint["source"] = {"index": source.index, "key": source.key, "gzip": source.gzip, "position": position}
        checkpoint["raw_bytes"] = int(checkpoint.get("raw_done", 0)) + raw
    # All or nothing: once one row is bad nothing will be kept, so the rest is only checked, not staged.
    stage = run.skip_bad_rows or (run.error_count + batch.bad_rows == 0)
    # How many rows the staging table holds for the job once this batch is in: each run checks it first.
    checkpoint["staged"] = int(checkpoint.get("staged", 0)) + (len(batch.tasks) if stage else 0)
    with organization_context(run.job.organization_id):
        locked = _lock(run)
        if stage:
            staging.stage_rows(locked, source.index, batch.tasks)
        kept = config.IMPORT_ERRORS_KEPT
        room = max(0, kept - len(locked.errors))
        locked.errors = [*locked.errors, *(p.as_dict(source.label) for p in batch.problems[:room])]
        locked.rows_read += batch.rows
        locked.error_count += batch.bad_rows
        locked.checkpoint = checkpoint
        locked.save(update_fields=["errors", "rows_read", "error_count", "checkpoint", "updated_at"])
    run.checkpoint = checkpoint
    run.rows_read = locked.rows_read
    run.error_count = locked.error_count
    source.position = position


def _advance_phase(run: _Run) -> None:
    checkpoint = {**run.checkpoint, "phase": PHASE_MERGE, "seq": run.seq + 1}
    with organization_context(run.job.organization_id):
        locked = _lock(run)
        locked.checkpoint = checkpoint
        locked.save(update_fields=["checkpoint", "updated_at"])
    run.checkpoint = checkpoint


# --- where the rows come from ---


def _upload_opener(key: str) -> Callable[[int], IO[bytes]]:
    store = object_store()

    def open_at(offset: int) -> IO[bytes]:
        try:
            if offset and isinstance(store, S3ObjectStore):
                body: IO[bytes] = store.client.get_object(Bucket=store.bucket, Key=key, Range=f"bytes={offset}-")[
                    "Body"
                ]
                return body
            stream = store.open(key)
        except FileNotFoundError as exc:
            raise FileError("missing", "The uploaded file is no longer in storage; upload it again.") from exc
        except Exception as exc:
            raise storage_error(exc) from exc  # the platform's S3 store failing, described in our words
        if offset:
            stream.seek(offset)
        return stream

    return open_at


def _client(run: _Run) -> S3Client:
    if run.job.storage is None:
        raise FileError("storage_error", "The import's storage connection was deleted.")
    return s3_client(run.job.storage)


def _full_prefix(run: _Run) -> str:
    assert run.job.storage is not None
    return join_prefix(run.job.storage.prefix, run.job.s3_prefix)


def _survey_s3(run: _Run) -> None:
    """Before the first row: every object under the prefix has a safe key and an acceptable size (so the import
    fails before staging anything when one has not), and their total size gives the progress its scale."""
    if "total_bytes" in run.checkpoint:
        return
    limit = config.import_max_file_bytes()
    total = count = 0
    for entry in _client(run).list_objects(_full_prefix(run)):
        if entry.key.endswith("/"):
            continue  # a "folder" marker, not a file
        reason = unsafe_key_reason(entry.key)
        if reason:
            raise FileError("unsafe_key", f"The object key {entry.key[:300]!r} {reason}; rename it.", source=entry.key)
        if entry.size > limit:
            raise FileError(
                "file_too_large",
                f"Object {entry.key!r} is larger than {limit} bytes (IMPORT_MAX_FILE_BYTES).",
                source=entry.key,
            )
        total += entry.size
        count += 1
    checkpoint = {**run.checkpoint, "total_bytes": total, "objects": count, "seq": run.seq + 1}
    with organization_context(run.job.organization_id):
        locked = _lock(run)
        locked.checkpoint = checkpoint
        locked.file_size = total
        locked.save(update_fields=["checkpoint", "file_size", "updated_at"])
    run.checkpoint = checkpoint


def _sources(run: _Run) -> Iterator[_Source]:
    """The sources still to read, from the checkpoint on: the upload, or the prefix's objects in key order."""
    current = run.checkpoint.get("source")
    if run.job.source == "upload":
        if run.checkpoint.get("done_key") != run.job.file_key:
            yield _Source(
                index=0,
                key=run.job.file_key,
                label="",
                opener=_upload_opener(run.job.file_key),
                position=dict(current["position"]) if current else {},
                gzip=current.get("gzip") if current else None,
            )
        return
    client = _client(run)
    index = int(run.checkpoint.get("done_index", -1)) + 1
    after = str(run.checkpoint.get("done_key", ""))
    if current:
        yield _Source(
            index=int(current["index"]),
            key=str(current["key"]),
            label=str(current["key"]),
            opener=_object_opener(client, str(current["key"])),
            position=dict(current["position"]),
            gzip=current.get("gzip"),
        )
        index, after = int(current["index"]) + 1, str(current["key"])
    for entry in client.list_objects(_full_prefix(run), start_after=after):
        if entry.key.endswith("/"):
            continue
        reason = unsafe_key_reason(entry.key)
        if reason:  # appeared since the survey
            raise FileError("unsafe_key", f"The object key {entry.key[:300]!r} {reason}; rename it.", source=entry.key)
        yield _Source(
            index=index,
            key=entry.key,
            label=entry.key,
            opener=_object_opener(client, entry.key),
            position={},
            gzip=None,
        )
        index += 1


def _object_opener(client: S3Client, key: str) -> Callable[[int], IO[bytes]]:
    def open_at(offset: int) -> IO[bytes]:
        return client.open(key, offset)

    return open_at


# --- the end ---


def _merge(run: _Run) -> None:
    """Decide, in one transaction: fail with nothing kept, or merge the staged rows into the tasks."""
    job = run.job
    with organization_context(job.organization_id):
        locked = _lock(run)
        if locked.error_count and not run.skip_bad_rows:
            _mark_failed(locked, _bad_rows_message(locked.error_count))
            return
        duplicates, total = staging.staged_duplicates(locked, limit=config.IMPORT_ERRORS_KEPT)
        if total:
            room = max(0, config.IMPORT_ERRORS_KEPT - len(locked.errors))
            locked.errors = [*locked.errors, *(_duplicate_error(run, d) for d in duplicates[:room])]
            locked.error_count += total
            if not run.skip_bad_rows:
                _mark_failed(locked, _bad_rows_message(locked.error_count))
                return
            staging.drop_later_duplicates(locked)
        # The same lock bulk creation takes: a concurrent request cannot add the same external_ids halfway. NO KEY:
        # it still excludes the other importers, but not the foreign-key checks (KEY SHARE) of a concurrent insert
        # that points at the project, which a plain FOR UPDATE would make wait on us: a deadlock at commit.
        Project.objects.select_for_update(no_key=True).filter(pk=run.project.pk).first()
        staged = staging.staged_count(locked)
        merged = staging.merge_staged(locked, run.project, update_existing=run.update_existing)
        locked.created_count = merged.created
        locked.updated_count = merged.updated
        locked.unchanged_count = staged - merged.created - merged.updated
        locked.state = JobState.SUCCEEDED
        locked.finished_at = timezone.now()
        locked.checkpoint = {**locked.checkpoint, "phase": PHASE_DONE}
        locked.message = _summary(locked)
        locked.save()
        _audit_finish(locked, Outcome.SUCCESS)
        if merged.created or merged.updated:
            enqueue_on_commit("routing.dispatch", locked.organization_id, run.project.pk)
        _delete_upload_on_commit(locked)
    # The staging rows go in a transaction of their own, once the tasks are there for everyone to see: deleting
    # a large import's rows takes seconds. A worker killed in between leaves them to the job's next delivery,
    # which finds the job ended and removes them (_cleanup).
    with organization_context(job.organization_id):
        staging.clear_staged(job)
    logger.info(
        "import.succeeded",
        extra={
            "import": str(job.uuid),
            "tasks_created": merged.created,
            "tasks_updated": merged.updated,
            "rows": staged,
        },
    )


def _duplicate_error(run: _Run, duplicate: staging.Duplicate) -> dict[str, Any]:
    where = f"line {duplicate.first_line}"
    label = ""
    if run.job.source == "s3":
        label = _object_label(run, duplicate.source_index)
        if duplicate.first_source_index != duplicate.source_index:
            where += f" of object #{duplicate.first_source_index + 1}"
    message = f"external_id {duplicate.external_id[:100]!r} appears earlier in the import ({where})."
    return RowProblem(duplicate.line, "external_id", "duplicate", message).as_dict(label)


def _object_label(run: _Run, index: int) -> str:
    # Only the key of the object in progress is at hand; earlier ones are named by their place in key order.
    current = run.checkpoint.get("source") or {}
    if int(current.get("index", -1)) == index:
        return str(current.get("key", ""))
    if int(run.checkpoint.get("done_index", -1)) == index:
        return str(run.checkpoint.get("done_key", ""))
    return f"object #{index + 1}"


def _bad_rows_message(count: int) -> str:
    rows = "1 row is" if count == 1 else f"{count} rows are"
    return f"{rows} invalid, so nothing was imported. Fix them, or import again with skip_bad_rows."


def _summary(job: ImportJob) -> str:
    text = f"{job.created_count} created, {job.updated_count} updated, {job.unchanged_count} unchanged"
    if job.error_count:
        text += f", {job.error_count} bad rows skipped"
    return text + "."


def _audit_finish(job: ImportJob, outcome: str) -> None:
    audit_record(
        action="import.finish",
        target=job,
        outcome=outcome,
        metadata={
            "project": str(job.project.uuid) if job.project_id else "",
            "state": job.state,
            "rows_read": job.rows_read,
            "created": job.created_count,
            "updated": job.updated_count,
            "unchanged": job.unchanged_count,
            "errors": job.error_count,
        },
    )


def _mark_failed(locked: ImportJob, message: str, error: dict[str, Any] | None = None) -> None:
    """Fail a locked job: nothing staged is kept, the reason is recorded (a file error first in the list)."""
    staging.clear_staged(locked)
    if error is not None:
        locked.errors = [error, *locked.errors][: config.IMPORT_ERRORS_KEPT]
    locked.state = JobState.FAILED
    locked.message = message[:1000]
    locked.finished_at = timezone.now()
    locked.checkpoint = {**(locked.checkpoint or {}), "phase": PHASE_DONE}
    locked.save()
    _audit_finish(locked, Outcome.FAILURE)
    _delete_upload_on_commit(locked)
    logger.info("import.failed", extra={"import": str(locked.uuid), "reason": message[:200]})


def _fail(run: _Run, message: str, error: dict[str, Any] | None) -> None:
    try:
        with organization_context(run.job.organization_id):
            _mark_failed(_lock(run), message, error)
    except _Stop:
        _cleanup(run.job)


def _finish_failed(job: ImportJob, *, message: str, error: dict[str, Any] | None) -> None:
    with organization_context(job.organization_id):
        locked = ImportJob.objects.select_for_update().filter(pk=job.pk).first()
        if locked is not None and locked.state not in TERMINAL_STATES:
            _mark_failed(locked, message, error)


def _delete_upload_on_commit(job: ImportJob) -> None:
    """The uploaded file goes once the job has ended, whatever the outcome (a retry means a new upload)."""
    if job.source == "upload" and job.file_key:
        key = job.file_key
        transaction.on_commit(lambda: object_store().delete(key))


def _cleanup(job: ImportJob) -> None:
    """Remove what an ended job may have left: staging rows (a cancelled run), the uploaded file."""
    with organization_context(job.organization_id):
        locked = ImportJob.objects.filter(pk=job.pk).first()
        if locked is None or locked.state not in TERMINAL_STATES:
            return
        staging.clear_staged(locked)
        _delete_upload_on_commit(locked)


def import_progress(job: ImportJob) -> float:
    """How far the job has got, from 0 to 1 (reading is most of the work; merging is counted as its last 1%)."""
    if job.state == JobState.SUCCEEDED:
        return 1.0
    checkpoint = job.checkpoint or {}
    if checkpoint.get("phase") == PHASE_MERGE:
        return 0.99
    if not job.file_size:
        return 0.0
    return round(min(0.99, int(checkpoint.get("raw_bytes", 0)) / job.file_size), 4)
