"""Media: files that tasks refer to (images to box, documents, audio), kept in the platform's object store under
the organization's own prefix, and shown to an annotator only through a short-lived signed URL for a task whose
lease they hold.

An upload's type is what its first bytes say it is (never what the client claims), and only images, PDF, plain
text and audio are taken: nothing the browser could run. A task names a file by its storage key, in its data:
`"image": {"key": "orgs/<organization id>/media/…", "width": …, "height": …}` or a plain key string; a key that
is not under the organization's prefix, or that could climb out of it (`..`, `//`, a backslash), is never signed.
"""

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from core.audit.record import audit_record
from core.errors import InvalidInput
from projects import config, permissions
from projects.models import MediaObject, Project, Task
from projects.object_store import object_store, organization_key
from tenancy.models import Membership
from tenancy.permissions import check

SNIFF_BYTES = 512
NAME_MAX = 100

# (content type, test on the first bytes), tried in order.
_SIGNATURES: tuple[tuple[str, Any], ...] = (
    ("image/png", lambda b: b.startswith(b"\x89PNG\r\n\x1a\n")),
    ("image/jpeg", lambda b: b.startswith(b"\xff\xd8\xff")),
    ("image/gif", lambda b: b[:6] in (b"GIF87a", b"GIF89a")),
    ("image/webp", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
    ("image/tiff", lambda b: b[:4] in (b"II*\x00", b"MM\x00*")),
    ("image/bmp", lambda b: b[:2] == b"BM" and len(b) >= 26),
    ("application/pdf", lambda b: b.startswith(b"%PDF-")),
    ("audio/wav", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WAVE"),
    ("audio/ogg", lambda b: b.startswith(b"OggS")),
    ("audio/flac", lambda b: b.startswith(b"fLaC")),
    ("audio/mp4", lambda b: b[4:8] == b"ftyp" and b[8:11] in (b"M4A", b"M4B")),
    ("audio/mpeg", lambda b: b.startswith(b"ID3") or (len(b) > 1 and b[0] == 0xFF and b[1] & 0xE0 == 0xE0)),
)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
ALLOWED_TYPES = (*(kind for kind, _ in _SIGNATURES), "text/plain")


class UnsupportedMedia(InvalidInput):
    status = 415
    code = "unsupported_media_type"


class MediaTooLarge(InvalidInput):
    status = 413
    code = "too_large"


def media_sniff(head: bytes) -> str | None:
    """The content type the first bytes show, among the allowed ones; None for anything else.

    Text is UTF-8 without control characters other than tab, line breaks and form feed (a multi-byte character
    cut at the end of the sample is fine): binary formats carry control bytes early on.
    """
    for kind, matches in _SIGNATURES:
        if matches(head):
            return kind
    if _CONTROL.search(head):
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return None
    return "text/plain"


def media_name_sanitise(name: str) -> str:
    """A file name safe as the last part of a storage key: ASCII letters, digits, `.`, `_`, `-`; no path, no `..`."""
    base = re.split(r"[\\/]", name or "")[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name)
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip(".-_")
    return cleaned[:NAME_MAX].rstrip(".-_") or "file"


class _Peeked:
    """A stream whose first bytes were read for sniffing, read again from the start."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head = head
        self.rest = rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size is None or size < 0:
                chunk, self.head = self.head + self.rest.read(), b""
                return chunk
            chunk, self.head = self.head[:size], self.head[size:]
            return chunk
        return self.rest.read(size)


def media_upload(*, actor: Membership, project: Project, stream: IO[bytes], size: int, name: str) -> MediaObject:
    """Store one uploaded file under `orgs/<org>/media/<project>/<uuid>-<name>` and record it."""
    check(permissions.media_upload(actor))
    limit = config.media_max_bytes()
    if size > limit:
        raise MediaTooLarge(f"The file is {size} bytes; media files may be at most {limit} bytes.")
    head = stream.read(SNIFF_BYTES)
    content_type = media_sniff(head)
    if content_type is None or not head:
        raise UnsupportedMedia(
            "The file is not an image, PDF, plain text or audio file (by its content); other types are not accepted."
        )
    key = organization_key(
        project.organization.uuid, "media", str(project.uuid), f"{uuid.uuid4()}-{media_name_sanitise(name)}"
    )
    store = object_store()
    stored = store.put(key, _Peeked(head, stream), content_type=content_type)  # type: ignore[arg-type]
    if stored.size > limit:  # the declared size lied
        store.delete(key)
        raise MediaTooLarge(f"The file is over {limit} bytes.")
    try:
        with transaction.atomic():
            media = MediaObject.objects.create(
                project=project,
                key=stored.key,
                content_type=content_type,
                size=stored.size,
                sha256=stored.sha256,
                uploaded_by=actor.user,
            )
            audit_record(
                action="media.upload",
                target=media,
                metadata={"project": str(project.uuid), "key": stored.key, "size": stored.size, "type": content_type},
            )
    except BaseException:
        store.delete(key)  # no row names it: nothing would ever find or delete it
        raise
    return media


# --- signed URLs for annotators ---

_BAD_KEY = re.compile(r"(^/)|(//)|(\\)|(^|/)\.{1,2}(/|$)|[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class SignedMedia:
    url: str
    expires_at: datetime
    key: str


def media_key_of(value: Any) -> str | None:
    """The storage key a task data value names: a plain key, `{"key": …}`, or an `s3://` URL of the platform's
    own bucket; None for anything else (an http URL is the browser's to fetch, not ours to sign)."""
    if isinstance(value, str):
        if value.startswith("s3://"):
            bucket = str(getattr(settings, "OBJECT_STORAGE_BUCKET", "") or "")
            prefix = f"s3://{bucket}/"
            return value[len(prefix) :] if bucket and value.startswith(prefix) else None
        return None if "://" in value else value
    if isinstance(value, dict):
        if isinstance(value.get("key"), str):
            return str(value["key"])
        if isinstance(value.get("url"), str) and value["url"].startswith("s3://"):
            return media_key_of(value["url"])
    return None


def media_key_allowed(key: str, organization_uuid: uuid.UUID | str) -> bool:
    """Whether `key` lies inside the organization's prefix of the platform's store, with no way out of it."""
    if not key or len(key) > 1024 or _BAD_KEY.search(key):
        return False
    return key.startswith(f"orgs/{uuid.UUID(str(organization_uuid))}/")


def media_url_for_task(
    *, actor: Membership, task: Task, field: str, on: models.Model, now: datetime | None = None
) -> SignedMedia | None:
    """A signed URL of the file `task`'s data names under `field`, for a caller the view has already allowed to see
    the task; the audit event names `on` (the lease, the annotation under review) and the task."""
    organization = actor.organization
    key = media_key_of(task.data.get(field)) if isinstance(task.data, dict) else None
    if key is None or not media_key_allowed(key, organization.uuid):
        return None
    media = MediaObject.objects.filter(key=key).only("content_type").first()
    store = object_store()
    if media is None and not store.exists(key):
        return None
    seconds = config.signed_url_seconds()
    url = store.signed_url(
        key,
        expires_in=seconds,
        filename=key.rsplit("/", 1)[-1],
        content_type=media.content_type if media is not None else "",
    )
    # `task_ids` puts it on the task's trail too ("who saw task X" finds it).
    audit_record(
        action="data_access.media_url",
        target=on,
        metadata={"task_ids": [str(task.uuid)], "field": field[:128], "key": key, "expires_in": seconds},
    )
    return SignedMedia(url=url, expires_at=(now or timezone.now()) + timedelta(seconds=seconds), key=key)
