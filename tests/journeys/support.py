"""A newcomer's journey, written once and walked against both ways of running the platform.

The journey is what a lab does on its first day: create a text project (a choices and a spans field) and an image
project (a boxes field) through the API, push a JSONL and a CSV file of thousands of rows with the `annotate`
client, label some tasks through the API (next, then submit), and pull every export that fits the schemas with the
client, checking each file's rows against what was labelled. `test_embedded.py` walks it against `make run` in a
clean copy of the tree; `test_production.py` against gunicorn and a Celery worker on the machine's PostgreSQL and
Redis, set up as docs/deployment.md says.

Every wait is bounded and every failure carries the end of the logs that explain it; processes are started in
their own process group so that they, and only they, can be stopped.
"""

import contextlib
import csv
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TIMINGS_DIR = REPO_ROOT / "test-artifacts" / "timings"

# Bounds. Generous for a 2-core machine shared with other work; a healthy run takes a fraction of each.
HTTP_TIMEOUT = 30.0
CLI_TIMEOUT = 180.0  # one push or pull, including the job on the worker
STOP_BOUND = 60.0  # SIGTERM to gone; platform_run itself waits up to 30 s for its children
POLL = 0.2

# The datasets: thousands of rows in two formats, and a small image project.
JSONL_ROWS = 3000
CSV_ROWS = 2000
CSV_PRIORITY_ROWS = 10  # CSV rows with priority 5: the claim serves them before the 4,990 rows of priority 0
IMAGE_ROWS = 200
TEXT_TO_LABEL = 25
IMAGES_TO_LABEL = 10
CLI_POLL = "0.5"  # the client's default (2 s) would dominate the measured time of each small job

TEXT_SCHEMA = {
    "fields": [
        {"name": "sentiment", "type": "choices", "options": ["positive", "negative", "neutral"]},
        {"name": "entities", "type": "spans", "source": "text", "labels": ["PER", "ORG", "LOC"]},
    ]
}
IMAGE_SCHEMA = {"fields": [{"name": "vehicles", "type": "boxes", "source": "image", "labels": ["car", "bus"]}]}
# Entity phrases in the generated texts and their labels; non-ASCII names make span offsets count code points.
ENTITIES = {"Zoë Ångström": "PER", "Acme Corp": "ORG", "Paris": "LOC", "Bob Jones": "PER", "Berlin": "LOC"}
SENTIMENTS = ("positive", "negative", "neutral")

# Environment variables a shell hands to what it runs; nothing of the suite's own configuration (DATABASE_URL,
# DJANGO_SETTINGS_MODULE, REDIS_URL…) may leak into the platform under test.
_PASSED_THROUGH = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "TZ")
_PASSED_THROUGH_PREFIXES = ("UV_", "PYENV", "SSL_CERT_", "PIP_", "XDG_")

T = TypeVar("T")


def shell_environment(**extra: str) -> dict[str, str]:
    """What a newcomer's shell would pass on: the user's PATH (so `python3` is theirs), home, locale, the package
    tools' own settings, and `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key in _PASSED_THROUGH or key.startswith(_PASSED_THROUGH_PREFIXES)
    }
    env.setdefault("LANG", "C.UTF-8")
    # A newcomer has not activated this tree's .venv: its python3 (without uv) must not stand in for theirs.
    venv = str(REPO_ROOT / ".venv")
    path = [entry for entry in env.get("PATH", os.defpath).split(os.pathsep) if not entry.startswith(venv)]
    env["PATH"] = os.pathsep.join(path)
    env.update(extra)
    return env


# --- failures with their evidence ---


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(missing)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


def tails(paths: Sequence[Path], lines: int = 40) -> str:
    return "".join(f"\n--- last {lines} lines of {path} ---\n{tail(path, lines)}" for path in paths)


def fail(message: str, logs: Sequence[Path] = ()) -> NoReturn:
    pytest.fail(message + tails(logs), pytrace=False)


# An error in a service's log: the platform's JSON lines, Celery's own format, or an uncaught exception.
_LOGGED_ERROR = re.compile(r'"level": "(ERROR|CRITICAL)"|: (ERROR|CRITICAL)/|^Traceback ', re.M)


def assert_no_errors_logged(logs: Sequence[Path]) -> None:
    """A journey that succeeded for the client but logged an error on the way hides a bug: name each one."""
    found = []
    for path in logs:
        text = path.read_text(errors="replace") if path.exists() else ""
        lines = text.splitlines()
        for match in _LOGGED_ERROR.finditer(text):
            number = text.count("\n", 0, match.start())
            found.append(f"{path.name}:{number + 1}: " + "\n    ".join(lines[number : number + 6]))
    assert not found, "errors logged during the journey:\n" + "\n".join(found)


def wait_for(check: Callable[[], T | None], *, timeout: float, what: str, logs: Sequence[Path] = ()) -> T:
    """Call `check` until it returns something other than None; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            fail(f"{what}: not within {timeout:.0f} s", logs)
        time.sleep(POLL)


