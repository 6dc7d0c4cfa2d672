"""The platform's own object store: uploaded datasets, media and exports, each under its organization's prefix.

Local disk in the embedded default, S3 (or MinIO) in production. This store is the operator's, configured in
settings; organizations' own buckets are StorageConnections and go through the SSRF-safe checks instead.
Files are handed out only by short-lived signed URLs: S3 presigned URLs, or on local disk a signed token that
`object_download` (a plain Django view) verifies.
"""

import hashlib
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.core import signing
from django.urls import reverse

_SIGNING_SALT = "annotate.object-store.download"
_SAFE_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,200}$")
CHUNK = 1024 * 1024


class UnsafeKey(ValueError):
    """A key part that could escape its prefix (`..`, a slash, a control character)."""


def organization_key(organization_uuid: uuid.UUID | str, *parts: str) -> str:
    """`orgs/<organization>/<part>/...`: every object lives under its organization's prefix; parts are checked."""
    for part in parts:
        if not _SAFE_PART.match(part) or ".." in part:
            raise UnsafeKey(f"Unsafe object key part {part!r}.")
    return "/".join(["orgs", str(uuid.UUID(str(organization_uuid))), *parts])


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str


class ObjectStore(Protocol):
    def put(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> Stored: ...

    def open(self, key: str) -> IO[bytes]: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def signed_url(self, key: str, *, expires_in: int, filename: str = "", content_type: str = "") -> str: ...


def _hashing_chunks(stream: IO[bytes], digest: Any) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        yield chunk


class LocalObjectStore:
    """Objects as files under a root directory (embedded default and tests)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise UnsafeKey(f"Object key {key!r} leaves the store.")
        return path

    def put(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> Stored:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        with partial.open("wb") as out:
            for chunk in _hashing_chunks(stream, digest):
                out.write(chunk)
                size += len(chunk)
        partial.replace(path)  # atomic: a reader never sees half a file
        return Stored(key=key, size=size, sha256=digest.hexdigest())

    def open(self, key: str) -> IO[bytes]:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def signed_url(self, key: str, *, expires_in: int, filename: str = "", content_type: str = "") -> str:
        # The expiry is inside the signed payload: nobody can lengthen a URL's life by editing it.
        payload = {"k": key, "f": filename, "t": content_type, "x": int(time.time()) + int(expires_in)}
        token = signing.dumps(payload, salt=_SIGNING_SALT, compress=True)
        return reverse("object-download", args=[token])

    def copy_to(self, key: str, target: IO[bytes]) -> None:
        with self.open(key) as source:
            shutil.copyfileobj(source, target, CHUNK)


class S3ObjectStore:
    """Objects in an S3 bucket (or an S3-compatible store such as MinIO)."""

    def __init__(self, *, bucket: str, endpoint_url: str, region: str, access_key_id: str, secret: str) -> None:
        import boto3  # type: ignore[import-untyped]  # boto3 ships no type information
        from botocore.config import Config  # type: ignore[import-untyped]

        self.bucket = bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret or None,
            config=Config(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"}),
        )

    def put(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> Stored:
        counted = CountingReader(stream)
        self.client.upload_fileobj(counted, self.bucket, key, ExtraArgs={"ContentType": content_type})
        return Stored(key=key, size=counted.size, sha256=counted.digest.hexdigest())

    def open(self, key: str) -> IO[bytes]:
        body: IO[bytes] = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        return body

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.ClientError:
            return False
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def signed_url(self, key: str, *, expires_in: int, filename: str = "", content_type: str = "") -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        if content_type:
            params["ResponseContentType"] = content_type
        url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires_in))
        return url


class CountingReader:
    """A file-like wrapper that hashes (SHA-256) and counts what boto3 reads from it, so an upload learns its size
    and digest in the one pass that sends it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.stream.read(size)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


def object_store() -> ObjectStore:
    """The store the settings name: S3 when OBJECT_STORAGE_BUCKET is set, else local disk."""
    bucket = getattr(settings, "OBJECT_STORAGE_BUCKET", "")
    if bucket:
        return S3ObjectStore(
            bucket=bucket,
            endpoint_url=getattr(settings, "OBJECT_STORAGE_ENDPOINT_URL", ""),
            region=getattr(settings, "OBJECT_STORAGE_REGION", ""),
            access_key_id=getattr(settings, "OBJECT_STORAGE_ACCESS_KEY_ID", ""),
            secret=getattr(settings, "OBJECT_STORAGE_SECRET_ACCESS_KEY", ""),
        )
    return LocalObjectStore(Path(getattr(settings, "OBJECT_STORAGE_ROOT", settings.MEDIA_ROOT)))


class LinkExpired(Exception):
    pass


def signed_download(token: str) -> tuple[str, str, str]:
    """Check a local download token (signature, then expiry); return (key, filename, content type).

    Raises django.core.signing.BadSignature for a forged or altered token, LinkExpired for an old one.
    """
    data = signing.loads(token, salt=_SIGNING_SALT)
    if int(data["x"]) < time.time():
        raise LinkExpired()
    return str(data["k"]), str(data.get("f", "")), str(data.get("t", ""))
