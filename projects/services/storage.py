"""Storage connections: an organization's own S3 (or S3-compatible) locations, and the one client that reaches them.

The secret key is sealed at rest, bound to the connection's organization (core.stored_secrets), and never leaves
the server again. The endpoint is vetted like every outbound destination (core.outbound): resolved, and
refused when any of its addresses is loopback, private, link-local or a metadata address, unless the operator
allow-listed its network. The S3 client then connects to the vetted address only (a later DNS answer cannot swap
in another host, while TLS still checks the certificate for the name), sends nothing to any other host (a
redirect, S3's region redirects included, is refused), and uses no proxy from the environment. Errors name what
failed in our words; an upstream response body never reaches a message.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import ProtectedError

from core import outbound, stored_secrets
from core.audit.record import audit_record
from core.context import current_organization_id
from core.errors import Conflict, ErrorList, FieldError, InvalidInput
from core.faults import fault_classify
from projects import permissions
from projects.models import StorageConnection
from tenancy.models import Membership
from tenancy.permissions import check

_FIELDS = ("name", "bucket", "prefix", "endpoint_url", "region", "access_key_id", "secret_access_key")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION = re.compile(r"^[a-z0-9-]{0,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ERROR_CODE = re.compile(r"^[A-Za-z0-9.]{1,64}$")
DEFAULT_REGION = "us-east-1"


# --- the secret at rest ---


def seal_secret(raw: str, *, organization_id: int) -> str:
    """The secret key as stored: sealed for this organization's storage connections; '' for none."""
    if not raw:
        return ""
    return stored_secrets.seal(raw, organization_id=organization_id, purpose=stored_secrets.PURPOSE_STORAGE_SECRET_KEY)


def unseal_secret(sealed: str, *, organization_id: int) -> str:
    """The secret in clear, for the client only; '' when none is set or it is not this organization's to open."""
    return stored_secrets.unseal_or_empty(
        sealed, organization_id=organization_id, purpose=stored_secrets.PURPOSE_STORAGE_SECRET_KEY
    )


# --- keys and prefixes ---


def unsafe_key_reason(key: str) -> str | None:
    """Why an object key or prefix could escape where it is meant to be (`..`, a leading slash), if it could."""
    if _CONTROL.search(key):
        return "contains a control character"
    if "\\" in key:
        return "contains a backslash"
    if key.startswith("/"):
        return "starts with '/'"
    if any(part in (".", "..") for part in key.split("/")):
        return "contains a '.' or '..' segment"
    return None


def join_prefix(base: str, prefix: str) -> str:
    """The connection's prefix followed by a job's: a job never reads outside its connection's prefix."""
    if base and prefix and not base.endswith("/"):
        return f"{base}/{prefix}"
    return base + prefix


# --- endpoint vetting ---


@dataclass(frozen=True)
class Endpoint:
    url: str  # scheme://host[:port], what boto3 is given
    scheme: str
    host: str
    port: int