# --- timings ---


@dataclass
class Timings:
    """Seconds per step, written to test-artifacts/timings/journey-<name>.json and printed."""

    name: str
    steps: dict[str, float] = field(default_factory=dict)
    milestones: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self.steps[name] = round(time.monotonic() - start, 3)

    def write(self, *, complete: bool, logs: Sequence[Path] = ()) -> Path:
        """Write and print the timings; when the journey did not complete, also the end of each log (pytest shows
        captured output with the failure, so a failed check comes with the services' side of the story)."""
        if not complete:
            sys.stderr.write(tails(logs) + "\n")
        path = TIMINGS_DIR / f"journey-{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "journey": self.name,
            "complete": complete,
            "seconds": self.steps,
            "total_seconds": round(time.monotonic() - self.started, 3),
            "milestones_seconds_from_start": self.milestones,
            "counts": self.counts,
        }
        path.write_text(json.dumps(document, indent=2) + "\n")
        width = max((len(name) for name in self.steps), default=10)
        lines = [f"\njourney {self.name} ({'complete' if complete else 'INCOMPLETE'}), seconds:"]
        lines += [f"  {name:<{width}}  {seconds:8.2f}" for name, seconds in self.steps.items()]
        lines += [f"  {'total':<{width}}  {document['total_seconds']:8.2f}", f"  written to {path}\n"]
        sys.stdout.write("\n".join(lines))
        sys.stdout.flush()
        return path


# --- processes ---


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _proc_stat(pid: int) -> list[str] | None:
    try:
        # The command name is parenthesised and may contain spaces; the fields after it are fixed.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def is_running(pid: int) -> bool:
    fields = _proc_stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")  # a zombie has exited already


