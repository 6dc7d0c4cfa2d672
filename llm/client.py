"""Talking to an OpenAI-compatible chat-completions endpoint: the official client over the vetted transports.

No database here: the endpoint, its key and the parameters come in, text and token counts come out, and every
failure leaves as a ModelCallError whose code says what happened and whose message a person can read. An upstream
body never reaches a message (it may echo the prompt, another tenant's gateway error, or a key).

The client never retries by itself (`max_retries=0`): a stream cannot be replayed without the person seeing it start
over, and a rate limit is the lab's to respect, so the caller decides (the annotator is told when to try again; a
Celery job retries the codes marked transient).
"""

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai

from core import outbound
from llm.transport import AsyncVettedTransport, VettedTransport

# The parameters a connection or a call may set; anything else is refused when it is configured, so a typo never
# silently drops a setting and nothing can be smuggled into the request body.
PARAMETERS: Mapping[str, type | tuple[type, ...]] = {
    "temperature": (int, float),
    "top_p": (int, float),
    "max_tokens": int,
    "presence_penalty": (int, float),
    "frequency_penalty": (int, float),
    "seed": int,
    "stop": (str, list),
}
DEFAULT_MAX_TOKENS = 1024
TRANSIENT_CODES = frozenset({"timeout", "rate_limited", "upstream_error", "disconnected", "busy"})


class ModelCallError(Exception):
    """A call that did not give an answer: `code` for programs, `message` for people, `retry_after` in seconds."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        # The ModelCall row, once llm.services.calls made the call (None for a refusal before it).
        self.call_id: int | None = None

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT_CODES


@dataclass(frozen=True)
class Endpoint:
    """Where and how to call: what a ModelConnection holds, with its key opened."""

    base_url: str
    model: str
    api_key: str = ""
    timeout_seconds: float = 60.0
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delta:
    """A piece of the reply, as the model streamed it."""

    text: str


@dataclass(frozen=True)
class Finished:
    """The whole reply and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    ttft_ms: float | None
    latency_ms: float
    # The ModelCall row, when the reply came through llm.services.calls.
    call_id: int | None = None


