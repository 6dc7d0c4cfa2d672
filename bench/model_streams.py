"""Benchmark: live model streams through the platform (its ASGI app under uvicorn) beside an ordinary API read.

A generation lasts seconds; it must hold no worker while the model writes, or every other request waits behind it.
This starts the loopback model server (tests/llm/model_server.py, `python -m tests.llm.model_server`) at a fixed
pace, and the platform's ASGI app under one uvicorn process with the production settings, as the app role, against
a fresh database. One annotator per stream holds a lease on a task of a project with a chat field over one
connection to that server. Then, with a GET /api/v1/projects/ every 100 ms all along:

1. idle: only the reads;
2. direct: N streams at once straight to the model server (its own time to first token, no platform);
3. through the platform: N chat turns at once, each streaming its reply (`event: delta`) back.

Prints the read's latency idle and during the streams (p50/p95), the time to first token direct and through the
platform (p50/p95), and what the platform adds to it.

    python -m bench.model_streams --streams 50 --token-delay-ms 50 --first-token-ms 200
"""

import argparse
import asyncio
import base64
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.bulk_tasks import become_app_role, prepare_database, setup_django
from bench.routing import app_database_url, healthz

ROOT = Path(__file__).resolve().parents[1]
MODEL_KEY = "sk-bench-" + secrets.token_hex(8)
# The platform's SECRET_KEY, also set in this process: the connection's key is sealed here under it and opened there.
PLATFORM_SECRET_KEY = secrets.token_urlsafe(64)
CONNECTION = "bench-model"
# Forty words: the default reply echoes them, so each stream is about 45 tokens long.
PROMPT = " ".join(f"word{i}" for i in range(40))
POLL_INTERVAL_S = 0.1
REQUEST_TIMEOUT_S = 60.0
# The platform serves behind a TLS-terminating proxy; the bench plays it (as bench.routing does).
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "Host": "127.0.0.1"}


@dataclass
class Scenario:
    project_uuid: str
    owner_token: str
    tokens: list[str]


@dataclass
class StreamResult:
    status: int = 0
    ttft: float | None = None
    elapsed: float = 0.0
    deltas: int = 0
    done: bool = False
    errors: list[str] = field(default_factory=list)


def chat_schema() -> dict[str, Any]:
    return {
        "fields": [
            {
                "name": "chat",
                "type": "chat",
                "connections": [CONNECTION],
                "turn_fields": [{"name": "helpfulness", "type": "rating", "min": 1, "max": 5}],
            }
        ]
    }


def make_scenario(*, annotators: int, base_url: str) -> Scenario:
    """One organization: an owner, `annotators` annotators with a token each, the connection, the chat project
    with one task per annotator, and a budget that lets every stream run at once."""
    from core.context import organization_context
    from llm.services.connections import model_budget_set, model_connection_create
    from projects.services.projects import project_create
    from projects.services.tasks import task_bulk_create
    from tenancy.models import Organization, Role, User
    from tenancy.services.members import membership_add
    from tenancy.services.tokens import api_token_create

    slug = f"streams-{uuid.uuid4().hex[:8]}"
    organization = Organization.objects.create(name="Model streams bench", slug=slug)
    with organization_context(organization.pk):
        owner = membership_add(
            organization=organization,
            user=User.objects.create_user(f"owner@{slug}.bench", None),
            role=Role.OWNER,
            via="bench",
        )
        model_connection_create(
            actor=owner, name=CONNECTION, base_url=base_url, model="model-a", api_key=MODEL_KEY, timeout_seconds=60
        )
        project = project_create(actor=owner, name="streams bench", label_schema=chat_schema())
        model_budget_set(actor=owner, project=project, token_limit=None, max_concurrent=max(8, annotators * 2))
        task_bulk_create(
            actor=owner,
            project=project,
            items=[{"external_id": f"c{i}", "data": {"text": "Talk to the model."}} for i in range(annotators)],
        )
        tokens = []
        for i in range(annotators):
            member = membership_add(
                organization=organization,
                user=User.objects.create_user(f"annotator{i}@{slug}.bench", None),
                role=Role.ANNOTATOR,
                via="bench",
            )
            tokens.append(api_token_create(actor=member, name="bench").raw)
        owner_token = api_token_create(actor=owner, name="bench reads").raw
    return Scenario(str(project.uuid), owner_token, tokens)


# --- processes ----------------------------------------------------------------------------------------------------


def start_model_server(*, tokens_per_second: float, first_token_s: float) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        "-m",
        "tests.llm.model_server",
        "--port",
        "0",
        "--api-key",
        MODEL_KEY,
        "--tokens-per-second",
        str(tokens_per_second),
        "--first-token-delay",
        str(first_token_s),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("model server listening on "):
        process.terminate()
        raise SystemExit(f"the model server did not start: {line!r}")
    return process, line.removeprefix("model server listening on ")


