"""A newcomer's first day on the embedded default, exactly as shipped: a clean copy of the tree, the README's one
command (`make run`, which makes its own .venv with uv and starts PostgreSQL from the wheel, web, worker and beat),
the journey of tests/journeys/support.py with that copy's own `annotate` client, then SIGTERM: the platform and
the PostgreSQL server it started are gone within a bound.
"""

import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.journeys.support import (
    Api,
    Cli,
    Service,
    Timings,
    assert_no_errors_logged,
    copy_tree,
    fail,
    free_port,
    is_running,
    kill_pids,
    process_tree,
    processes_with_argument,
    shell_environment,
    stop_services,
    walk_journey,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc"),
]

# First start: uv makes .venv (from its cache), initdb, the roles script, every migration, then the children.
READY_TIMEOUT = 300.0
# Lines `make run` prints on its way to ready, in order: when each first shows is the start-up's breakdown.
MILESTONES = {
    "venv_created": r"^Creating virtual environment at: \.venv$",
    "platform_run_exec": r"^exec env DJANGO_SETTINGS_MODULE=config\.settings\.local ",
    "postgres_starting": r"^Starting PostgreSQL",
    "migrations_applying": r"^Applying database migrations",
    "children_started": r"^Started web \(pid \d+\), worker \(pid \d+\), beat \(pid \d+\)$",
    "ready": r"^Annotate is ready at ",
}


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def test_make_run_in_a_clean_copy_serves_the_whole_journey_and_stops(tmp_path: Path) -> None:
    timings = Timings("embedded")
    # The copy lives outside pytest's temporary folders: run as root, the embedded server runs as its own account,
    # which needs search permission on every folder above the tree, and any pytest session on the machine resets
    # /tmp/pytest-of-<user> to 0700. (Resolved: the server's command line names its data directory resolved.)
    workspace = Path(tempfile.mkdtemp(prefix="annotate-journey-")).resolve()
    tree = workspace / "tree"
    with timings.step("copy_tree"):
        timings.counts["files_copied"] = copy_tree(Path(__file__).resolve().parents[2], tree)
    data_dir = tree / "var"
    pgdata = data_dir / "postgres" / "data"
    port = free_port()
    run_log = tmp_path / "make-run.log"
    logs = [run_log, *(data_dir / "log" / f"{name}.log" for name in ("web", "worker", "beat"))]
    logs.append(data_dir / "postgres" / "server.log")
    started: set[int] = set()
    complete = False

    # Given the README's run command in a clean copy, on a free port
    make = Service.start(
        "make run", ["make", "run"], cwd=tree, env=shell_environment(ANNOTATE_PORT=str(port)), log=run_log
    )
    try:
        with timings.step("first_start_to_ready"):
            output = _wait_ready(make, timings, logs)
        url = f"http://127.0.0.1:{port}/"
        assert re.search(rf"^Annotate is ready at {re.escape(url)}$", output, re.M), output
        assert re.search(r"^  Login:        admin@localhost$", output, re.M), output
        assert re.search(r"^  Password:     \S{20,}$", output, re.M), output
        token = re.search(r"^  API token:    (ann_\S+)$", output, re.M)
        assert token is not None, output
        # make, platform_run, web (and uvicorn's workers), worker and beat: all ours to account for at the end
        started = process_tree(make.pid)
        server = _postmaster_pid(pgdata)
        assert server is not None, f"no postmaster.pid in {pgdata}"
        assert is_running(server), f"no PostgreSQL server for {pgdata}"
        assert processes_with_argument(str(pgdata)) == [server]

        # When a lab walks the journey with the copy's own client
        cli = Cli(tree / ".venv" / "bin" / "annotate", url, token.group(1), tmp_path / "journey", logs)
        cli.workdir.mkdir()
        walk_journey(Api(url, token.group(1), logs), cli, timings)

        # and the platform is stopped with SIGTERM (to make, which passes it on to platform_run)
        with timings.step("stop"):
            stop_services([make])
        # Then platform_run stopped its children and its database, and said so last
        assert run_log.read_text(errors="replace").rstrip().endswith("Stopped."), _tail_of(run_log)
        # make re-raises the signal it was stopped with on itself, once its child has exited
        assert make.process.returncode == -signal.SIGTERM, make.process.returncode
        left = sorted(pid for pid in started if is_running(pid))
        assert left == [], f"processes left running after the stop: {left}"
        assert processes_with_argument(str(pgdata)) == [], f"a PostgreSQL server for {pgdata} is still running"
        assert not (pgdata / "postmaster.pid").exists()
        assert_no_errors_logged(logs[1:4])
        complete = True
    finally:
        if not complete:
            # Whatever is left of what this test started: make's group, the processes seen at ready (the children
            # run in sessions of their own), and the copy's PostgreSQL server.
            survivors = started | (process_tree(make.pid) if make.alive() else set())
            make.kill()
            kill_pids(survivors)
            _stop_server(pgdata)
        timings.write(complete=complete, logs=logs)
        if not complete:
            sys.stderr.write(f"The copy, its .venv and its data directory are kept in {workspace}\n")
    # The copy holds a .venv and a database (about 1 GB before hard links); a failed run keeps it to look into.
    shutil.rmtree(workspace)


def _wait_ready(make: Service, timings: Timings, logs: list[Path]) -> str:
    """Wait for the API token line (printed after the ready line); note when each milestone first showed."""
    start = time.monotonic()
    deadline = start + READY_TIMEOUT
    while True:
        output = make.log.read_text(errors="replace")
        for name, pattern in MILESTONES.items():
            if name not in timings.milestones and re.search(pattern, output, re.M):
                timings.milestones[name] = round(time.monotonic() - start, 3)
        if re.search(r"^  API token:    ann_\S+$", output, re.M):
            return output
        if not make.alive():
            fail(f"make run exited with status {make.process.returncode} before it was ready", logs)
        if time.monotonic() > deadline:
            fail(f"make run: no API token line within {READY_TIMEOUT:.0f} s", logs)
        time.sleep(0.2)


def _tail_of(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-15:])


def _stop_server(pgdata: Path) -> None:
    """Teardown after a failure: the PostgreSQL server platform_run started for this copy (and only that one, found
    by its data directory) is asked for a fast shutdown, then killed."""
    pids = processes_with_argument(str(pgdata))
    kill_pids(pids, signal.SIGINT)
    deadline = time.monotonic() + 15
    while any(is_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    kill_pids(pids, signal.SIGKILL)
