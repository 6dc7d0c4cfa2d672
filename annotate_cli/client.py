"""The HTTP side: JSON calls to the API with the token, a streamed multipart upload, and resumable downloads.

Signed download URLs are their own credential: the token is never sent with them, whichever host they name.
"""

import errno
import hashlib
import http.client
import json
import socket
import ssl
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

API_PREFIX = "/api/v1/"
CHUNK = 256 * 1024
USER_AGENT = "annotate-cli/1.0"

Progress = Callable[[int, int | None], None]


class CliError(Exception):
    """A reason the command stops, in words a person can act on. Local problems (a missing file, an unknown
    format, a project that is not there) are raised as this class itself: no HTTP status applies to them, so
    none is printed. `hint` is a next step, added by whoever knows one."""

    hint = ""

    def describe(self) -> str:
        return "\n".join(filter(None, [self.lines(), self.hint]))

    def lines(self) -> str:
        return str(self)


class ApiError(CliError):
    """The server refused a request; `detail` and `errors` are its own words."""

    def __init__(self, status: int, detail: str, code: str = "", errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
        self.code = code
        self.errors = errors or []

    def lines(self) -> str:
        lines = [f"{self.detail} (HTTP {self.status})"]
        lines.extend(f"  {e.get('field', '')}: {e.get('message', '')}" for e in self.errors[:20])
        return "\n".join(lines)


class ServerUnreachable(CliError):
    """No HTTP answer at all: the address is wrong, the server is down, the network or TLS failed.

    Kept apart from ApiError so that a connection failure is never shown as an HTTP status it never had."""

    def __init__(self, origin: str, reason: str, *, connected: bool = False) -> None:
        verb = "lost the connection to" if connected else "cannot reach"
        super().__init__(f"{verb} {origin}: {reason}")
        self.origin = origin
        self.reason = reason


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _reason(exc: BaseException) -> str:
    """What went wrong on the wire, in a few words (the exception's class and errno are for programmers)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"its TLS certificate was not accepted ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"the TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, socket.gaierror):
        return "the host name does not resolve"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, on this port?)"
    if isinstance(exc, ConnectionResetError):
        return "the connection was reset"
    if isinstance(exc, BrokenPipeError):
        return "the server closed the connection while the request was being sent"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return "no route to the host"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    if isinstance(exc, http.client.HTTPException):
        return f"the answer was not HTTP ({type(exc).__name__})"
    return str(exc) or type(exc).__name__


@contextmanager
def _network(url: str, *, connected: bool = False) -> Iterator[None]:
    """Network failures inside become ServerUnreachable naming the server (`connected`: after the connection was
    made). Local file reads and writes stay outside: a full disk is not the server's fault."""
    try:
        yield
    except (OSError, http.client.HTTPException) as exc:
        raise ServerUnreachable(_origin(url), _reason(exc), connected=connected) from exc


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _connection(url: str, timeout: float) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"not an http(s) URL: {url!r}")
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
        try:
            source = self.path.open("rb")
        except OSError as exc:
            raise CliError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        with source:
            while True:
                try:
                    chunk = source.read(CHUNK)
                except OSError as exc:
                    raise CliError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
                if not chunk:
                    break
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
            with _network(url):
                connection.request(method, target, body=body, headers=headers or {})
                response = connection.getresponse()
            with _network(url, connected=True):
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
        url = self.url(path)
        connection, target = _connection(url, self.timeout)
        try:
            with _network(url):  # the connection is made when the headers go out
                connection.putrequest("POST", target)
                for name, value in headers.items():
                    connection.putheader(name, value)
                connection.endheaders()
            with _network(url, connected=True):
                response = _send_body(connection, body)
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
            with _network(url):
                connection.request("GET", target, headers=headers)
                response = connection.getresponse()
            if response.status == 416 and have:
                with _network(url, connected=True):
                    response.read()
                return have  # nothing left to fetch
            if response.status not in (200, 206):
                with _network(url, connected=True):
                    said = response.read()[:200].decode("utf-8", "replace")
                raise ApiError(response.status, said or "download refused")
            total = _total_size(response, have)
            mode = "ab" if response.status == 206 else "wb"
            done = have if response.status == 206 else 0
            with part.open(mode) as out:
                while True:
                    with _network(url, connected=True):
                        chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    done += len(chunk)
                    if on_progress:
                        on_progress(done, total)
            return done
        finally:
            connection.close()


def _send_body(connection: http.client.HTTPConnection, body: _MultipartBody) -> http.client.HTTPResponse:
    """Stream the body, then read the answer's head."""
    try:
        for chunk in body.chunks():
            connection.send(chunk)
    except (BrokenPipeError, ConnectionResetError):
        # The server may answer before reading the whole body (a refusal, a size limit): its answer says more than
        # the broken pipe does. If there is none, the pipe's error stands.
        try:
            return connection.getresponse()
        except (OSError, http.client.HTTPException):
            pass
        raise
    return connection.getresponse()


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
