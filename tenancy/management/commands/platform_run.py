"""The embedded default in one command: start PostgreSQL, apply the roles script and the migrations (as the owner
role), bootstrap once, then run and supervise web, worker and beat (as the app role).

Each child runs in its own session, so a terminal's Ctrl-C reaches this supervisor only, and the supervisor
stops every child gracefully in one place (a second Ctrl-C kills them). If any child exits on its own, the
others are stopped and the command fails: a platform without its worker would silently never send mail.
"""

import contextlib
import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections

from config.database import DatabaseRoles, DatabaseSetupError, EmbeddedServer, connection_as, database_provision
from core.errors import DomainError
from tenancy.management.commands.platform_bootstrap import (
    BootstrapCredentials,
    credentials_file_write,
    credentials_lines,
    platform_bootstrap,
)

EMBEDDED_SETTINGS = "config.settings.local"
CREDENTIALS_FILE = "first-run-credentials.txt"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _default_port() -> int:
    raw = os.environ.get("ANNOTATE_PORT", "8000")
    try:
        return int(raw)
    except ValueError as exc:
        raise CommandError(f"ANNOTATE_PORT must be a port number, got {raw!r}.") from exc


def _die_with_supervisor() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child if the supervisor itself is killed outright."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal_group(self, signum: int) -> None:
        """Signal everything left in the child's process group (its own children included)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)


class Command(BaseCommand):
    help = (
        "Start the embedded platform (PostgreSQL from a wheel under the data directory, filesystem broker, local "
        "disk): migrate, create the demo organization on first start, then run the web server (uvicorn), a Celery "
        "worker and Celery beat until stopped."
    )
    requires_migrations_checks = False  # this command applies them

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.children: list[Child] = []
        self.stop_requested = 0
        self.database: EmbeddedServer | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("ANNOTATE_HOST", "127.0.0.1"), help="Bind address.")
        parser.add_argument("--port", type=int, default=None, help="HTTP port (default: $ANNOTATE_PORT or 8000).")
        parser.add_argument("--web-workers", type=int, default=2, help="web server (uvicorn) worker processes.")
        parser.add_argument("--ready-timeout", type=float, default=90.0, help="Seconds to wait for /healthz.")
        parser.add_argument("--stop-timeout", type=float, default=30.0, help="Seconds to wait for a graceful stop.")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.SETTINGS_MODULE != EMBEDDED_SETTINGS:
            raise CommandError(
                f"platform_run starts the embedded default; run it with DJANGO_SETTINGS_MODULE={EMBEDDED_SETTINGS} "
                f"(current: {settings.SETTINGS_MODULE}). Production runs web, worker and beat as separate services."
            )
        host: str = options["host"]
        port: int = options["port"] if options["port"] is not None else _default_port()
        data_dir = Path(settings.DATA_DIR).resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        url = f"http://{self._local_address(host)}:{port}/"
        self._check_port_free(host, port)

        log_dir = data_dir / "log"
        log_dir.mkdir(exist_ok=True)
        self.say(f"Data directory: {data_dir}")
        try:
            credentials = self._prepare_database(data_dir)
        except (DatabaseSetupError, DomainError) as exc:
            self._stop_database()
            raise CommandError(str(exc)) from exc
        connections.close_all()  # the children open their own; this process only supervises from here on
        credentials_path = data_dir / CREDENTIALS_FILE
        if credentials is not None:
            credentials_file_write(credentials_path, credentials, url)

        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self._start_children(host, port, data_dir, options["web_workers"], public_url=url.rstrip("/"))
            if self._wait_ready(host, port, options["ready_timeout"]):
                self._announce(url, credentials, credentials_path, log_dir)
                failed = self._supervise()
            else:
                failed = self._first_exited()
        finally:
            if self.stop_requested:
                self.say("Stopping (Ctrl-C again to kill)…")
            self._stop_children(options["stop_timeout"])
            self._stop_database()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failed is not None:
            code = failed.process.returncode
            raise CommandError(
                f"{failed.name} (pid {failed.pid}) exited with status {code}; stopped the others. "
                f"The end of its log ({failed.log}):\n{_tail(failed.log)}"
            )
        if not self.stop_requested:
            raise CommandError(f"{url}healthz did not answer within {options['ready_timeout']:.0f} s; stopped.")
        self.say("Stopped.")

    # --- processes ---

    def _start_children(self, host: str, port: int, data_dir: Path, web_workers: int, *, public_url: str) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": EMBEDDED_SETTINGS,
            "ANNOTATE_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
        }
        # Links in mail must point at this server unless the operator named a public address.
        env.setdefault("ANNOTATE_PUBLIC_URL", public_url)
        python = sys.executable
        celery = [python, "-m", "celery", "-A", "config"]
        commands = {
            # The ASGI app, so that a streamed model reply waits on the event loop instead of holding a worker for
            # its seconds; every other route runs as in production. Django has no lifespan events to serve.
            "web": [
                *(python, "-m", "uvicorn", "config.asgi:application", "--lifespan", "off", "--no-access-log"),
                *("--host", host, "--port", str(port), "--workers", str(web_workers)),
                *("--timeout-graceful-shutdown", "10"),
            ],
            # One task at a time: the solo pool keeps the worker one process on a machine that is also the server.
            # A lone worker has no peers to sync with or watch, so gossip, mingle and heartbeats would only
            # add broker files.
            "worker": [
                *celery,
                *("worker", "--pool=solo", "--concurrency=1", "--loglevel=INFO", "--hostname=embedded@%h"),
                *("--without-gossip", "--without-mingle", "--without-heartbeat"),
            ],
            "beat": [*celery, "beat", "--loglevel=INFO", f"--schedule={data_dir / 'celerybeat-schedule'}"],
        }
        hook = _die_with_supervisor()
        for name, argv in commands.items():
            # Each child logs to its own file, so the terminal ends with what a newcomer needs (URL, login, token)
            # rather than with the worker's start-up banner.
            log = data_dir / "log" / f"{name}.log"
            with log.open("ab") as output:
                process = subprocess.Popen(  # noqa: S603 - our own interpreter running fixed arguments
                    argv,
                    cwd=settings.BASE_DIR,
                    env=env,
                    start_new_session=True,
                    preexec_fn=hook,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            self.children.append(Child(name, process, log))
        self.say("Started " + ", ".join(f"{c.name} (pid {c.pid})" for c in self.children))

    def _first_exited(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def _wait_ready(self, host: str, port: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        address = self._local_address(host).strip("[]")
        while time.monotonic() < deadline and not self.stop_requested and self._first_exited() is None:
            connection = http.client.HTTPConnection(address, port, timeout=2)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return True
            except OSError:
                pass
            finally:
                connection.close()
            time.sleep(0.25)
        return False

    def _supervise(self) -> Child | None:
        while not self.stop_requested:
            exited = self._first_exited()
            if exited is not None:
                return exited
            time.sleep(0.25)
        return None

    def _stop_children(self, timeout: float) -> None:
        for child in self.children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in self.children:
            while child.process.poll() is None and time.monotonic() < deadline and self.stop_requested < 2:
                time.sleep(0.1)
            if child.process.poll() is None:
                self.say(f"{child.name} (pid {child.pid}) did not stop in time; killing it.")
                child.signal_group(signal.SIGKILL)
                child.process.wait()
            # Whatever the child left behind in its group (a web server worker, say) must not outlive it.
            child.signal_group(signal.SIGKILL)
        self.children = []

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Only a flag: writing to stdout here could re-enter a write the main loop was in the middle of.
        self.stop_requested += 1

    # --- the database ---

    def _prepare_database(self, data_dir: Path) -> BootstrapCredentials | None:
        """Start the embedded server (unless DATABASE_URL names another), apply the roles script, migrate as the
        owner role, and create the demo organization on first start (as the app role, like every request)."""
        if settings.EMBEDDED_DATABASE:
            server = EmbeddedServer(data_dir)
            first = not server.initialised()
            self.say("Starting PostgreSQL (first start: creating the database)…" if first else "Starting PostgreSQL…")
            if server.start():
                self.database = server
            database_provision(
                server.dsn(), DatabaseRoles(owner=settings.DATABASE_OWNER_ROLE, app=settings.DATABASE_APP_ROLE)
            )
            self.say("Applying database migrations…")
            with connection_as(connection.settings_dict, settings.DATABASE_OWNER_ROLE, connection.close):
                call_command("migrate", interactive=False, verbosity=0)
        else:
            self.say("Applying database migrations (as the role DATABASE_URL names)…")
            call_command("migrate", interactive=False, verbosity=0)
        return platform_bootstrap()

    def _stop_database(self) -> None:
        if self.database is None:
            return
        try:
            self.database.stop()
        except DatabaseSetupError as exc:
            self.say(f"Could not stop PostgreSQL: {exc}")
        self.database = None

    def _announce(
        self, url: str, credentials: BootstrapCredentials | None, credentials_path: Path, log_dir: Path
    ) -> None:
        """The last lines a newcomer reads: where the logs and the mail go, then the URL and how to sign in."""
        self.say(f"Logs: {log_dir}/{{web,worker,beat}}.log")
        if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
            self.say(f"Mail (invitations) is written to files in {settings.EMAIL_FILE_PATH}, not sent.")
        self.say("")
        self.say(f"Annotate is ready at {url}")
        if credentials is not None:
            self.say("First start: the demo organization and its owner were created.")
            for line in credentials_lines(credentials, url):
                self.say(f"  {line}")
            self.say(f"  Saved to {credentials_path} (readable only by you); not shown again.")
        elif credentials_path.exists():
            self.say(f"Sign in with the credentials created on first start: {credentials_path}")
        else:
            self.say("Credentials were already created on first start (no credentials file was kept).")
        self.say("Press Ctrl-C to stop.")

    # --- helpers ---

    @staticmethod
    def _check_port_free(host: str, port: int) -> None:
        """Fail before migrating rather than after the web server's retries (or, worse, another server's /healthz)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web servers do
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(
                    f"Cannot listen on {host}:{port} ({exc.strerror}); choose another with --port or ANNOTATE_PORT."
                ) from exc

    @staticmethod
    def _local_address(host: str) -> str:
        """Where this machine reaches the server: the bind address, or loopback for a wildcard bind."""
        if host in ("", "0.0.0.0"):  # noqa: S104 - recognising a wildcard bind, not binding to one
            return "127.0.0.1"
        if host == "::":
            return "[::1]"
        return f"[{host}]" if ":" in host else host

    def say(self, message: str) -> None:
        self.stdout.write(message)
        self.stdout.flush()