def request_parameters(endpoint: Endpoint, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The connection's defaults under the call's own, restricted to the parameters the platform sends."""
    merged = {**endpoint.parameters, **(overrides or {})}
    return {key: value for key, value in merged.items() if key in PARAMETERS and value is not None}


def _http_timeout(endpoint: Endpoint) -> httpx.Timeout:
    # `read` bounds the wait for each piece, the first token included; the whole call is bounded by the caller.
    return httpx.Timeout(
        connect=min(10.0, endpoint.timeout_seconds), read=endpoint.timeout_seconds, write=10.0, pool=10.0
    )


def _api_key(endpoint: Endpoint) -> str:
    # The client insists on a key; servers that take none (a local vLLM) ignore the header.
    return endpoint.api_key or "none"


def async_client(endpoint: Endpoint) -> openai.AsyncOpenAI:
    http = httpx.AsyncClient(
        transport=AsyncVettedTransport(), timeout=_http_timeout(endpoint), follow_redirects=False, trust_env=False
    )
    return openai.AsyncOpenAI(base_url=endpoint.base_url, api_key=_api_key(endpoint), http_client=http, max_retries=0)


def sync_client(endpoint: Endpoint) -> openai.OpenAI:
    http = httpx.Client(
        transport=VettedTransport(), timeout=_http_timeout(endpoint), follow_redirects=False, trust_env=False
    )
    return openai.OpenAI(base_url=endpoint.base_url, api_key=_api_key(endpoint), http_client=http, max_retries=0)


def _retry_after(response: httpx.Response | None) -> float | None:
    if response is None:
        return None
    raw = response.headers.get("retry-after", "")
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 86400 else None


def call_error(exc: BaseException) -> ModelCallError:
    """Our description of a failed call: what kind of failure, never what the server said."""
    if isinstance(exc, ModelCallError):
        return exc
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, outbound.DestinationRefused):
            return ModelCallError("refused", f"The model's address is not allowed: {cause}")
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return ModelCallError("timeout", "The model did not answer in time.")
    if isinstance(exc, openai.RateLimitError):
        wait = _retry_after(exc.response)
        message = "The model is rate-limited"
        message += f"; try again in {wait:.0f} s." if wait is not None else "; try again shortly."
        return ModelCallError("rate_limited", message, retry_after=wait)
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return ModelCallError("unauthorized", "The model server refused the connection's credentials.")
    if isinstance(exc, openai.NotFoundError):
        return ModelCallError("not_found", "The model server does not know this model (check the connection).")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status >= 500:
            return ModelCallError("upstream_error", f"The model server failed (HTTP {status}).")
        return ModelCallError("rejected", f"The model server refused the request (HTTP {status}).")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | openai.APIConnectionError):
        return ModelCallError("disconnected", "The connection to the model was lost before it finished.")
    if isinstance(exc, ValueError):  # a chunk that is not JSON, or not a chat-completion chunk
        return ModelCallError("malformed", "The model server sent a reply the platform could not read.")
    return ModelCallError("upstream_error", "The model call failed.")


def _count(usage: Any, name: str) -> int:
    value = getattr(usage, name, 0) if usage is not None else 0
    return int(value) if isinstance(value, int) and value >= 0 else 0


async def chat_stream(
    endpoint: Endpoint, messages: Sequence[Mapping[str, str]], parameters: Mapping[str, Any] | None = None
) -> AsyncIterator[Delta | Finished]:
    """Stream one reply: Delta pieces as they come, then one Finished. Raises ModelCallError."""
    started = time.monotonic()
    first: float | None = None
    pieces: list[str] = []
    finish_reason = ""
    usage: Any = None
    client = async_client(endpoint)
    try:
        # Typed as Any: the parameters are checked here (PARAMETERS), and the client's overloads cannot see them.
        create: Any = client.chat.completions.create
        stream = await create(
            model=endpoint.model,
            messages=list(messages),
            stream=True,
            stream_options={"include_usage": True},
            **request_parameters(endpoint, parameters),
        )
        async for chunk in stream:
            if getattr(chunk, "usage", None) is not None:
                usage = chunk.usage
            for choice in chunk.choices or ():
                text = choice.delta.content if choice.delta is not None else None
                if text:
                    if first is None:
                        first = time.monotonic()
                    pieces.append(text)
                    yield Delta(text)
                if choice.finish_reason:
                    finish_reason = choice.finish_reason
    except Exception as exc:  # every failure becomes one of ours, classified
        raise call_error(exc) from exc
    finally:
        await client.close()
    if not finish_reason:
        raise ModelCallError("disconnected", "The model stopped before it finished its reply.")
    text = "".join(pieces)
    yield Finished(
        text=text,
        prompt_tokens=_count(usage, "prompt_tokens"),
        completion_tokens=_count(usage, "completion_tokens"),
        finish_reason=finish_reason,
        ttft_ms=None if first is None else (first - started) * 1000,
        latency_ms=(time.monotonic() - started) * 1000,
    )


def chat_complete(
    endpoint: Endpoint, messages: Sequence[Mapping[str, str]], parameters: Mapping[str, Any] | None = None
) -> Finished:
    """One reply, whole (no streaming). Raises ModelCallError."""
    started = time.monotonic()
    client = sync_client(endpoint)
    try:
        create: Any = client.chat.completions.create
        reply = create(
            model=endpoint.model,
            messages=list(messages),
            **request_parameters(endpoint, parameters),
        )
    except Exception as exc:  # every failure becomes one of ours, classified
        raise call_error(exc) from exc
    finally:
        client.close()
    if not reply.choices:
        raise ModelCallError("malformed", "The model server sent a reply without a choice.")
    choice = reply.choices[0]
    latency = (time.monotonic() - started) * 1000
    return Finished(
        text=choice.message.content or "",
        prompt_tokens=_count(reply.usage, "prompt_tokens"),
        completion_tokens=_count(reply.usage, "completion_tokens"),
        finish_reason=choice.finish_reason or "",
        ttft_ms=None,
        latency_ms=latency,
    )
