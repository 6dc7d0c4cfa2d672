"""The HTTP side: JSON calls to the API with the token, a streamed multipart upload, and resumable downloads.

Signed download URLs are their own credential: the token is never sent with them, whichever host they name.
"""

import hashlib
import http.client
import json
import ssl
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

API_PREFIX = "/api/v1/"
CHUNK = 256 * 1024
USER_AGENT = "annotate-cli/1.0"

Progress = Callable[[int, int | None], None]


class ApiError(Exception):
    """The server refused a request; `detail` and `errors` are its own words."""

    def __init__(self, status: int, detail: str, code: str = "", errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
        self.code = code
        self.errors = errors or []

    def describe(self) -> str:
        lines = [f"{self.detail} (HTTP {self.status})"]
        lines.extend(f"  {e.get('field', '')}: {e.get('message', '')}" for e in self.errors[:20])
        return "\n".join(lines)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Not an http(s) URL: {url!r}")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    if parts.scheme == "https":
        return http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=ssl.create_default_context()
        ), target
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout), target


def api_root(base_url: str) -> str:
    """The API's root URL from a server URL given with or without `/api/v1`."""
    base = base_url.rstrip("/")
    if base.endswith(API_PREFIX.rstrip("/")):
        base = base[: -len(API_PREFIX.rstrip("/"))]
    return base + API_PREFIX


class _MultipartBody:
    """A multipart/form-data body streamed from disk, with its exact length known up front."""

    def __init__(self, fields: dict[str, str], file_field: str, path: Path, on_progress: Progress | None) -> None:
        self.boundary = f"annotate-{uuid.uuid4().hex}"
        head = b"".join(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            for name, value in fields.items()
        )
        safe_name = path.name.replace('"', "_").replace("\r", "_").replace("\n", "_")
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{safe_name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.head = head
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.path = path
        self.file_size = path.stat().st_size
        self.length = len(self.head) + self.file_size + len(self.tail)
        self.on_progress = on_progress

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def chunks(self) -> Iterator[bytes]:
        yield self.head
        sent = 0
        with self.path.open("rb") as source:
            while chunk := source.read(CHUNK):
                sent += len(chunk)
                if self.on_progress:
                    self.on_progress(sent, self.file_size)
                yield chunk
        yield self.tail


class Client:
    """Calls of one server's API as one token."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 60.0) -> None:
        self.root = api_root(base_url)
        self.token = token
        self.timeout = timeout

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        url = urljoin(self.root, path.lstrip("/"))
        return f"{url}?{urlencode(query)}" if query else url

    def _send(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
        connection, target = _connection(url, self.timeout)
        try:
            connection.request(method, target, body=body, headers=headers or {})
            response = connection.getresponse()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def _auth(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            **(extra or {}),
        }

    @staticmethod
    def _decode(reply: Reply) -> Any:
        try:
            payload = json.loads(reply.body.decode("utf-8")) if reply.body else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            payload = None
        if reply.status >= 400:
            if isinstance(payload, dict):
                raise ApiError(
                    reply.status, str(payload.get("detail", "")), str(payload.get("code", "")), payload.get("errors")
                )
            raise ApiError(reply.status, reply.body[:200].decode("utf-8", "replace") or "no detail")
        return payload

    def call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        """One JSON request; the decoded answer, or ApiError."""
        headers = self._auth()
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        return self._decode(self._send(method, self.url(path, query), data, headers))

    def upload(
        self, path: str, *, fields: dict[str, str], file_field: str, file: Path, on_progress: Progress | None = None
    ) -> Any:
        """POST a file as multipart/form-data, streamed from disk (never read whole into memory)."""
        body = _MultipartBody(fields, file_field, file, on_progress)
        headers = self._auth({"Content-Type": body.content_type, "Content-Length": str(body.length)})
        connection, target = _connection(self.url(path), self.timeout)
        try:
            connection.putrequest("POST", target)
            for name, value in headers.items():
                connection.putheader(name, value)
            connection.endheaders()
            try:
                for chunk in body.chunks():
                    connection.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer before reading the whole body (a refusal, a size limit): its answer says
                # more than the broken pipe does. If there is none, the pipe's error stands.
                try:
                    response = connection.getresponse()
                except (OSError, http.client.HTTPException):
                    response = None
                if response is None:
                    raise
            else:
                response = connection.getresponse()
            reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()
        return self._decode(reply)

    def download(self, url: str, part: Path, *, on_progress: Progress | None = None) -> int:
        """Fetch a signed URL into `part`, continuing from what `part` already holds (HTTP Range); returns its size.

        A server that ignores the range (200) gets the file rewritten from the start."""
        url = urljoin(self.root, url)
        have = part.stat().st_size if part.exists() else 0
        headers = {"User-Agent": USER_AGENT}
        if have:
            headers["Range"] = f"bytes={have}-"
        connection, target = _connection(url, self.timeout)
        try:
            connection.request("GET", target, headers=headers)
            response = connection.getresponse()
            if response.status == 416 and have:
                response.read()
                return have  # nothing left to fetch
            if response.status not in (200, 206):
                raise ApiError(response.status, response.read()[:200].decode("utf-8", "replace") or "download refused")
            total = _total_size(response, have)
            mode = "ab" if response.status == 206 else "wb"
            done = have if response.status == 206 else 0
            with part.open(mode) as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if on_progress:
                        on_progress(done, total)
            return done
        finally:
            connection.close()


def _total_size(response: http.client.HTTPResponse, have: int) -> int | None:
    content_range = response.getheader("Content-Range") or ""
    if response.status == 206 and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1]
        return int(tail) if tail.isdigit() else None
    length = response.getheader("Content-Length")
    return int(length) if length and length.isdigit() else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_stat_key(path: Path) -> str:
    """What identifies a local file between two runs: its absolute path, size and modification time."""
    stat = path.stat()
    return f"{path.resolve()}:{stat.st_size}:{int(stat.st_mtime)}"