def endpoint_for(endpoint_url: str, region: str) -> Endpoint:
    """The S3 API endpoint a connection uses: its own URL, or AWS's regional one when it names none."""
    url = endpoint_url or f"https://s3.{region or DEFAULT_REGION}.amazonaws.com"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise outbound.DestinationRefused("The endpoint URL is malformed.") from exc
    if parts.scheme not in ("http", "https"):
        raise outbound.DestinationRefused("The endpoint must be an http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise outbound.DestinationRefused("The endpoint URL must not carry credentials.")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise outbound.DestinationRefused("The endpoint URL must be scheme://host[:port] only.")
    host = parts.hostname or ""
    if not host:
        raise outbound.DestinationRefused("The endpoint URL has no host.")
    port = port or (443 if parts.scheme == "https" else 80)
    netloc = f"[{host}]" if ":" in host else host
    return Endpoint(url=f"{parts.scheme}://{netloc}:{port}", scheme=parts.scheme, host=host.lower(), port=port)


def endpoint_vet(endpoint_url: str, region: str = "") -> tuple[Endpoint, str]:
    """The endpoint and the one address the platform will connect to for it; DestinationRefused otherwise."""
    endpoint = endpoint_for(endpoint_url, region)
    return endpoint, str(outbound.resolve(endpoint.host, endpoint.port))


# --- service ---


def _clean(fields: dict[str, Any], *, current: StorageConnection | None) -> dict[str, Any]:
    errors = ErrorList()
    name = fields.get("name", current.name if current else "")
    if not str(name).strip() or len(str(name)) > 100:
        errors.add("name", "Must be 1 to 100 characters.", "invalid")
    if "bucket" in fields and not _BUCKET.match(str(fields["bucket"])):
        errors.add("bucket", "Must be a valid S3 bucket name (3 to 63 lowercase letters, digits, '.', '-').")
    if "prefix" in fields:
        prefix = str(fields["prefix"])
        reason = unsafe_key_reason(prefix)
        if reason or len(prefix) > 1024:
            errors.add("prefix", f"The prefix {reason or 'is longer than 1024 characters'}.", "unsafe_key")
    if "region" in fields and not _REGION.match(str(fields["region"])):
        errors.add("region", "Must be a region name such as eu-west-1.")
    for key in ("access_key_id", "secret_access_key"):
        if key in fields and (len(str(fields[key])) > 256 or _CONTROL.search(str(fields[key]))):
            errors.add(key, "Must be at most 256 printable characters.")
    errors.raise_if_any("The storage connection is invalid.")
    if "endpoint_url" in fields or "region" in fields:
        endpoint_url = fields.get("endpoint_url", current.endpoint_url if current else "")
        region = fields.get("region", current.region if current else "")
        try:
            endpoint_vet(str(endpoint_url), str(region))
        except outbound.OutboundError as exc:
            raise InvalidInput(
                "The storage connection is invalid.", errors=[FieldError("endpoint_url", str(exc), "refused")]
            ) from exc
    cleaned = {k: v for k, v in fields.items() if k != "secret_access_key"}
    if "secret_access_key" in fields:
        # A new row is written for the organization in context (TenantOwned.save refuses any other).
        organization_id = current.organization_id if current is not None else current_organization_id()
        cleaned["secret_access_key_encrypted"] = seal_secret(
            str(fields["secret_access_key"]), organization_id=organization_id
        )
    return cleaned


def _audit_changes(fields: dict[str, Any], before: dict[str, Any] | None = None) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "secret_access_key_encrypted":
            changes["secret_access_key"] = ["[redacted]", "[redacted]"]
        elif before is None or before.get(key) != value:
            changes[key] = [None if before is None else before.get(key), value]
    return changes


def storage_connection_create(*, actor: Membership, name: str, bucket: str, **fields: Any) -> StorageConnection:
    """Add an S3 location of the organization; its endpoint is vetted now (and again before every use)."""
    check(permissions.storage_manage(actor))
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise TypeError(f"unknown storage connection fields: {sorted(unknown)}")
    cleaned = _clean({"name": name, "bucket": bucket, **fields}, current=None)
    with transaction.atomic():
        if StorageConnection.objects.filter(name=name).exists():
            raise Conflict(f"A storage connection named {name!r} exists already.")
        connection = StorageConnection.objects.create(created_by=actor.user, **cleaned)
        audit_record(action="storage.create", target=connection, changes=_audit_changes(cleaned))
    return connection


def storage_connection_update(*, actor: Membership, connection: StorageConnection, **fields: Any) -> StorageConnection:
    """Change a connection; an empty secret_access_key removes the stored secret, an absent one keeps it."""
    check(permissions.storage_manage(actor))
    unknown = set(fields) - set(_FIELDS)
    if unknown:
        raise TypeError(f"unknown storage connection fields: {sorted(unknown)}")
    cleaned = _clean(fields, current=connection)
    before = {key: getattr(connection, key) for key in cleaned}
    with transaction.atomic():
        taken = StorageConnection.objects.filter(name=cleaned.get("name")).exclude(pk=connection.pk)
        if "name" in cleaned and taken.exists():
            raise Conflict(f"A storage connection named {cleaned['name']!r} exists already.")
        for key, value in cleaned.items():
            setattr(connection, key, value)
        connection.save()
        changes = _audit_changes(cleaned, before)
        if changes:
            audit_record(action="storage.update", target=connection, changes=changes)
    return connection


def storage_connection_delete(*, actor: Membership, connection: StorageConnection) -> None:
    """Remove a connection no import or export job refers to."""
    check(permissions.storage_manage(actor))
    try:
        with transaction.atomic():
            audit_record(action="storage.delete", target=connection, metadata={"name": connection.name})
            connection.delete()
    except ProtectedError as exc:
        raise Conflict("Import or export jobs refer to this storage connection; it cannot be deleted.") from exc


# --- the client ---


class StorageError(Exception):
    """A storage request failed; the message is ours (never the store's response body)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


_CLIENT_ERROR_MESSAGES = {
    "NoSuchBucket": "The bucket does not exist.",
    "NoSuchKey": "The object does not exist.",
    "AccessDenied": "Access was denied: check the credentials and the bucket's policy.",
    "InvalidAccessKeyId": "The storage refused the access key.",
    "SignatureDoesNotMatch": "The storage refused the secret key.",
    "PermanentRedirect": "The bucket is in another region: set the connection's region.",
}


def storage_error(exc: BaseException) -> StorageError:
    """Our description of a failed storage call: the error code at most, never the store's message or body."""
    from botocore import exceptions as botocore_errors  # type: ignore[import-untyped]

    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, outbound.OutboundError):
        return StorageError(str(exc))
    if isinstance(exc, botocore_errors.ClientError):
        error = exc.response.get("Error", {}) if isinstance(exc.response, dict) else {}
        code = str(error.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _CLIENT_ERROR_MESSAGES:
            return StorageError(_CLIENT_ERROR_MESSAGES[code])
        shown = code if _ERROR_CODE.match(code) else "unknown error"
        return StorageError(f"The storage answered HTTP {status} ({shown}).", transient=fault_classify(exc).transient)
    if isinstance(exc, botocore_errors.NoCredentialsError):
        return StorageError("The connection has no credentials.")
    if isinstance(
        exc,
        botocore_errors.EndpointConnectionError
        | botocore_errors.ConnectTimeoutError
        | botocore_errors.ReadTimeoutError
        | botocore_errors.ConnectionClosedError,
    ):
        return StorageError(f"Could not reach the storage endpoint ({type(exc).__name__}).", transient=True)
    if isinstance(exc, botocore_errors.BotoCoreError):
        return StorageError(f"The storage request failed ({type(exc).__name__}).")
    raise exc


def _pinned_pool_classes(address: str) -> dict[str, type]:
    """Connection pools whose connections open their socket to `address` whatever the URL's host resolves to
    now, keeping the name for the Host header, SNI and the certificate check."""
    from botocore.awsrequest import (  # type: ignore[import-untyped]
        AWSHTTPConnection,
        AWSHTTPConnectionPool,
        AWSHTTPSConnection,
        AWSHTTPSConnectionPool,
    )

    class PinnedHTTPConnection(AWSHTTPConnection):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._dns_host = address  # urllib3 connects to _dns_host; the Host header is set before sending

    class PinnedHTTPSConnection(AWSHTTPSConnection):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if getattr(self, "server_hostname", None) is None:
                self.server_hostname = self.host  # SNI and the certificate check keep the name
            self._dns_host = address

    class PinnedHTTPConnectionPool(AWSHTTPConnectionPool):  # type: ignore[misc]
        ConnectionCls = PinnedHTTPConnection

    class PinnedHTTPSConnectionPool(AWSHTTPSConnectionPool):  # type: ignore[misc]
        ConnectionCls = PinnedHTTPSConnection

    return {"http": PinnedHTTPConnectionPool, "https": PinnedHTTPSConnectionPool}


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int


class S3Client:
    """boto3's S3 client for one connection, held to the vetted endpoint (see the module docstring)."""

    def __init__(self, *, bucket: str, endpoint_url: str, region: str, access_key_id: str, secret: str) -> None:
        import boto3  # type: ignore[import-untyped]  # boto3 ships no type information
        from botocore.config import Config  # type: ignore[import-untyped]

        self.bucket = bucket
        self.endpoint, self.address = endpoint_vet(endpoint_url, region)
        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint.url,
            region_name=region or DEFAULT_REGION,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret or None,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},  # the bucket goes in the path: the host stays the vetted one
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=outbound.default_timeout(),
                read_timeout=60,
                proxies={},  # no proxy from the environment: the connection goes to the vetted address itself
            ),
        )
        session = self.client._endpoint.http_session
        pools = _pinned_pool_classes(self.address)
        # botocore exposes no public hook for the connection class; fail closed if its internals ever move.
        if not hasattr(session, "_manager") or not hasattr(session, "_pool_classes_by_scheme"):
            raise StorageError("This botocore version cannot be held to a vetted address; refusing to connect.")
        session._pool_classes_by_scheme = pools
        session._manager.pool_classes_by_scheme = pools
        self.client.meta.events.register("before-send.s3", self._before_send)

    def _before_send(self, request: Any, **kwargs: Any) -> None:
        """Refuse any request to another host (a redirect), and name the host the request was signed for."""
        parts = urlsplit(request.url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if (parts.scheme, (parts.hostname or "").lower(), port) != (
            self.endpoint.scheme,
            self.endpoint.host,
            self.endpoint.port,
        ):
            raise outbound.DestinationRefused("The storage redirected the request to another host; refused.")
        if "Host" not in request.headers:
            default = 443 if self.endpoint.scheme == "https" else 80
            host = f"[{self.endpoint.host}]" if ":" in self.endpoint.host else self.endpoint.host
            request.headers["Host"] = host if port == default else f"{host}:{port}"

    def list_objects(self, prefix: str, *, start_after: str = "") -> Iterator[S3Object]:
        """Every object under `prefix`, in key order (UTF-8 binary), one page of 1,000 in memory at a time."""
        token = ""
        while True:
            params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                params["ContinuationToken"] = token
            elif start_after:
                params["StartAfter"] = start_after
            try:
                page = self.client.list_objects_v2(**params)
            except Exception as exc:
                raise storage_error(exc) from exc
            for entry in page.get("Contents", []):
                yield S3Object(key=str(entry["Key"]), size=int(entry.get("Size", 0)))
            token = str(page.get("NextContinuationToken") or "")
            if not page.get("IsTruncated") or not token:
                return

    def open(self, key: str, offset: int = 0) -> IO[bytes]:
        """The object's bytes from `offset` on, as a stream."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if offset:
            params["Range"] = f"bytes={offset}-"
        try:
            body: IO[bytes] = self.client.get_object(**params)["Body"]
        except Exception as exc:
            raise storage_error(exc) from exc
        return body

    def put(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> None:
        """Write an object (multipart for large streams, in constant memory)."""
        try:
            self.client.upload_fileobj(stream, self.bucket, key, ExtraArgs={"ContentType": content_type})
        except Exception as exc:
            raise storage_error(exc) from exc


def s3_client(connection: StorageConnection) -> S3Client:
    """The client for a connection; its endpoint is vetted again now (a DNS answer may have changed)."""
    try:
        return S3Client(
            bucket=connection.bucket,
            endpoint_url=connection.endpoint_url,
            region=connection.region,
            access_key_id=connection.access_key_id,
            secret=unseal_secret(connection.secret_access_key_encrypted, organization_id=connection.organization_id),
        )
    except outbound.OutboundError as exc:
        raise StorageError(str(exc), transient=not isinstance(exc, outbound.DestinationRefused)) from exc
