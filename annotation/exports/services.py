"""Writes of export jobs: create one (and queue its run), and hand out a download of its file."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from annotation import permissions
from annotation.exports.context import export_schemas
from annotation.exports.filters import ExportFilters
from annotation.exports.formats import WRITERS, export_filename
from core.audit.record import audit_record
from core.enqueue import enqueue_on_commit
from core.errors import Conflict, FieldError, InvalidInput
from projects import config
from projects.models import ExportFormat, ExportJob, JobState, Project, StorageConnection
from projects.object_store import object_store
from tenancy.models import Membership
from tenancy.permissions import check


@dataclass(frozen=True)
class SignedDownload:
    url: str
    expires_at: datetime


def export_create(
    *,
    actor: Membership,
    project: Project,
    export_format: str,
    filters: ExportFilters,
    storage: StorageConnection | None = None,
) -> ExportJob:
    """Queue an export of the project's results in one format; it runs on a worker once this commits."""
    check(permissions.export_manage(actor))
    if export_format not in ExportFormat.values:
        raise InvalidInput(f"Unknown export format {export_format!r}.")
    if storage is not None and storage.organization_id != project.organization_id:
        raise InvalidInput("The storage connection is not this organization's.")
    # Every schema version counts: older annotations are exported under the version they were made with.
    schemas = [schema for schema in export_schemas(project).values() if schema is not None]
    refusal = WRITERS[export_format].schema_refusal(schemas)
    if refusal is not None:
        raise InvalidInput(refusal, errors=[FieldError("format", refusal, "unsupported_by_schema")])
    with transaction.atomic():
        job = ExportJob.objects.create(
            project=project,
            created_by=actor.user,
            format=export_format,
            filters=filters.to_document(),
            storage=storage,
        )
        audit_record(
            action="export.create",
            target=job,
            metadata={
                "project": str(project.uuid),
                "format": export_format,
                "filters": job.filters,
                "storage": str(storage.uuid) if storage is not None else None,
            },
        )
        enqueue_on_commit("projects.export_run", project.organization_id, job.pk)
    return job


def export_download(*, actor: Membership, job: ExportJob, now: datetime | None = None) -> SignedDownload:
    """A short-lived signed URL of a finished export's file; handing it out is a data access on record."""
    check(permissions.export_manage(actor))
    if job.state != JobState.SUCCEEDED:
        raise Conflict(f"This export is {job.state}; it can be downloaded once it has succeeded.")
    if job.storage is not None:
        raise Conflict(
            f"This export was written to your storage connection {job.storage.name!r} "
            f"(bucket {job.storage.bucket!r}, key {job.file_key!r}); fetch it from there."
        )
    seconds = config.signed_url_seconds()
    now = now or timezone.now()
    url = object_store().signed_url(
        job.file_key,
        expires_in=seconds,
        filename=export_filename(export_uuid=job.uuid, export_format=job.format),
        content_type=WRITERS[job.format].content_type,
    )
    audit_record(
        action="data_access.export_download",
        target=job,
        metadata={
            "project": str(job.project.uuid),
            "format": job.format,
            "rows": job.rows,
            "sha256": job.sha256,
            "expires_in": seconds,
        },
    )
    return SignedDownload(url=url, expires_at=now + timedelta(seconds=seconds))