def start_platform(*, database: str, redis_url: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """uvicorn serving config.asgi, one process (one event loop), on a loopback socket opened here."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": PLATFORM_SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_PROXY_SSL_HEADER": "true",
        "DATABASE_URL": app_database_url(database),
        "AUDIT_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
        "EMAIL_URL": "smtp://127.0.0.1:25",  # required by production; the benchmark sends no mail
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": "memory://",
        # The model server listens on loopback, which the outbound rules refuse unless the operator allows it.
        "OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--fd",
        str(listener.fileno()),
        "--lifespan",
        "off",  # Django answers no lifespan events
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, pass_fds=[listener.fileno()]
        )
    listener.close()
    deadline = time.monotonic() + 60
    while not healthz(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            raise SystemExit(f"uvicorn did not answer:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return process, port


def stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the load (asyncio, no Django) -----------------------------------------------------------------------------


class Poller:
    """GET /api/v1/projects/ every 100 ms (a new request only once the last one answered), latencies by phase."""

    def __init__(self, client: httpx.AsyncClient, base: str, token: str) -> None:
        self.client = client
        self.url = f"{base}/api/v1/projects/"
        self.headers = {"Authorization": f"Bearer {token}", **PROXY_HEADERS}
        self.phase = "warm-up"
        self.samples: dict[str, list[float]] = {}
        self.failures: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            phase = self.phase
            started = time.perf_counter()
            try:
                response = await self.client.get(self.url, headers=self.headers)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = time.perf_counter() - started
            if ok:
                self.samples.setdefault(phase, []).append(elapsed)
            else:
                self.failures[phase] += 1
            await asyncio.sleep(max(0.0, POLL_INTERVAL_S - elapsed))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def sse_events(response: httpx.Response) -> Any:
    """(event name, data) pairs of a `text/event-stream`; OpenAI's unnamed `data:` lines come as ("", data)."""
    event, data = "", ""
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield event, data
            event, data = "", ""
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]


async def direct_stream(client: httpx.AsyncClient, base_url: str, index: int) -> StreamResult:
    result = StreamResult()
    body = {"model": "model-a", "messages": [{"role": "user", "content": f"{index} {PROMPT}"}], "stream": True}
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {MODEL_KEY}"}
    async with client.stream("POST", f"{base_url}/chat/completions", json=body, headers=headers) as response:
        result.status = response.status_code
        async for _, data in sse_events(response):
            if data == "[DONE]":
                result.done = True
            elif '"content":"' in data and '"content":""' not in data:
                result.deltas += 1
                if result.ttft is None:
                    result.ttft = time.perf_counter() - started
    result.elapsed = time.perf_counter() - started
    return result


async def claim(client: httpx.AsyncClient, base: str, project: str, token: str) -> dict[str, Any]:
    response = await client.post(
        f"{base}/api/v1/projects/{project}/next", headers={"Authorization": f"Bearer {token}", **PROXY_HEADERS}
    )
    if response.status_code != 201:
        raise SystemExit(f"claiming a task failed: {response.status_code} {response.text[:300]}")
    lease: dict[str, Any] = response.json()
    return lease


