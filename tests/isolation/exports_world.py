"""The data-out part of a populated tenant: an uploaded media file that the routing tasks name (so the media URL
route has a file to sign for a lease holder), and a finished export job with its file (so the export routes, the
download included, have an object to address), made through the services that write them."""

import io
from types import SimpleNamespace

from annotation.exports.filters import ExportFilters
from annotation.exports.runner import export_run
from annotation.exports.services import export_create
from projects.services.media import media_upload

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
MEDIA_FIELD = "file"


def populate_media(world: SimpleNamespace) -> None:
    """Upload `media` before any task is made: every task's data names its key under MEDIA_FIELD."""
    world.media = media_upload(
        actor=world.owner, project=world.project, stream=io.BytesIO(PNG), size=len(PNG), name=f"{world.prefix}.png"
    )


def media_data(world: SimpleNamespace) -> dict[str, str]:
    """What a task's data holds to name the tenant's media file: the key a lease holder may get a URL of."""
    return {MEDIA_FIELD: world.media.key} if hasattr(world, "media") else {}


def populate_exports(world: SimpleNamespace) -> None:
    """Run `export` (JSONL) to its end, after the annotations exist, so its file holds the tenant's results."""
    job = export_create(actor=world.owner, project=world.project, export_format="jsonl", filters=ExportFilters())
    world.export = export_run(job)
    assert world.export.state == "succeeded", world.export.message
