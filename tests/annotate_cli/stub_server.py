"""A tiny stand-in for the import half of the API, following its contract (docs/datasets.md): GET me and
GET projects/{id} (the client's checks before it uploads), multipart or JSON POST projects/{id}/imports/,
GET imports/{id} moving from running to its end, GET storage-connections/."""

import email.parser
import email.policy
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "ann_test_token"
SCHEMA = {"fields": [{"name": "label", "type": "choices", "options": ["yes", "no"]}]}


@dataclass
class StubState:
    posts: list[dict[str, Any]] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)
    # Successive answers of GET imports/{id}; the last one repeats.
    job_states: list[dict[str, Any]] = field(default_factory=list)
    connections: list[dict[str, Any]] = field(default_factory=list)
    refuse_with: dict[str, Any] | None = None
    role: str = "manager"
    # Set while the server runs: stops it for good (its port then refuses connections), as a crashed server would.
    stop: Callable[[], None] | None = None
    # The organization's projects, by id, as GET projects/{id} answers them.
    projects: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"p-1": {"id": "p-1", "name": "Triage", "label_schema": SCHEMA}}
    )


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        filename = part.get_filename()
        parts[name] = {"filename": filename, "content": payload} if filename else payload.decode()
    return parts


def _handler(state: StubState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, payload: Any) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"detail": "Authentication credentials were not provided.", "code": "x", "errors": []})
                return False
            return True

        def do_POST(self) -> None:
            if not self._authorised():
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                received = {"kind": "multipart", "path": self.path, "parts": _multipart(content_type, body)}
            else:
                received = {"kind": "json", "path": self.path, "body": json.loads(body)}
            received["declared_length"] = length
            state.posts.append(received)
            if state.refuse_with is not None:
                self._send(400, state.refuse_with)
                return
            self._send(202, {"id": "job-1", "state": "pending", "rows_read": 0})

        def do_GET(self) -> None:
            if not self._authorised():
                return
            state.gets.append(self.path)
            if self.path == "/api/v1/me":
                organization = {"id": "o-1", "slug": "northwind", "name": "Northwind Lab"}
                self._send(200, {"user": {}, "organization": organization, "role": state.role, "token": "ann_test"})
            elif self.path.startswith("/api/v1/projects/"):
                project = state.projects.get(self.path.rsplit("/", 1)[1])
                self._send(200, project) if project else self._send(404, {"detail": "Not found.", "code": "not_found"})
            elif self.path.startswith("/api/v1/imports/"):
                answer = state.job_states.pop(0) if len(state.job_states) > 1 else state.job_states[0]
                self._send(200, {"id": self.path.rsplit("/", 1)[1], **answer})
            elif self.path == "/api/v1/storage-connections/":
                self._send(200, {"next": None, "previous": None, "results": state.connections})
            elif self.path.startswith("/api/v1/storage-connections/"):
                wanted = self.path.rsplit("/", 1)[1]
                found = [c for c in state.connections if c["id"] == wanted]
                self._send(200, found[0]) if found else self._send(404, {"detail": "Not found.", "code": "not_found"})
            else:
                self._send(404, {"detail": "Not found.", "code": "not_found", "errors": []})

    return Handler


@contextmanager
def stub_server(state: StubState) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    state.stop = stop
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
