"""The data-in part of a populated tenant: a storage connection (an S3 location of the organization) and an
import job stopped after its first batch (so it can still be followed and cancelled, and the staging table
holds a row of the tenant)."""

import io
from types import SimpleNamespace

from django.test import override_settings

from projects.imports.runner import import_run
from projects.imports.services import import_create_upload
from projects.services.storage import storage_connection_create

# A public address given literally: vetted without a DNS lookup, and never contacted by these suites.
ENDPOINT = "http://93.184.216.34:9000"


def populate_imports(world: SimpleNamespace) -> None:
    """`storage_connection` (named after the tenant) and `import_job`, an upload of two tasks, one staged."""
    world.storage_connection = storage_connection_create(
        actor=world.owner,
        name=f"{world.prefix} storage",
        bucket=f"{world.prefix}-datasets",
        prefix=f"{world.prefix}/",
        endpoint_url=ENDPOINT,
        access_key_id=f"{world.prefix.upper()}KEY",
        secret_access_key=f"{world.prefix}-secret",
    )
    content = b"".join(
        f'{{"external_id": "{world.prefix}-imported-{n}", "data": {{"text": "{world.prefix} import"}}}}\n'.encode()
        for n in (1, 2)
    )
    job = import_create_upload(
        actor=world.owner, project=world.project, upload=io.BytesIO(content), size=len(content), fmt="jsonl"
    )
    with override_settings(IMPORT_BATCH_ROWS=1):
        outcome = import_run(job, time_budget=0)  # one batch, then the slice is over
    assert not outcome.finished
    job.refresh_from_db()
    world.import_job = job