async def platform_stream(client: httpx.AsyncClient, base: str, token: str, lease: dict[str, Any]) -> StreamResult:
    result = StreamResult()
    url = f"{base}/api/v1/assignments/{lease['id']}/chat/chat/turns"
    body = {"lease_token": lease["lease_token"], "prompt": PROMPT, "parent": None}
    headers = {"Authorization": f"Bearer {token}", **PROXY_HEADERS}
    started = time.perf_counter()
    async with client.stream("POST", url, json=body, headers=headers) as response:
        result.status = response.status_code
        if response.status_code != 200:
            result.errors.append(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
        else:
            async for event, data in sse_events(response):
                if event == "delta":
                    result.deltas += 1
                    if result.ttft is None:
                        result.ttft = time.perf_counter() - started
                elif event == "done":
                    result.done = True
                elif event == "error":
                    result.errors.append(data[:200])
    result.elapsed = time.perf_counter() - started
    return result


@dataclass
class Measured:
    api: dict[str, list[float]]
    api_failures: Counter[str]
    direct: list[StreamResult]
    platform: list[StreamResult]
    direct_seconds: float
    platform_seconds: float


async def measure(*, port: int, model_base_url: str, scenario: Scenario, idle_seconds: float) -> Measured:
    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    async with (
        httpx.AsyncClient(limits=limits, timeout=timeout) as client,
        httpx.AsyncClient(limits=limits, timeout=timeout) as reads,
    ):
        # A client of its own for the reads: the streams' pool must not make a read wait for a connection.
        leases = await asyncio.gather(*(claim(client, base, scenario.project_uuid, t) for t in scenario.tokens))
        poller = Poller(reads, base, scenario.owner_token)
        poller.start()
        # Warm-up: the first turn of a fresh process loads what the chat path imports lazily; it is not measured.
        warm_up = await platform_stream(client, base, scenario.tokens[-1], leases[-1])
        if not warm_up.done:
            raise SystemExit(f"the warm-up turn failed: {warm_up.errors}")
        tokens, leases = scenario.tokens[:-1], leases[:-1]
        await asyncio.sleep(1.0)
        poller.phase = "idle"
        await asyncio.sleep(idle_seconds)

        poller.phase = "direct"
        started = time.perf_counter()
        direct = await asyncio.gather(*(direct_stream(client, model_base_url, i) for i in range(len(leases))))
        direct_seconds = time.perf_counter() - started

        poller.phase = "pause"
        await asyncio.sleep(0.5)
        poller.phase = "streams"
        started = time.perf_counter()
        platform = await asyncio.gather(
            *(platform_stream(client, base, token, lease) for token, lease in zip(tokens, leases, strict=True))
        )
        platform_seconds = time.perf_counter() - started
        await poller.stop()
    return Measured(poller.samples, poller.failures, direct, platform, direct_seconds, platform_seconds)


# --- the table ----------------------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:>8.1f}"


def report(measured: Measured, *, streams: int, token_delay_ms: float, first_token_ms: float) -> int:
    idle = measured.api.get("idle", [])
    during = measured.api.get("streams", [])
    direct_ttft = [r.ttft for r in measured.direct if r.ttft is not None]
    platform_ttft = [r.ttft for r in measured.platform if r.ttft is not None]
    print(
        f"\nmodel streams: {streams} at once, model server {token_delay_ms:g} ms/token, "
        f"first token {first_token_ms:g} ms, platform on uvicorn (1 process)"
    )
    print(f"{'measure':<44} | {'p50 ms':>8} | {'p95 ms':>8} | {'samples':>7}")
    print("-" * 76)
    rows = [
        ("API GET /api/v1/projects/ idle", idle),
        (f"API GET /api/v1/projects/ during {streams} streams", during),
        ("TTFT direct to the model server", direct_ttft),
        ("TTFT through the platform", platform_ttft),
    ]
    for name, values in rows:
        print(f"{name:<44} | {ms(percentile(values, 0.5))} | {ms(percentile(values, 0.95))} | {len(values):>7}")
    overhead50 = percentile(platform_ttft, 0.5) - percentile(direct_ttft, 0.5)
    overhead95 = percentile(platform_ttft, 0.95) - percentile(direct_ttft, 0.95)
    print(f"{'platform TTFT overhead':<44} | {ms(overhead50)} | {ms(overhead95)} | {'':>7}")
    print("-" * 76)
    completed = sum(1 for r in measured.platform if r.done and not r.errors)
    errors = [e for r in measured.platform for e in r.errors]
    api_failures = sum(measured.api_failures.values())
    print(
        f"streams completed {completed}/{streams} through the platform in {measured.platform_seconds:.2f} s "
        f"(direct {measured.direct_seconds:.2f} s); stream errors {len(errors)}; API read failures {api_failures}"
    )
    for error in errors[:5]:
        print(f"  error: {error}")
    return 0 if completed == streams and not errors else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--token-delay-ms", type=float, default=50.0, help="the model server's pace, per token")
    parser.add_argument("--first-token-ms", type=float, default=200.0, help="the model server's time to first token")
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument("--database", default="annotate_bench_streams")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"))
    args = parser.parse_args(argv)

    # The connection is vetted when it is created here, as the platform will vet it before each call.
    os.environ["OUTBOUND_ALLOWED_NETWORKS"] = "127.0.0.1/32"
    setup_django(args.database)
    from django.conf import settings

    settings.SECRET_KEY = PLATFORM_SECRET_KEY
    prepare_database(args.database)
    become_app_role()
    model_server, model_base_url = start_model_server(
        tokens_per_second=1000.0 / args.token_delay_ms, first_token_s=args.first_token_ms / 1000.0
    )
    try:
        # One annotator more than streams: the last one's turn warms the platform up.
        scenario = make_scenario(annotators=args.streams + 1, base_url=model_base_url)
        from django.db import connection

        connection.close()  # the bench's own session is not needed while it measures
        with tempfile.TemporaryDirectory(prefix="bench-streams-") as folder:
            platform, port = start_platform(
                database=args.database, redis_url=args.redis_url, log=Path(folder) / "uvicorn.log"
            )
            try:
                measured = asyncio.run(
                    measure(port=port, model_base_url=model_base_url, scenario=scenario, idle_seconds=args.idle_seconds)
                )
            finally:
                stop(platform)
                log = (Path(folder) / "uvicorn.log").read_text()
    finally:
        stop(model_server)
    status = report(
        measured, streams=args.streams, token_delay_ms=args.token_delay_ms, first_token_ms=args.first_token_ms
    )
    if status and log.strip():
        print(f"\nuvicorn log (last lines):\n{log[-2000:]}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
