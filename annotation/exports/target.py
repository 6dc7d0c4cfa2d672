"""Writing an export into the organization's own S3 location (a StorageConnection) instead of the platform's store.

The file goes to `<connection prefix>/annotate-exports/<project id>/<file name>` in the connection's bucket,
through the storage-connection client (projects.services.storage), which vets the endpoint against SSRF
(loopback, private and metadata addresses refused unless the operator allow-listed them), connects to the vetted
address only and follows no redirect. A failure fails the job with a message naming the connection, in our words,
never with the remote service's own answer.
"""

from typing import IO

from projects.models import Project, StorageConnection
from projects.object_store import CountingReader, Stored
from projects.services.storage import StorageError, join_prefix, s3_client


class ExportTargetError(Exception):
    """The organization's storage could not take the file; the message is safe to show its managers."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient  # what core.faults reads: a store that was only away is tried again


def export_target_key(*, connection: StorageConnection, project: Project, filename: str) -> str:
    return join_prefix(connection.prefix, f"annotate-exports/{project.uuid}/{filename}")


def export_target_put(
    *, connection: StorageConnection, project: Project, filename: str, stream: IO[bytes], content_type: str
) -> Stored:
    """Upload the export to the connection's bucket; returns its key there, size and SHA-256."""
    key = export_target_key(connection=connection, project=project, filename=filename)
    body = CountingReader(stream)
    try:
        s3_client(connection).put(key, body, content_type)  # type: ignore[arg-type]
    except StorageError as exc:
        raise ExportTargetError(
            f"The export could not be written to storage connection {connection.name!r}: {exc.message}",
            transient=exc.transient,
        ) from exc
    return Stored(key=key, size=body.size, sha256=body.digest.hexdigest())
