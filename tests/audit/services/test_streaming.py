"""Streaming the trail to a SIEM: JSON lines over HTTP and RFC 5424 over TCP, at least once, resumable after a kill."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from audit.models import AuditStreamCursor
from audit.services.streaming import audit_stream_organization, destination_for, syslog_frame
from core.audit.record import audit_record
from core.context import organization_context
from core.errors import InvalidInput, NotAllowed
from tenancy.models import Organization, Role
from tenancy.services.organizations import organization_update
from tests.conftest import member_client
from tests.factories import ApiTokenFactory, MembershipFactory, OrganizationFactory
from tests.worker_support import REPO_ROOT

ROOT = REPO_ROOT


@dataclass
class Receiver:
    """A local SIEM endpoint: records every POST body; optionally answers an error or stalls on one request."""

    status: int = 200
    stall_on: int | None = None  # 1-based number of the request to hold until `release` is set
    bodies: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def sequences(self) -> list[int]:
        return [json.loads(line)["sequence"] for body in self.bodies for line in body.splitlines()]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                state.bodies.append(body)
                state.headers.append({k.lower(): v for k, v in self.headers.items()})
                number = len(state.bodies)
            if number == state.stall_on:
                state.stalled.set()
                state.release.wait(60)
            try:
                self.send_response(state.status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender was killed while we held its request

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/ingest"
    yield state
    state.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def loopback_allowed(settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def _cursor(category: str) -> int:
    """The delivered-through sequence; 0 when no batch was ever acknowledged (no cursor row committed)."""
    return AuditStreamCursor.objects.filter(category=category).values_list("last_sequence", flat=True).first() or 0


def _record(action: str, count: int) -> None:
    for index in range(count):
        audit_record(action=action, metadata={"index": index})


def test_events_are_posted_as_json_lines_in_batches_and_the_cursor_follows(
    tenant, receiver, loopback_allowed, settings
):
    settings.AUDIT_STREAM_URL = receiver.url
    settings.AUDIT_STREAM_TOKEN = "siem-token-1"
    settings.AUDIT_STREAM_BATCH_SIZE = 3
    _record("project.update", 7)

    result = audit_stream_organization(organization_id=tenant.pk)

    assert (result.events, result.batches, result.errors) == (7, 3, [])
    assert [len(body.splitlines()) for body in receiver.bodies] == [3, 3, 1]
    assert receiver.sequences() == [1, 2, 3, 4, 5, 6, 7]
    first = json.loads(receiver.bodies[0].splitlines()[0])
    assert first["event_id"] == f"{tenant.uuid}:project:1"
    assert (first["org"], first["organization"], first["action"], first["metadata"]) == (
        tenant.slug,
        str(tenant.uuid),
        "project.update",
        {"index": 0},
    )
    assert receiver.headers[0]["authorization"] == "Bearer siem-token-1"
    assert receiver.headers[0]["content-type"] == "application/x-ndjson"
    assert _cursor("project") == 7
    # Nothing new: nothing sent. One more event: only it.
    assert audit_stream_organization(organization_id=tenant.pk).events == 0
    _record("project.update", 1)
    assert audit_stream_organization(organization_id=tenant.pk).events == 1
    assert receiver.sequences()[-1] == 8
    assert len(receiver.bodies) == 4


def test_a_refusing_receiver_leaves_the_cursor_where_it_was(tenant, receiver, loopback_allowed, settings):
    settings.AUDIT_STREAM_URL = receiver.url
    receiver.status = 503
    _record("project.update", 2)

    result = audit_stream_organization(organization_id=tenant.pk)

    assert (result.events, result.errors) == (0, ["project: The audit stream receiver answered HTTP 503."])
    assert _cursor("project") == 0
    receiver.status = 200
    assert audit_stream_organization(organization_id=tenant.pk).events == 2
    assert receiver.sequences() == [1, 2, 1, 2]
    assert _cursor("project") == 2


def test_a_loopback_receiver_is_refused_unless_allow_listed(tenant, receiver, settings):
    settings.AUDIT_STREAM_URL = receiver.url
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    _record("project.update", 1)

    result = audit_stream_organization(organization_id=tenant.pk)

    assert result.errors == ["project: Refused to connect to 127.0.0.1: a loopback address."]
    assert receiver.bodies == []
    assert _cursor("project") == 0


def test_without_a_destination_nothing_is_streamed(tenant, settings):
    settings.AUDIT_STREAM_URL = ""
    _record("project.update", 1)
    assert audit_stream_organization(organization_id=tenant.pk).events == 0
    assert not AuditStreamCursor.objects.exists()


@pytest.fixture
def syslog_server() -> Iterator[tuple[int, list[bytes]]]:
    received: list[bytes] = []
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
                received.append(b"".join(chunks))

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1], received
    listener.close()


def _octet_frames(data: bytes) -> list[bytes]:
    frames = []
    while data:
        length, _, rest = data.partition(b" ")
        frames.append(rest[: int(length)])
        data = rest[int(length) :]
    return frames


def test_syslog_over_tcp_with_octet_counting(tenant, syslog_server, loopback_allowed, settings):
    port, received = syslog_server
    settings.AUDIT_STREAM_URL = f"syslog+tcp://127.0.0.1:{port}"
    settings.PUBLIC_URL = "https://annotate.example.org"
    _record("auth.login", 2)
    audit_record(action="auth.login_failed", outcome="denied")

    result = audit_stream_organization(organization_id=tenant.pk)

    assert (result.events, result.errors) == (3, [])
    frames = _octet_frames(b"".join(received))
    assert len(frames) == 3
    *header, message = frames[2].split(b" ", 7)
    assert header[0] == b"<108>1"  # facility 13 (log audit) * 8 + severity 4 (denied)
    assert header[2:] == [b"annotate.example.org", b"annotate", b"-", b"auth.login_failed", b"-"]
    document = json.loads(message)
    assert (document["sequence"], document["outcome"], document["event_id"]) == (
        3,
        "denied",
        f"{tenant.uuid}:auth:3",
    )
    assert frames[0].startswith(b"<110>1 ")
    assert _cursor("auth") == 3


def test_syslog_newline_framing():
    frame = syslog_frame(
        {"occurred_at": "2026-01-02T03:04:05.000006Z", "action": "member.add", "outcome": "success", "sequence": 1},
        framing="newline",
    )
    assert frame == (
        b'<110>1 2026-01-02T03:04:05.000006Z - annotate - member.add - {"action":"member.add",'
        b'"occurred_at":"2026-01-02T03:04:05.000006Z","outcome":"success","sequence":1}\n'
    )


def test_only_owners_configure_the_stream_and_the_token_is_stored_encrypted(tenant, receiver, loopback_allowed):
    owner = MembershipFactory(organization=tenant, role=Role.OWNER)
    admin = MembershipFactory(organization=tenant, role=Role.ADMIN)
    config = {"kind": "http", "url": receiver.url, "token": "org-secret-token"}

    with pytest.raises(NotAllowed, match=r"Only owners may change where the audit trail is streamed\."):
        organization_update(actor=admin, organization=tenant, settings={"audit_stream": config})
    organization_update(actor=owner, organization=tenant, settings={"audit_stream": config})

    stored = tenant.settings["audit_stream"]
    assert sorted(stored) == ["enabled", "kind", "token_sealed", "url"]
    assert "org-secret-token" not in json.dumps(tenant.settings)
    assert destination_for(tenant).token == "org-secret-token"  # type: ignore[union-attr]
    # An admin may still change other settings as long as the stream configuration is echoed back as read.
    shown = {"kind": "http", "enabled": True, "url": receiver.url, "token_set": True}
    organization_update(actor=admin, organization=tenant, settings={"audit_stream": shown, "theme": "dark"})
    assert tenant.settings == {"audit_stream": stored, "theme": "dark"}


def _configure(organization: Any, config: dict[str, Any]) -> None:
    with organization_context(organization.pk):
        owner = MembershipFactory(organization=organization, role=Role.OWNER)
        organization_update(actor=owner, organization=organization, settings={"audit_stream": config})


def test_an_owner_of_one_organization_cannot_take_another_organizations_stream_token(db, receiver, loopback_allowed):
    """The incident: owner in A, annotator in B, moved B's stored token into A's stream and received B's secret."""
    a, b = OrganizationFactory(), OrganizationFactory()
    _configure(b, {"kind": "http", "url": receiver.url, "token": "bravo-bearer-secret"})
    b.refresh_from_db()
    sealed = b.settings["audit_stream"]["token_sealed"]
    with organization_context(a.pk):
        owner_membership = MembershipFactory(organization=a, role=Role.OWNER)
        owner_of_a = ApiTokenFactory(membership=owner_membership)
    with organization_context(b.pk):
        annotator_of_b = ApiTokenFactory(
            membership=MembershipFactory(organization=b, user=owner_membership.user, role=Role.ANNOTATOR)
        )
    in_a, in_b = APIClient(), APIClient()
    in_a.credentials(HTTP_AUTHORIZATION=f"Bearer {owner_of_a.raw}")
    in_b.credentials(HTTP_AUTHORIZATION=f"Bearer {annotator_of_b.raw}")

    read = in_b.get("/api/v1/organization")
    planted = in_a.patch(
        "/api/v1/organization",
        {"settings": {"audit_stream": {"kind": "http", "url": receiver.url, "token_sealed": sealed}}},
        format="json",
    )
    with organization_context(a.pk):
        audit_record(action="project.update")
    audit_stream_organization(organization_id=a.pk)

    assert read.status_code == 403
    assert (planted.status_code, planted.json()["errors"]) == (
        400,
        [
            {
                "field": "audit_stream.token_sealed",
                "message": "Send the secret itself (write-only); a sealed value is never accepted.",
                "code": "sealed_value",
            }
        ],
    )
    a.refresh_from_db()
    assert a.settings == {}
    assert [headers.get("authorization") for headers in receiver.headers] == []


