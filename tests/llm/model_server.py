"""An OpenAI-compatible chat-completions server on loopback, for the suite and the benchmarks.

It speaks the protocol as vLLM and OpenAI do: `POST /v1/chat/completions` answered whole (`chat.completion` JSON) or
streamed (Server-Sent Events of `chat.completion.chunk`, a usage chunk on request, then `data: [DONE]`),
`GET /v1/models`, Bearer auth when it is given a key, and OpenAI's error bodies. It is written on the standard
library's asyncio streams, so fifty streams share one thread without waiting on one another, and it keeps
connections alive between requests as httpx expects.

Replies are deterministic: `[<model>] reply to: <last user message>` unless a test scripts another with
`ModelServer.script`, sent one word per chunk at the pace set by `ModelServer.pace`; usage counts words. Faults are
switched per test through the Python API (`ModelServer.fault` and its shorthands) or per request, so that a
benchmark can ask for them too, by a model name suffix (`model-a~disconnect:2`) or an `X-Model-Fault: disconnect:2`
header. Every request is recorded (method, path, headers, JSON body, outcome) for tests to assert on.

    python -m tests.llm.model_server --port 8100 --tokens-per-second 50 --first-token-delay 0.2 --api-key sk-x
"""

import argparse
import asyncio
import contextlib
import hmac
import itertools
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any

# The key the `model_server` fixture requires and ModelConnectionFactory seals, so that every test that reaches the
# server through the platform also proves the key arrived.
MODEL_SERVER_API_KEY = "sk-test-model-server-4f2a9c"
DEFAULT_MODELS = ("model-a", "model-b")
# Written into the body of every 5xx answer: a test asserts the platform never shows it to a person.
UPSTREAM_ERROR_DETAIL = "upstream stack: worker 7 of cluster gpu-east lost its KV cache"

# A model name suffix that switches a fault for one request: `model-a~rate_limit:3`.
FAULT_SUFFIX = "~"
FAULT_HEADER = "x-model-fault"
FAULT_KINDS = frozenset({"slow_first_token", "hang", "rate_limit", "server_error", "malformed_chunk", "disconnect"})
# What each fault's one parameter means when none is given: seconds before the first token, chunks sent before
# hanging (None: before anything), Retry-After seconds, the status code, chunks before the broken one, chunks before
# the socket closes.
FAULT_DEFAULTS: dict[str, float | None] = {
    "slow_first_token": 5.0,
    "hang": None,
    "rate_limit": 1.0,
    "server_error": 500.0,
    "malformed_chunk": 1.0,
    "disconnect": 2.0,
}
MALFORMED_EVENT = b"data: {not json\n\n"

MAX_HEADER_LINES = 100
MAX_BODY_BYTES = 8 * 1024 * 1024
MESSAGE_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
WORD = re.compile(r"\s*\S+")

Messages = list[dict[str, Any]]
Reply = str | Callable[[Messages], str]


@dataclass(frozen=True)
class Fault:
    """One misbehaviour; `value` is its one parameter (seconds, a status code or a chunk count, see FAULT_DEFAULTS)."""

    kind: str
    value: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; one of {', '.join(sorted(FAULT_KINDS))}")

    @classmethod
    def parse(cls, spec: str) -> "Fault":
        """`disconnect:2` → Fault("disconnect", 2.0); `hang` → Fault("hang", None) (the kind's default)."""
        kind, _, argument = spec.strip().partition(":")
        return cls(kind, float(argument) if argument else FAULT_DEFAULTS.get(kind))

    @property
    def chunks(self) -> int:
        return int(self.value or 0)


