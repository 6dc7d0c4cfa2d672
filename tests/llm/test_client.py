"""The protocol client against a real OpenAI-compatible server on loopback: streamed and whole replies, the key
sent, every fault turned into our own error with a message a person can read and never the server's body, and
addresses the operator has not allowed refused before anything is sent."""

from typing import Any

import pytest

from llm.client import Delta, Endpoint, Finished, ModelCallError, chat_complete, chat_stream
from tests.llm.loop_support import run_on_own_loop
from tests.llm.model_server import MODEL_SERVER_API_KEY, UPSTREAM_ERROR_DETAIL

MESSAGES = [{"role": "user", "content": "Name three prime numbers"}]


@pytest.fixture(autouse=True)
def loopback_allowed(settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def endpoint(server: Any, **changes: Any) -> Endpoint:
    fields: dict[str, Any] = {
        "base_url": server.base_url,
        "model": "model-a",
        "api_key": MODEL_SERVER_API_KEY,
        "timeout_seconds": 2.0,
        **changes,
    }
    return Endpoint(**fields)


def stream(server: Any, **changes: Any) -> list[Any]:
    async def collect() -> list[Any]:
        return [event async for event in chat_stream(endpoint(server, **changes), MESSAGES, {"temperature": 0.3})]

    return run_on_own_loop(collect)


def failure(server: Any, **changes: Any) -> ModelCallError:
    with pytest.raises(ModelCallError) as raised:
        stream(server, **changes)
    assert UPSTREAM_ERROR_DETAIL not in raised.value.message
    return raised.value


def test_a_streamed_reply_comes_piece_by_piece_then_whole_with_its_cost(model_server):
    events = stream(model_server)

    deltas = [e.text for e in events if isinstance(e, Delta)]
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert "".join(deltas) == finished.text == "[model-a] reply to: Name three prime numbers"
    assert len(deltas) == 7  # one word a chunk
    assert (finished.prompt_tokens, finished.completion_tokens, finished.finish_reason) == (4, 7, "stop")
    assert finished.ttft_ms is not None
    assert finished.ttft_ms <= finished.latency_ms
    sent = model_server.completions[0]
    assert sent.headers["authorization"] == f"Bearer {MODEL_SERVER_API_KEY}"
    assert sent.body["model"] == "model-a"
    assert sent.body["stream"] is True
    assert sent.body["temperature"] == 0.3
    assert sent.body["messages"] == MESSAGES


def test_a_whole_reply_without_streaming(model_server):
    finished = chat_complete(endpoint(model_server, model="model-b"), MESSAGES, {"max_tokens": 32})

    assert finished.text == "[model-b] reply to: Name three prime numbers"
    assert model_server.completions[0].body["max_tokens"] == 32
    assert "stream" not in model_server.completions[0].body or model_server.completions[0].body["stream"] is False


def test_a_rate_limit_says_when_to_try_again(model_server):
    model_server.rate_limit(retry_after=12)

    error = failure(model_server)

    assert (error.code, error.retry_after, error.transient) == ("rate_limited", 12.0, True)
    assert error.message == "The model is rate-limited; try again in 12 s."


def test_a_server_error_is_named_without_its_body(model_server):
    model_server.server_error(503)

    error = failure(model_server)

    assert (error.code, error.message) == ("upstream_error", "The model server failed (HTTP 503).")


def test_a_slow_first_token_beyond_the_timeout_is_a_timeout(model_server):
    model_server.slow_first_token(3)

    error = failure(model_server, timeout_seconds=0.5)

    assert (error.code, error.message) == ("timeout", "The model did not answer in time.")


def test_a_malformed_chunk_is_refused(model_server):
    model_server.malformed_chunk(after_chunks=2)

    error = failure(model_server)

    assert error.code == "malformed"
    assert error.message == "The model server sent a reply the platform could not read."


def test_a_disconnect_mid_stream_is_a_lost_connection(model_server):
    model_server.disconnect(after_chunks=2)

    error = failure(model_server)

    assert error.code == "disconnected"


def test_a_wrong_key_is_refused_as_credentials(model_server):
    error = failure(model_server, api_key="sk-wrong")

    assert (error.code, error.message) == ("unauthorized", "The model server refused the connection's credentials.")


def test_loopback_is_refused_unless_the_operator_allowed_it(model_server, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []

    error = failure(model_server)

    assert error.code == "refused"
    assert "loopback" in error.message
    assert model_server.completions == []


def test_the_metadata_address_is_refused_even_when_its_network_is_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["169.254.0.0/16"]

    with pytest.raises(ModelCallError) as raised:
        chat_complete(Endpoint(base_url="http://169.254.169.254/v1", model="m", timeout_seconds=1), MESSAGES)

    assert raised.value.code == "refused"
    assert "metadata" in raised.value.message
