"""The embedded default end to end: `manage.py platform_run` on its embedded PostgreSQL, with its real worker and beat.

Runs the command as an operator would (a subprocess, a clean environment, real HTTP on loopback), then stops it
with SIGTERM and checks that no process it started is left behind.
"""

import email
import http.client
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow

BASE_DIR = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90.0
MAIL_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0
MAIL_SEPARATOR = b"-" * 79  # what Django's file email backend writes after each message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(root: int) -> set[int]:
    """The pids of every live descendant of `root`, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                # The command name is parenthesised and may contain spaces; the fields after it are fixed.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.update(children)
        frontier.extend(children)
    return found


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # a zombie has exited; only its exit status waits to be collected


class Platform:
    """One `platform_run` process whose combined output goes to a file (a pipe could fill up and block it)."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.data_dir = data_dir
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(data_dir)),
            "LANG": "C.UTF-8",
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "ANNOTATE_DATA_DIR": str(data_dir),
        }
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "platform_run", "--port", str(self.port)],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.output, re.MULTILINE)
            if match:
                return match
            if self.process.poll() is not None:
                pytest.fail(f"platform_run exited with {self.process.returncode}:\n{self.output}")
            time.sleep(0.2)
        pytest.fail(f"no {pattern!r} within {timeout} s:\n{self.output}")

    def request(self, method: str, path: str, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        return response.status, (json.loads(raw) if raw else None)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        """Teardown: never leave the platform running, and keep its output for the report of a failure."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        sys.stderr.write(f"--- {self.log_path.name} ---\n{self.output}")  # pytest shows it only on failure


def started_pids(platform: Platform) -> set[int]:
    match = platform.wait_for(r"^Started web \(pid (\d+)\), worker \(pid (\d+)\), beat \(pid (\d+)\)$")
    return {int(pid) for pid in match.groups()}


def wait_for_mail(mail_dir: Path) -> email.message.Message:
    deadline = time.monotonic() + MAIL_TIMEOUT
    while time.monotonic() < deadline:
        for path in sorted(mail_dir.glob("*.log")) if mail_dir.is_dir() else []:
            content = path.read_bytes()
            if content.rstrip().endswith(MAIL_SEPARATOR):  # written completely
                return email.message_from_bytes(content.rstrip()[: -len(MAIL_SEPARATOR)])
        time.sleep(0.2)
    pytest.fail(f"no mail in {mail_dir} within {MAIL_TIMEOUT} s")


def assert_stops_cleanly(platform: Platform, pids: set[int]) -> None:
    assert platform.stop() == 0, platform.output
    assert platform.output.rstrip().endswith("Stopped."), platform.output
    left = sorted(pid for pid in pids if is_running(pid))
    assert left == [], f"processes left behind: {left}\n{platform.output}"
    # The database server runs detached from the process tree; it is stopped too (pg_ctl removes its pid file).
    assert not (platform.data_dir / "postgres" / "data" / "postmaster.pid").exists(), platform.output


def list_all(platform: Platform, path: str, token: str) -> list[dict[str, Any]]:
    """Every item of a cursor-paginated list, following `next` links."""
    items: list[dict[str, Any]] = []
    while path:
        status, body = platform.request("GET", path, token)
        assert status == 200, body
        items.extend(body["results"])
        next_url = urlsplit(body["next"]) if body["next"] else None
        path = f"{next_url.path}?{next_url.query}" if next_url else ""
    return items


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_embedded_platform_first_start_serves_sends_mail_stops_and_restarts(tmp_path):
    data_dir = tmp_path / "data"

    # Given a first start on an empty data directory
    platform = Platform(data_dir, tmp_path / "first.log")
    try:
        children = started_pids(platform)
        platform.wait_for(rf"^Annotate is ready at http://127\.0\.0\.1:{platform.port}/$")
        token = platform.wait_for(r"^  API token:    (\S+)$").group(1)
        assert re.search(r"^  Login:        admin@localhost$", platform.output, re.MULTILINE)
        credentials_file = data_dir / "first-run-credentials.txt"
        assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
        assert f"API token:    {token}\n" in credentials_file.read_text()
        tree = process_tree(platform.process.pid)
        # web, worker and beat, plus uvicorn's two workers and the resource tracker its multiprocessing starts
        assert children <= tree
        assert len(tree) == 6, tree

        # Then it answers over HTTP
        assert platform.request("GET", "/healthz") == (200, {"status": "ok"})

        # and the printed token works: a project, tasks in bulk, and the list of them
        status, project = platform.request("POST", "/api/v1/projects/", token, {"name": "Radiology"})
        assert status == 201, project
        tasks_path = f"/api/v1/projects/{project['id']}/tasks/"
        items: list[dict[str, Any]] = [
            {"external_id": f"report-{i}", "data": {"text": f"Report {i}"}} for i in range(25)
        ]
        status, result = platform.request("POST", tasks_path, token, items)
        assert status == 201, result
        assert (result["created"], result["existing"]) == (25, 0)
        listed = list_all(platform, f"{tasks_path}?page_size=10", token)
        assert sorted(t["external_id"] for t in listed) == sorted(i["external_id"] for i in items)

        # and the owner can label: claim, a double click, submit, next
        next_path = f"/api/v1/projects/{project['id']}/next"
        status, lease = platform.request("POST", next_path, token)
        assert status == 201, lease
        assert platform.request("POST", next_path, token)[1]["id"] == lease["id"]
        status, annotation = platform.request(
            "POST",
            f"/api/v1/assignments/{lease['id']}/submit",
            token,
            {"lease_token": lease["lease_token"], "result": {"note": "fine"}},
        )
        assert status == 201, annotation
        status, second = platform.request("POST", next_path, token)
        assert status == 201, second
        assert second["task"]["id"] != lease["task"]["id"]

        # and the real worker, over the filesystem broker, mails an invitation's link: the only copy of its secret
        status, invitation = platform.request(
            "POST", "/api/v1/invitations/", token, {"email": "expert@example.org", "role": "annotator"}
        )
        assert status == 201, invitation
        assert "accept_url" not in invitation
        message = wait_for_mail(data_dir / "mail")
        assert message["To"] == "expert@example.org"
        body = message.get_payload(decode=True)
        assert isinstance(body, bytes)
        link = rf"http://127\.0\.0\.1:{platform.port}/invitations/accept#([A-Za-z0-9_-]{{43}})\s"
        (secret,) = re.findall(link, body.decode())
        assert secret not in json.dumps(invitation)
        assert secret not in platform.output  # nor in any log line of web, worker or beat

        # When it receives SIGTERM, then it and everything it started exit
        assert_stops_cleanly(platform, tree)
    finally:
        platform.kill()

    # Given a second start on the same data directory
    platform = Platform(data_dir, tmp_path / "second.log")
    try:
        started_pids(platform)
        platform.wait_for(rf"^Annotate is ready at http://127\.0\.0\.1:{platform.port}/$")
        # Then it points at the saved credentials instead of creating new ones
        platform.wait_for(rf"^Sign in with the credentials created on first start: {credentials_file}$")
        assert "API token:" not in platform.output
        # and still serves the data and the token of the first start
        status, body = platform.request("GET", "/api/v1/projects/", token)
        assert status == 200, body
        assert [p["name"] for p in body["results"]] == ["Radiology"]
        assert_stops_cleanly(platform, process_tree(platform.process.pid))
    finally:
        platform.kill()