def test_a_sealed_token_copied_into_another_organization_does_not_open_there(db, receiver, loopback_allowed):
    a, b = OrganizationFactory(), OrganizationFactory()
    _configure(b, {"kind": "http", "url": receiver.url, "token": "bravo-bearer-secret"})
    b.refresh_from_db()
    # Whatever copies it (a database restore, a bug in a later endpoint), the value stays bound to B.
    Organization.objects.filter(pk=a.pk).update(settings=b.settings)
    a.refresh_from_db()

    with organization_context(a.pk):
        audit_record(action="project.update")
    result = audit_stream_organization(organization_id=a.pk)

    assert destination_for(b).token == "bravo-bearer-secret"  # type: ignore[union-attr]
    assert destination_for(a).token == ""  # type: ignore[union-attr]
    assert (result.events, result.errors) == (1, [])
    assert "authorization" not in receiver.headers[0]


def test_the_token_is_write_only_kept_when_omitted_dropped_with_null_and_never_follows_a_new_origin(
    tenant, receiver, loopback_allowed
):
    owner, _ = member_client(tenant, Role.OWNER)
    elsewhere = receiver.url.replace("127.0.0.1", "127.0.0.2")

    def patch(stream: dict[str, Any]) -> Any:
        return owner.patch("/api/v1/organization", {"settings": {"audit_stream": stream}}, format="json")

    created = patch({"kind": "http", "url": receiver.url, "token": "tango-secret"})
    disabled = patch({"kind": "http", "url": receiver.url, "enabled": False})
    enabled = patch({"kind": "http", "url": receiver.url})
    moved = patch({"kind": "http", "url": elsewhere})
    moved_as_read = patch({"kind": "http", "url": elsewhere, "token_set": True})
    dropped = patch({"kind": "http", "url": elsewhere, "token": None})

    assert created.status_code == 200
    assert created.json()["settings"] == {
        "audit_stream": {"kind": "http", "enabled": True, "url": receiver.url, "token_set": True}
    }
    assert "tango-secret" not in created.content.decode()
    assert "sealed" not in created.content.decode()
    assert disabled.json()["settings"]["audit_stream"] == {
        "kind": "http",
        "enabled": False,
        "url": receiver.url,
        "token_set": True,
    }
    assert enabled.json()["settings"]["audit_stream"]["token_set"] is True
    origin_changed = [
        {
            "field": "audit_stream.token",
            "message": "The token never follows the stream to another origin: send it again, or null to stream "
            "without one.",
            "code": "invalid",
        }
    ]
    assert (moved.status_code, moved.json()["errors"]) == (400, origin_changed)
    assert (moved_as_read.status_code, moved_as_read.json()["errors"]) == (400, origin_changed)
    assert dropped.json()["settings"] == {
        "audit_stream": {"kind": "http", "enabled": True, "url": elsewhere, "token_set": False}
    }
    tenant.refresh_from_db()
    assert tenant.settings == {"audit_stream": {"kind": "http", "enabled": True, "url": elsewhere, "token_sealed": ""}}