def process_tree(root: int) -> set[int]:
    """`root` and every live descendant of it, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _proc_stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    found = {root}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in found]
        found.update(children)
        frontier.extend(children)
    return {pid for pid in found if is_running(pid)}


def processes_with_argument(argument: str) -> list[int]:
    """Live processes one of whose command-line arguments is exactly `argument` (a data directory, say)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argument.encode() in argv and is_running(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def kill_pids(pids: set[int] | list[int], signum: int = signal.SIGKILL) -> None:
    """Signal processes this test started (directly or through the platform it ran), each by its pid."""
    for pid in pids:
        if is_running(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)


@dataclass
class Service:
    """A process started in its own process group, its output in a log file (a pipe could fill up and block it)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, name: str, argv: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> "Service":
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as output:
            process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name, process, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Teardown: whatever is left of its process group goes, by the group's id (its own pid)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def stop_services(services: Sequence[Service], bound: float = STOP_BOUND) -> None:
    """SIGTERM to each process alone, as an operator's `kill` or a service manager sends it; fails when one of them
    is still running `bound` seconds later."""
    for service in services:
        service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + bound
    for service in services:
        while service.alive():
            if time.monotonic() > deadline:
                fail(f"{service.name} (pid {service.pid}) still runs {bound:.0f} s after SIGTERM", [service.log])
            time.sleep(0.1)


def wait_healthy(base_url: str, *, timeout: float, services: Sequence[Service], logs: Sequence[Path]) -> None:
    parts = urlsplit(base_url)

    def check() -> bool | None:
        for service in services:
            if not service.alive():
                fail(f"{service.name} exited with status {service.process.returncode} before /healthz answered", logs)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=2)
        try:
            connection.request("GET", "/healthz")
            return True if connection.getresponse().status == 200 else None
        except OSError:
            return None
        finally:
            connection.close()

    wait_for(check, timeout=timeout, what=f"{base_url}healthz answering 200", logs=logs)


def run_command(
    argv: list[str], *, cwd: Path, env: dict[str, str], log: Path, timeout: float, stdin: str | None = None
) -> str:
    """Run a one-shot command (migrate, organization_create…), its stdout returned and its output kept in `log`;
    fails with that output when it exits non-zero or overruns."""
    try:
        result = subprocess.run(
            argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        log.write_text(f"$ {' '.join(argv)}\n(timed out after {timeout:.0f} s)\n{exc.stdout or ''}{exc.stderr or ''}")
        fail(f"{' '.join(argv[:4])}… did not finish within {timeout:.0f} s", [log])
    log.write_text(f"$ {' '.join(argv)}\n--- stdout ---\n{result.stdout}--- stderr ---\n{result.stderr}")
    if result.returncode != 0:
        fail(f"{' '.join(argv[:4])}… exited with status {result.returncode}", [log])
    return result.stdout


# --- the API and the client ---


class Api:
    """The platform's JSON API with one bearer token; an unexpected status fails with the body and the logs."""

    def __init__(self, base_url: str, token: str, logs: Sequence[Path]) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.token = token
        self.logs = logs

    def call(self, method: str, path: str, body: Any = None, *, expect: Sequence[int] = (200, 201)) -> Any:
        return self.exchange(method, path, body, expect=expect)[1]

    def exchange(
        self, method: str, path: str, body: Any = None, *, expect: Sequence[int] = (200, 201)
    ) -> tuple[int, Any, http.client.HTTPMessage]:
        headers = {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT)
        try:
            connection.request(method, f"/api/v1/{path}", body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        except OSError as exc:
            fail(f"{method} /api/v1/{path}: {exc}", self.logs)
        finally:
            connection.close()
        if response.status not in expect:
            fail(f"{method} /api/v1/{path} answered {response.status}: {raw[:2000]!r}", self.logs)
        return response.status, (json.loads(raw) if raw else None), response.headers


@dataclass
class Cli:
    """The `annotate` client as a lab runs it: its own process, the server and token from the environment."""

    executable: Path
    base_url: str
    token: str
    workdir: Path
    logs: Sequence[Path]

    def run(self, label: str, *args: str) -> str:
        """Run `annotate <args>`; its combined output (kept in <workdir>/cli-<label>.log) when it exits 0."""
        log = self.workdir / f"cli-{label}.log"
        env = shell_environment(ANNOTATE_URL=self.base_url.rstrip("/"), ANNOTATE_TOKEN=self.token)
        argv = [str(self.executable), *args, "--poll", CLI_POLL, "--state-file", str(self.workdir / "cli-state.json")]
        with log.open("wb") as output:
            try:
                code = subprocess.run(
                    argv, cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=output,
                    stderr=subprocess.STDOUT, timeout=CLI_TIMEOUT, check=False,
                ).returncode  # fmt: skip
            except subprocess.TimeoutExpired:
                fail(f"annotate {' '.join(args)} did not finish within {CLI_TIMEOUT:.0f} s", [log, *self.logs])
        if code != 0:
            fail(f"annotate {' '.join(args)} exited with status {code}", [log, *self.logs])
        return log.read_text(errors="replace")


# --- datasets ---


def _spans(text: str) -> list[dict[str, Any]]:
    spans = []
    for phrase, label in ENTITIES.items():
        start = text.find(phrase)
        if start >= 0:
            spans.append({"start": start, "end": start + len(phrase), "label": label})
    return sorted(spans, key=lambda span: span["start"])


def text_result(task: dict[str, Any], index: int) -> dict[str, Any]:
    """What the annotator answers for the index-th text task: a sentiment, and every known entity as a span."""
    return {"sentiment": SENTIMENTS[index % len(SENTIMENTS)], "entities": _spans(task["data"]["text"])}


def image_result(task: dict[str, Any], index: int) -> dict[str, Any]:
    """One box on even tasks, two on odd ones (fractional pixels included), inside the 640 by 480 image."""
    boxes: list[dict[str, Any]] = [{"x": 10, "y": 20, "width": 100, "height": 50, "label": "car"}]
    if index % 2:
        boxes.append({"x": 200.5, "y": 100, "width": 80, "height": 60.25, "label": "bus"})
    return {"vehicles": boxes}


def task_data(external_id: str) -> dict[str, Any]:
    """The data of a generated row, from its external_id: what every import must deliver to the annotator intact
    (non-ASCII text, a CSV cell with commas and quotes, a second `data.` column, an image object)."""
    kind, number = external_id.rsplit("-", 1)
    if kind == "note":
        return {"text": f"Zoë Ångström works at Acme Corp in Paris, note {number}."}
    if kind == "visit":
        return {"text": f'Bob Jones visited Berlin, said "hello", and left; visit {number}.', "source": "crm"}
    assert kind == "street", external_id
    return {"image": {"url": f"https://images.example.org/street/{number}.jpg", "width": 640, "height": 480}}


def write_text_datasets(folder: Path) -> tuple[Path, Path]:
    """A JSONL file (JSONL_ROWS rows) and a CSV file (CSV_ROWS rows, RFC 4180 quoting, a priority column)."""
    jsonl = folder / "notes.jsonl"
    with jsonl.open("w", encoding="utf-8") as handle:
        for i in range(JSONL_ROWS):
            handle.write(json.dumps({"external_id": f"note-{i}", "data": task_data(f"note-{i}")}) + "\n")
    table = folder / "visits.csv"
    with table.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["external_id", "data.text", "data.source", "priority"])
        for i in range(CSV_ROWS):
            data = task_data(f"visit-{i}")
            writer.writerow([f"visit-{i}", data["text"], data["source"], 5 if i < CSV_PRIORITY_ROWS else 0])
    return jsonl, table


def write_image_dataset(folder: Path) -> Path:
    path = folder / "street.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(IMAGE_ROWS):
            handle.write(json.dumps({"external_id": f"street-{i}", "data": task_data(f"street-{i}")}) + "\n")
    return path


# --- journey steps ---

_PUSHED = re.compile(
    r"^Import (?P<id>\S+) succeeded: created (?P<created>\d+), updated (?P<updated>\d+), "
    r"unchanged (?P<unchanged>\d+), error (?P<errors>\d+)$",
    re.MULTILINE,
)
_PULLED = re.compile(r"^Wrote .+ \((?P<rows>\d+) rows, (?P<size>\d+) bytes, sha256 (?P<sha>[0-9a-f]{64})\)\.$", re.M)


@dataclass
class Labelled:
    """What was submitted, by external_id, in submission order."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)


def project_create(api: Api, name: str, schema: dict[str, Any]) -> str:
    project = api.call("POST", "projects/", {"name": name, "label_schema": schema}, expect=(201,))
    assert [f["name"] for f in project["label_schema"]["fields"]] == [f["name"] for f in schema["fields"]], project
    assert project["overlap"] == 1, project
    return str(project["id"])


def push(cli: Cli, api: Api, project: str, source: Path, rows: int) -> None:
    """`annotate push`, then the import job as the API reports it: every row created, none refused."""
    output = cli.run(f"push-{source.name}", "push", str(source), "--project", project)
    match = _PUSHED.search(output)
    if match is None:
        fail(f"annotate push {source.name}: no success line in its output:\n{output}", api.logs)
    assert (match["created"], match["updated"], match["unchanged"], match["errors"]) == (str(rows), "0", "0", "0")
    job = api.call("GET", f"imports/{match['id']}")
    assert (job["state"], job["rows_read"], job["created_count"], job["error_count"]) == ("succeeded", rows, rows, 0)


def label(api: Api, project: str, count: int, answer: Callable[[dict[str, Any], int], dict[str, Any]]) -> Labelled:
    """Claim and submit `count` tasks as the token's member (POST next, then submit with the lease token)."""
    done = Labelled()
    for index in range(count):
        lease = api.call("POST", f"projects/{project}/next", expect=(201,))
        task = lease["task"]
        assert task["external_id"] not in done.results, f"task {task['external_id']} served twice"
        assert task["data"] == task_data(task["external_id"]), task
        result = answer(task, index)
        body = {"lease_token": lease["lease_token"], "result": result, "time_spent_ms": 1500 + index}
        annotation = api.call("POST", f"assignments/{lease['id']}/submit", body, expect=(201,))
        assert annotation["result"] == result, annotation
        done.results[task["external_id"]] = result
    return done


def pull(cli: Cli, project: str, export_format: str, output: Path) -> int:
    """`annotate pull`; the export's row count as the client reports it (the file's SHA-256 is checked by it)."""
    text = cli.run(f"pull-{output.name}", "pull", "--project", project, "--format", export_format, "-o", str(output))
    match = _PULLED.search(text)
    if match is None:
        fail(f"annotate pull --format {export_format}: no 'Wrote' line in its output:\n{text}", cli.logs)
    assert output.stat().st_size == int(match["size"]), text
    return int(match["rows"])


def check_jsonl(path: Path, labelled: Labelled) -> int:
    """One line per task that has an annotation that counts (docs/datasets.md), with that annotation's result."""
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(labelled.results)
    assert {line["external_id"]: [a["result"] for a in line["annotations"]] for line in lines} == {
        external_id: [result] for external_id, result in labelled.results.items()
    }
    assert all(line["data"] == task_data(line["external_id"]) for line in lines)
    assert {line["annotations"][0]["provenance"]["schema_version"] for line in lines} == {1}
    return len(lines)


def check_csv(path: Path, labelled: Labelled) -> int:
    """One row per annotation, one column per label field (lists as JSON with sorted keys)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(labelled.results)
    assert list(rows[0])[-2:] == ["sentiment", "entities"], list(rows[0])
    for row in rows:
        expected = labelled.results[row["external_id"]]
        assert json.loads(row["data"]) == task_data(row["external_id"]), row
        assert row["sentiment"] == expected["sentiment"], row
        assert json.loads(row["entities"]) == expected["entities"], row
    return len(rows)


def conll_document(text: str, spans: list[dict[str, Any]]) -> list[str]:
    """The CoNLL-2003 document docs/datasets.md specifies for one text and its spans: whitespace tokens, each tagged
    by the first span (by start, then the longer) overlapping it, B- on the first token of a span, I- after."""
    lines = ["-DOCSTART- -X- -X- O", ""]
    ordered = sorted(spans, key=lambda s: (s["start"], -(s["end"] - s["start"])))
    previous: dict[str, Any] | None = None
    for token in re.finditer(r"\S+", text):
        span = next((s for s in ordered if s["start"] < token.end() and s["end"] > token.start()), None)
        tag = "O" if span is None else f"{'I' if span is previous else 'B'}-{span['label']}"
        lines.append(f"{token.group()} -X- -X- {tag}")
        previous = span
    return [*lines, ""]


def check_conll(path: Path, labelled: Labelled) -> int:
    """One document per (task, annotation, spans field), each exactly as the documented tokenisation and BIO rules
    give it."""
    text = path.read_text(encoding="utf-8")
    documents = ["-DOCSTART-" + part for part in text.split("-DOCSTART-")[1:]]
    expected = [
        "\n".join(conll_document(task_data(external_id)["text"], result["entities"])) + "\n"
        for external_id, result in labelled.results.items()
    ]
    assert len(documents) == len(labelled.results)
    assert sorted(documents) == sorted(expected)
    return len(documents)


def _label_studio_regions(data: dict[str, Any], result: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The regions docs/datasets.md promises for a result: a `labels` region per span (with its text), a
    `rectanglelabels` region per box in percent of the image."""
    if "entities" in result:
        text = data["text"]
        return [("labels", s["start"], s["end"], text[s["start"] : s["end"]], [s["label"]]) for s in result["entities"]]
    image = data["image"]
    return [
        ("rectanglelabels", pytest.approx(100 * b["x"] / image["width"]), pytest.approx(100 * b["y"] / image["height"]),
         pytest.approx(100 * b["width"] / image["width"]), pytest.approx(100 * b["height"] / image["height"]),
         [b["label"]])
        for b in result["vehicles"]
    ]  # fmt: skip


def check_label_studio(path: Path, labelled: Labelled) -> int:
    """A JSON array of the labelled tasks, each with its annotation's regions in Label Studio's own result types,
    and an image given as its URL string."""
    tasks = json.loads(path.read_text(encoding="utf-8"))
    assert sorted(task["meta"]["external_id"] for task in tasks) == sorted(labelled.results)
    for task in tasks:
        external_id = task["meta"]["external_id"]
        data = task_data(external_id)
        (annotation,) = task["annotations"]
        found = []
        for item in annotation["result"]:
            value = item["value"]
            if item["type"] == "labels":
                found.append(("labels", value["start"], value["end"], value["text"], value["labels"]))
            elif item["type"] == "rectanglelabels":
                box = (value["x"], value["y"], value["width"], value["height"], value["rectanglelabels"])
                found.append(("rectanglelabels", *box))
                assert (item["original_width"], item["original_height"]) == (640, 480), item
        assert found == _label_studio_regions(data, labelled.results[external_id]), task
        if "image" in data:
            assert task["data"] == {"image": data["image"]["url"]}, task
    return len(tasks)


def check_coco(path: Path, labelled: Labelled) -> int:
    """An image per labelled task, a box per submitted box (bbox in pixels), a category per (field, label)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["categories"] == [
        {"id": 1, "name": "car", "supercategory": "vehicles"},
        {"id": 2, "name": "bus", "supercategory": "vehicles"},
    ]
    images = {image["id"]: image for image in document["images"]}
    assert sorted(image["external_id"] for image in images.values()) == sorted(labelled.results)
    names = {c["id"]: c["name"] for c in document["categories"]}
    found: dict[str, list[tuple[list[float], str]]] = {}
    for box in document["annotations"]:
        external_id = images[box["image_id"]]["external_id"]
        found.setdefault(external_id, []).append((box["bbox"], names[box["category_id"]]))
    assert found == {
        external_id: [([b["x"], b["y"], b["width"], b["height"]], b["label"]) for b in result["vehicles"]]
        for external_id, result in labelled.results.items()
    }
    return len(document["annotations"])


def walk_journey(api: Api, cli: Cli, timings: Timings) -> None:
    """The whole journey against a running platform: two projects, three pushes, labelling, six pulls."""
    folder = cli.workdir
    jsonl, table = write_text_datasets(folder)
    street = write_image_dataset(folder)

    with timings.step("create_projects"):
        text_project = project_create(api, "Clinical notes NER", TEXT_SCHEMA)
        image_project = project_create(api, "Street scenes", IMAGE_SCHEMA)

    with timings.step(f"push_jsonl_{JSONL_ROWS}"):
        push(cli, api, text_project, jsonl, JSONL_ROWS)
    with timings.step(f"push_csv_{CSV_ROWS}"):
        push(cli, api, text_project, table, CSV_ROWS)
    with timings.step(f"push_image_jsonl_{IMAGE_ROWS}"):
        push(cli, api, image_project, street, IMAGE_ROWS)
    timings.counts["tasks_pushed"] = JSONL_ROWS + CSV_ROWS + IMAGE_ROWS

    with timings.step(f"label_text_{TEXT_TO_LABEL}"):
        text = label(api, text_project, TEXT_TO_LABEL, text_result)
    with timings.step(f"label_image_{IMAGES_TO_LABEL}"):
        images = label(api, image_project, IMAGES_TO_LABEL, image_result)
    timings.counts["tasks_labelled"] = len(text.results) + len(images.results)
    # Priority first (docs/routing.md): the CSV's priority rows are served before any row of priority 0, except
    # at most a dispatcher's queue's worth (3) reserved for the member before those rows arrived.
    served_first = list(text.results)[: CSV_PRIORITY_ROWS + 3]
    priority_ids = {f"visit-{i}" for i in range(CSV_PRIORITY_ROWS)}
    assert priority_ids <= set(served_first), served_first

    pulls: list[tuple[str, str, str, Callable[[Path], int]]] = [
        (text_project, "jsonl", "notes.export.jsonl", lambda p: check_jsonl(p, text)),
        (text_project, "csv", "notes.export.csv", lambda p: check_csv(p, text)),
        (text_project, "conll", "notes.export.conll", lambda p: check_conll(p, text)),
        (text_project, "label_studio", "notes.label-studio.json", lambda p: check_label_studio(p, text)),
        (image_project, "coco", "street.coco.json", lambda p: check_coco(p, images)),
        (image_project, "label_studio", "street.label-studio.json", lambda p: check_label_studio(p, images)),
    ]
    for project, export_format, name, check in pulls:
        output = folder / name
        with timings.step(f"pull_{'text' if project == text_project else 'image'}_{export_format}"):
            rows = pull(cli, project, export_format, output)
        counted = check(output)
        assert rows == counted, f"{export_format}: the export job reports {rows} rows, the file holds {counted}"
        timings.counts[f"rows_{name}"] = rows


def copy_tree(source: Path, destination: Path) -> int:
    """The files git knows of (tracked and new, not ignored), as a fresh clone with the work in progress would
    have them: no .venv, no var/, no caches. The number of files copied."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source, capture_output=True, check=True,
    ).stdout.split(b"\0")  # fmt: skip
    copied = 0
    for raw in filter(None, listed):
        relative = Path(os.fsdecode(raw))
        origin = source / relative
        if not origin.exists() and not origin.is_symlink():
            continue  # deleted in the working tree, not yet in git: a clone of the work would not have it
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(origin, target, follow_symlinks=False)
        copied += 1
    return copied