@dataclass
class ReceivedRequest:
    """One request as the server read it; `outcome` is filled in once it has been answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float
    outcome: str = "pending"

    @property
    def model(self) -> str | None:
        return self.body.get("model") if isinstance(self.body, dict) else None

    @property
    def messages(self) -> Messages:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def prompt_text(self) -> str:
        """Everything the caller put into the messages, as one string to search."""
        return "\n".join(_text_of(message.get("content")) for message in self.messages)


@dataclass
class _Pace:
    tokens_per_second: float | None = None
    first_token_delay: float = 0.0

    @property
    def token_delay(self) -> float:
        return 1.0 / self.tokens_per_second if self.tokens_per_second else 0.0


@dataclass
class _ArmedFault:
    fault: Fault
    model: str | None
    remaining: int | None


@dataclass
class _HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    raw_body: bytes
    keep_alive: bool


class _ClientGone(Exception):
    """The caller closed its end while the server was still answering."""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _count_words(messages: Messages) -> int:
    return sum(len(_text_of(message.get("content")).split()) for message in messages)


def default_reply(model: str, messages: Messages) -> str:
    """The reply of a model nobody scripted: names the model and echoes the last user message."""
    user_messages = [message for message in messages if message.get("role") == "user"]
    last = _text_of(user_messages[-1].get("content")) if user_messages else ""
    return f"[{model}] reply to: {last}"


def _error_body(message: str, error_type: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class ModelServer:
    """The server and its switches; start it in a background thread (`start`/`stop` or `with`) or `await serve()`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        tokens_per_second: float | None = None,
        first_token_delay: float = 0.0,
        models: tuple[str, ...] = DEFAULT_MODELS,
        reject_unknown_models: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        # Read on every request, so a test may change it (None: no auth) while the server runs.
        self.api_key = api_key
        self.models = models
        self.reject_unknown_models = reject_unknown_models
        self._lock = threading.Lock()
        self._pace = _Pace(tokens_per_second, first_token_delay)
        self._model_paces: dict[str, _Pace] = {}
        self._scripts: dict[str, Reply] = {}
        self._faults: list[_ArmedFault] = []
        self._requests: list[ReceivedRequest] = []
        self._ids = itertools.count(1)
        self.active_streams = 0
        self.peak_streams = 0
        # Exceptions the server did not expect while answering: a test may assert there were none.
        self.errors: list[BaseException] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._released: asyncio.Event | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None

    # --- addresses ---------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client (and a ModelConnection) takes as its base URL."""
        return f"{self.url}/v1"

    # --- switches ----------------------------------------------------------------------------------------------

    def script(self, model: str, reply: Reply) -> None:
        """From now on `model` answers `reply`, or `reply(messages)` when it is a function."""
        with self._lock:
            self._scripts[model] = reply

    def pace(
        self, *, tokens_per_second: float | None, first_token_delay: float = 0.0, model: str | None = None
    ) -> None:
        """Set the speed of every model, or of one; tokens_per_second None sends the words as fast as it can."""
        with self._lock:
            if model is None:
                self._pace = _Pace(tokens_per_second, first_token_delay)
            else:
                self._model_paces[model] = _Pace(tokens_per_second, first_token_delay)

    def fault(
        self, kind: str, value: float | None = None, *, times: int | None = None, model: str | None = None
    ) -> None:
        """Misbehave on the next `times` chat completions (None: every one), of one model or of all.

        Faults armed earlier are served first, so `rate_limit(times=1)` then nothing answers one 429 and then the
        reply, as a retrying client needs."""
        fault = Fault(kind, FAULT_DEFAULTS[kind] if value is None and kind in FAULT_DEFAULTS else value)
        with self._lock:
            self._faults.append(_ArmedFault(fault, model, times))

    def slow_first_token(self, seconds: float, **when: Any) -> None:
        self.fault("slow_first_token", seconds, **when)

    def hang(self, after_chunks: int | None = None, **when: Any) -> None:
        """Never answer (None), or stop sending after `after_chunks` words of a stream and keep the socket open."""
        self.fault("hang", after_chunks, **when)

    def rate_limit(self, retry_after: float = 1.0, **when: Any) -> None:
        self.fault("rate_limit", retry_after, **when)

    def server_error(self, status: int = 500, **when: Any) -> None:
        self.fault("server_error", status, **when)

    def malformed_chunk(self, after_chunks: int = 1, **when: Any) -> None:
        self.fault("malformed_chunk", after_chunks, **when)

    def disconnect(self, after_chunks: int = 2, **when: Any) -> None:
        self.fault("disconnect", after_chunks, **when)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Back to a fresh server: no faults, scripts, paces or recorded requests (the key stays)."""
        with self._lock:
            self._faults.clear()
            self._scripts.clear()
            self._model_paces.clear()
            self._pace = _Pace()
            self._requests.clear()
            self.errors.clear()
            self.peak_streams = self.active_streams

    # --- what it received ---------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def completions(self) -> list[ReceivedRequest]:
        """The chat-completion requests received so far, oldest first."""
        return [r for r in self.requests if r.method == "POST" and r.path.startswith("/v1/chat/completions")]

    def wait_for_requests(self, count: int, *, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Wait until `count` chat completions have arrived (a worker calls the model on its own time)."""
        deadline = time.monotonic() + timeout
        while len(received := self.completions) < count:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(received)} of {count} chat completions arrived within {timeout}s")
            time.sleep(0.01)
        return received

    # --- running -----------------------------------------------------------------------------------------------

    def start(self) -> "ModelServer":
        """Serve from a background thread with its own event loop; returns once the port is bound."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run_in_thread, args=(ready,), name="model-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the model server did not start within 10 s")
        if self._startup_error is not None:
            raise RuntimeError("the model server failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        """Stop serving: hanging answers are released, open connections closed, the thread joined."""
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop finished between the check and the call
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run_in_thread(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self.serve(ready=ready.set))
        except BaseException as exc:  # handed to start(), which raises it in the caller's thread
            self._startup_error = exc
            ready.set()

    async def serve(self, ready: Callable[[], None] | None = None) -> None:
        """Serve until `stop()` (or `shutdown()` from the loop's own thread)."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._released = asyncio.Event()
        server = await asyncio.start_server(self._connection, self.host, self.port, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        if ready is not None:
            ready()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            self._released.set()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await server.wait_closed()

    def shutdown(self) -> None:
        if self._stopping is not None:
            self._stopping.set()

    # --- HTTP ----------------------------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                http_request = await self._read_request(reader)
                if http_request is None:
                    break
                keep_alive = await self._answer(http_request, reader, writer)
                if not (keep_alive and http_request.keep_alive):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, _ClientGone):
            pass
        except _BadRequest as exc:
            with contextlib.suppress(ConnectionError):
                await self._send_json(writer, 400, _error_body(exc.message, "invalid_request_error"), keep_alive=False)
        except asyncio.CancelledError:
            # Only stop() cancels a connection. Python 3.11's stream server asks a finished connection task for its
            # exception, which raises again for a cancelled one, so the task ends as if normally.
            pass
        except Exception as exc:  # kept for the test to see: one bad request must not stop the server
            self.errors.append(exc)
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_request(self, reader: asyncio.StreamReader) -> _HttpRequest | None:
        request_line = await reader.readline()
        if not request_line.strip():
            return None
        try:
            method, target, version = request_line.decode("latin-1").split()
        except ValueError:
            raise _BadRequest("malformed request line") from None
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADER_LINES):
            line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            name = name.strip().lower()
            headers[name] = f"{headers[name]}, {value.strip()}" if name in headers else value.strip()
        else:
            raise _BadRequest("too many headers")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked(reader)
        else:
            length = int(headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                raise _BadRequest("request body too large")
            body = await reader.readexactly(length) if length else b""
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        return _HttpRequest(method.upper(), target, headers, body, keep_alive)

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readline()).strip():  # trailers
                    pass
                return bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)
            if len(body) > MAX_BODY_BYTES:
                raise _BadRequest("request body too large")

    async def _send_json(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        payload: Any,
        *,
        headers: dict[str, str] | None = None,
        keep_alive: bool = True,
        raw: bytes | None = None,
    ) -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        head = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Connection": "keep-alive" if keep_alive else "close",
            **(headers or {}),
        }
        writer.write(_status_line(status) + _header_block(head) + body)
        await writer.drain()

    # --- the API -------------------------------------------------------------------------------------------------

    async def _answer(self, http: _HttpRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        path = http.path.split("?", 1)[0].rstrip("/")
        body: Any = None
        if http.raw_body:
            try:
                body = json.loads(http.raw_body)
            except ValueError:
                body = http.raw_body.decode("utf-8", "replace")
        request = ReceivedRequest(http.method, http.path, dict(http.headers), body, time.monotonic())
        with self._lock:
            self._requests.append(request)

        if path not in ("/v1/models", "/v1/chat/completions"):
            request.outcome = "not_found"
            await self._send_json(
                writer, 404, _error_body(f"Unknown request URL: {http.method} {path}.", "invalid_request_error")
            )
            return True
        if not self._authorised(http.headers.get("authorization")):
            request.outcome = "unauthorized"
            missing = not http.headers.get("authorization")
            message = (
                "You didn't provide an API key. Provide it in an Authorization header (Bearer auth)."
                if missing
                else "Incorrect API key provided."
            )
            await self._send_json(
                writer, 401, _error_body(message, "invalid_request_error", None if missing else "invalid_api_key")
            )
            return True
        expected_method = "GET" if path == "/v1/models" else "POST"
        if http.method != expected_method:
            request.outcome = "method_not_allowed"
            await self._send_json(
                writer,
                405,
                _error_body(f"Method {http.method} not allowed on {path}.", "invalid_request_error"),
                headers={"Allow": expected_method},
            )
            return True
        if path == "/v1/models":
            request.outcome = "completed"
            listing = [{"id": name, "object": "model", "created": 0, "owned_by": "tests"} for name in self.models]
            await self._send_json(writer, 200, {"object": "list", "data": listing})
            return True
        try:
            return await self._chat_completion(request, http, reader, writer)
        except _BadRequest as exc:
            request.outcome = "rejected"
            await self._send_json(writer, 400, _error_body(exc.message, "invalid_request_error", None, exc.param))
            return True
        except (_ClientGone, ConnectionError):
            if request.outcome == "pending":  # a fault's outcome says more than the close that followed it
                request.outcome = "client_closed"
            raise

    def _authorised(self, header: str | None) -> bool:
        if self.api_key is None:
            return True
        scheme, _, presented = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), self.api_key.encode())

    def _validated(self, request: ReceivedRequest) -> tuple[str, Fault | None, Messages, int | None, bool, bool]:
        body = request.body
        if not isinstance(body, dict):
            raise _BadRequest("We could not parse the JSON body of your request.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _BadRequest("you must provide a model parameter", "model")
        name, _, spec = model.partition(FAULT_SUFFIX)
        suffix_fault: Fault | None = None
        if spec:
            try:
                suffix_fault = Fault.parse(spec)
            except ValueError as exc:
                raise _BadRequest(str(exc), "model") from None
        if self.reject_unknown_models and name not in self.models:
            raise _BadRequest(f"The model `{name}` does not exist.", "model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("'messages' must be a non-empty array", "messages")
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in MESSAGE_ROLES:
                raise _BadRequest(f"messages[{index}] needs a role among {sorted(MESSAGE_ROLES)}", "messages")
            if not isinstance(message.get("content"), str | list | None):
                raise _BadRequest(f"messages[{index}].content must be a string or an array", "messages")
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise _BadRequest("max_tokens must be a positive integer", "max_tokens")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise _BadRequest("stream must be a boolean", "stream")
        options = body.get("stream_options") or {}
        include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
        return name, suffix_fault, messages, limit, stream, include_usage

    def _fault_for(self, model: str, header: str | None, suffix_fault: Fault | None) -> Fault | None:
        if header:
            try:
                return Fault.parse(header)
            except ValueError as exc:
                raise _BadRequest(str(exc), FAULT_HEADER) from None
        if suffix_fault is not None:
            return suffix_fault
        with self._lock:
            for armed in self._faults:
                if armed.model in (None, model):
                    if armed.remaining is not None:
                        armed.remaining -= 1
                        if armed.remaining <= 0:
                            self._faults.remove(armed)
                    return armed.fault
        return None

    def _reply_and_pace(self, model: str, messages: Messages) -> tuple[str, _Pace]:
        with self._lock:
            script = self._scripts.get(model)
            pace = self._model_paces.get(model, self._pace)
        if script is None:
            return default_reply(model, messages), pace
        return (script(messages) if callable(script) else script), pace

    async def _chat_completion(
        self,
        request: ReceivedRequest,
        http: _HttpRequest,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool:
        model, suffix_fault, messages, limit, stream, include_usage = self._validated(request)
        fault = self._fault_for(model, http.headers.get(FAULT_HEADER), suffix_fault)
        request.outcome = f"fault:{fault.kind}" if fault else "pending"
        reply, pace = self._reply_and_pace(model, messages)
        words = WORD.findall(reply)
        finish_reason = "stop"
        if limit is not None and len(words) > limit:
            words, finish_reason = words[:limit], "length"
        prompt_tokens = _count_words(messages)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        }
        first_delay = (fault.value or 0.0) if fault and fault.kind == "slow_first_token" else pace.first_token_delay

        if fault and fault.kind == "rate_limit":
            retry_after = fault.value or 0.0
            await self._send_json(
                writer,
                429,
                _error_body(
                    "Rate limit reached for requests. Please try again later.", "requests", "rate_limit_exceeded"
                ),
                headers={"Retry-After": f"{retry_after:g}"},
            )
            return True
        if fault and fault.kind == "server_error":
            await self._send_json(
                writer,
                int(fault.value or 500),
                _error_body(
                    f"The server had an error while processing your request ({UPSTREAM_ERROR_DETAIL}).", "server_error"
                ),
            )
            return True
        if fault and fault.kind == "hang" and (fault.value is None or not stream):
            await self._hang()
            return False

        completion_id = f"chatcmpl-{next(self._ids):08d}"
        created = int(time.time())
        if not stream:
            return await self._whole(
                writer, fault, model, words, finish_reason, usage, first_delay, pace, completion_id, created, request
            )
        return await self._streamed(
            reader,
            writer,
            fault,
            model,
            words,
            finish_reason,
            usage,
            include_usage,
            first_delay,
            pace,
            completion_id,
            created,
            request,
        )

    async def _hang(self) -> None:
        assert self._released is not None
        await self._released.wait()

    async def _whole(
        self,
        writer: asyncio.StreamWriter,
        fault: Fault | None,
        model: str,
        words: list[str],
        finish_reason: str,
        usage: dict[str, int],
        first_delay: float,
        pace: _Pace,
        completion_id: str,
        created: int,
        request: ReceivedRequest,
    ) -> bool:
        # A whole answer takes as long as the stream it stands for would have.
        await asyncio.sleep(first_delay + pace.token_delay * max(len(words) - 1, 0))
        if fault and fault.kind == "disconnect":
            return False
        if fault and fault.kind == "malformed_chunk":
            await self._send_json(writer, 200, None, raw=MALFORMED_EVENT[len(b"data: ") :].strip())
            return True
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(words)},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "usage": usage,
        }
        if not fault:
            request.outcome = "completed"  # before the answer leaves, for a caller that looks as soon as it has it
        await self._send_json(writer, 200, payload)
        return True

    async def _streamed(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        fault: Fault | None,
        model: str,
        words: list[str],
        finish_reason: str,
        usage: dict[str, int],
        include_usage: bool,
        first_delay: float,
        pace: _Pace,
        completion_id: str,
        created: int,
        request: ReceivedRequest,
    ) -> bool:
        def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
            payload: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
            }
            if include_usage:
                payload["usage"] = None
            return payload

        async def send(event: bytes) -> None:
            # The caller went away: stop generating, as vLLM aborts a request whose client disconnected.
            if reader.at_eof():
                raise _ClientGone
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()

        # A fault that counts chunks past the end of a short reply still happens, just before the final chunk.
        fault_at = min(fault.chunks, len(words)) if fault and fault.kind != "slow_first_token" else None
        head = {
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
            "Connection": "keep-alive",
        }
        self.active_streams += 1
        self.peak_streams = max(self.peak_streams, self.active_streams)
        try:
            writer.write(_status_line(200) + _header_block(head))
            await send(_event(chunk({"role": "assistant", "content": ""})))
            for index in range(len(words) + 1):
                if index == fault_at and fault is not None:
                    if fault.kind == "disconnect":
                        return False
                    if fault.kind == "hang":
                        await self._hang()
                        return False
                    if fault.kind == "malformed_chunk":
                        await send(MALFORMED_EVENT)
                if index == len(words):
                    break
                await asyncio.sleep(first_delay if index == 0 else pace.token_delay)
                await send(_event(chunk({"content": words[index]})))
            await send(_event(chunk({}, finish_reason)))
            if include_usage:
                await send(
                    _event(
                        {
                            "id": completion_id,
                            "object": "chat.completion.chunk",
                            "created": created,
                            "model": model,
                            "choices": [],
                            "usage": usage,
                        }
                    )
                )
            if not fault:
                request.outcome = "completed"
        finally:
            self.active_streams -= 1
        # The books are kept before the last bytes leave: a caller that has read them may look at once.
        done = b"data: [DONE]\n\n"
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
        await writer.drain()
        return True


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _status_line(status: int) -> bytes:
    return f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode("latin-1")


def _header_block(headers: dict[str, str]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1") + b"\r\n"


@contextlib.contextmanager
def running_model_server(**options: Any) -> Iterator[ModelServer]:
    """A started server for the length of the block (the `model_server` fixture and the benchmarks use it)."""
    with ModelServer(**options) as server:
        yield server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="An OpenAI-compatible chat-completions server for tests and benchmarks."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--api-key", default=None, help="require this Bearer key (default: no auth)")
    parser.add_argument("--tokens-per-second", type=float, default=None, help="pace of the words (default: no delay)")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds before the first word")
    args = parser.parse_args(argv)
    server = ModelServer(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        tokens_per_second=args.tokens_per_second,
        first_token_delay=args.first_token_delay,
    )

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.shutdown)

        def announce() -> None:
            # A benchmark that asked for port 0 reads the address from this line.
            sys.stdout.write(f"model server listening on {server.base_url}\n")
            sys.stdout.flush()

        await server.serve(ready=announce)

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