@pytest.mark.parametrize(
    ("config", "field_name"),
    [
        ({"kind": "http", "url": "http://169.254.169.254/"}, "audit_stream.url"),
        ({"kind": "http", "url": "ftp://siem.example.org/"}, "audit_stream.url"),
        ({"kind": "http", "url": "http://[2002:7f00:1::]/"}, "audit_stream.url"),
        ({"kind": "syslog", "host": "10.0.0.5", "port": 514}, "audit_stream.host"),
        ({"kind": "syslog", "host": "2002:a9fe:a9fe::", "port": 514}, "audit_stream.host"),
        ({"kind": "syslog", "host": "siem.example.org", "port": 70000}, "audit_stream.port"),
        ({"kind": "kafka"}, "audit_stream.kind"),
        ({"kind": "http", "url": "https://siem.example.org/", "verify": False}, "audit_stream.verify"),
    ],
)
def test_invalid_or_refused_destinations_are_rejected(tenant, settings, config, field_name):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    owner = MembershipFactory(organization=tenant, role=Role.OWNER)
    with pytest.raises(InvalidInput) as invalid:
        organization_update(actor=owner, organization=tenant, settings={"audit_stream": config})
    assert [error.field for error in invalid.value.errors] == [field_name]
    tenant.refresh_from_db()
    assert "audit_stream" not in tenant.settings


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_killed_streamer_resumes_from_its_cursor_with_no_gap(receiver):
    """SIGKILL the streamer while the receiver holds its third batch; the restart resends that batch and the rest."""
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        _record("project.update", 40)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{settings.DATABASE_APP_ROLE}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "AUDIT_STREAM_URL": receiver.url,
        "AUDIT_STREAM_BATCH_SIZE": "5",
        "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    command = [sys.executable, "manage.py", "audit_stream", "--once", "--organization", organization.slug]
    receiver.stall_on = 3

    first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert receiver.stalled.wait(60), first.communicate(timeout=5)[0]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    receiver.release.set()
    assert first.returncode == -signal.SIGKILL
    with organization_context(organization.pk):
        assert _cursor("project") == 10  # two acknowledged batches; the third was in flight

    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert second.returncode == 0, second.stderr
    assert receiver.sequences() == list(range(1, 16)) + list(range(11, 41))
    assert set(receiver.sequences()) == set(range(1, 41))
    with organization_context(organization.pk):
        assert _cursor("project") == 40
