"""The loopback model server, driven by the official `openai` client as the platform drives a real endpoint."""

import asyncio
import json
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import openai
import pytest

from llm.client import chat_complete
from llm.services.connections import connection_endpoint
from tests.factories import ModelConnectionFactory
from tests.llm.loop_support import run_on_own_loop
from tests.llm.model_server import (
    MODEL_SERVER_API_KEY,
    UPSTREAM_ERROR_DETAIL,
    ModelServer,
    running_model_server,
)

USER = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "name three colours"}]
REPLY_A = "[model-a] reply to: name three colours"


def client(server: ModelServer, **options: Any) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    options.setdefault("timeout", 5.0)
    return openai.OpenAI(base_url=server.base_url, api_key=MODEL_SERVER_API_KEY, **options)


def stream_deltas(stream: Any, into: list[str]) -> None:
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            into.append(chunk.choices[0].delta.content)


def test_a_whole_answer_names_the_model_echoes_the_user_and_counts_words(model_server: ModelServer) -> None:
    completion = client(model_server).chat.completions.create(model="model-a", messages=USER, temperature=0.2)

    assert completion.object == "chat.completion"
    assert completion.model == "model-a"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == REPLY_A
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        5,
        6,
        11,
    )
    [received] = model_server.requests
    assert (received.method, received.path, received.outcome) == ("POST", "/v1/chat/completions", "completed")
    assert received.headers["authorization"] == f"Bearer {MODEL_SERVER_API_KEY}"
    assert received.body["temperature"] == 0.2
    assert received.messages == USER
    assert received.prompt_text == "Be brief.\nname three colours"


def test_a_stream_sends_one_word_per_chunk_then_the_finish_the_usage_and_done(model_server: ModelServer) -> None:
    chunks = list(
        client(model_server).chat.completions.create(
            model="model-b", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )

    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in chunks[1:7]] == [
        "[model-b]",
        " reply",
        " to:",
        " name",
        " three",
        " colours",
    ]
    assert chunks[7].choices[0].finish_reason == "stop"
    assert chunks[8].choices == []
    assert chunks[8].usage is not None
    assert (chunks[8].usage.prompt_tokens, chunks[8].usage.completion_tokens) == (5, 6)
    assert len(chunks) == 9
    assert model_server.requests[0].outcome == "completed"


def test_the_stream_on_the_wire_is_server_sent_events_ending_in_done(model_server: ModelServer) -> None:
    body = {"model": "model-a", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    headers = {"Authorization": f"Bearer {MODEL_SERVER_API_KEY}"}

    with httpx.stream("POST", f"{model_server.base_url}/chat/completions", json=body, headers=headers) as response:
        lines = [line for line in response.iter_lines() if line]

    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["transfer-encoding"] == "chunked"
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert [event["object"] for event in events] == ["chat.completion.chunk"] * 6
    assert "".join(event["choices"][0]["delta"].get("content") or "" for event in events) == "[model-a] reply to: hi"
    assert [event["choices"][0]["finish_reason"] for event in events] == [None, None, None, None, None, "stop"]
    assert "usage" not in events[0]


def test_scripted_replies_are_per_model_and_may_read_the_messages(model_server: ModelServer) -> None:
    model_server.script("model-a", "fixed answer")
    model_server.script("model-b", lambda messages: f"{len(messages)} messages, last {messages[-1]['role']}")
    openai_client = client(model_server)

    replies = [
        openai_client.chat.completions.create(model=model, messages=USER).choices[0].message.content
        for model in ("model-a", "model-b", "model-c")
    ]

    assert replies == ["fixed answer", "2 messages, last user", "[model-c] reply to: name three colours"]


def test_max_tokens_cuts_the_reply_and_says_so(model_server: ModelServer) -> None:
    completion = client(model_server).chat.completions.create(model="model-a", messages=USER, max_tokens=3)

    assert completion.choices[0].message.content == "[model-a] reply to:"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_a_wrong_key_is_refused_with_openais_error_body(model_server: ModelServer) -> None:
    wrong = openai.OpenAI(base_url=model_server.base_url, api_key="sk-wrong", max_retries=0)

    with pytest.raises(openai.AuthenticationError) as refused:
        wrong.chat.completions.create(model="model-a", messages=USER)

    assert refused.value.status_code == 401
    assert refused.value.body == {
        "message": "Incorrect API key provided.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    assert model_server.requests[0].outcome == "unauthorized"


def test_a_missing_key_is_refused_and_a_server_without_a_key_accepts_anyone(model_server: ModelServer) -> None:
    url = f"{model_server.base_url}/models"

    refused = httpx.get(url)
    model_server.api_key = None
    accepted = httpx.get(url)

    assert refused.status_code == 401
    assert refused.json()["error"]["code"] is None
    assert refused.json()["error"]["type"] == "invalid_request_error"
    assert accepted.status_code == 200


def test_models_are_listed(model_server: ModelServer) -> None:
    models = client(model_server).models.list()

    assert [model.id for model in models.data] == ["model-a", "model-b"]


def test_bad_input_is_a_400_naming_the_parameter_and_unknown_routes_a_404(model_server: ModelServer) -> None:
    with pytest.raises(openai.BadRequestError) as no_messages:
        client(model_server).chat.completions.create(model="model-a", messages=[])
    unknown = httpx.post(
        f"{model_server.base_url}/completions", headers={"Authorization": f"Bearer {MODEL_SERVER_API_KEY}"}
    )

    assert no_messages.value.body == {
        "message": "'messages' must be a non-empty array",
        "type": "invalid_request_error",
        "param": "messages",
        "code": None,
    }
    assert unknown.status_code == 404
    assert unknown.json()["error"]["message"] == "Unknown request URL: POST /v1/completions."


def test_pace_spaces_the_words_and_delays_the_first(model_server: ModelServer) -> None:
    model_server.pace(tokens_per_second=50, first_token_delay=0.2)
    started = time.monotonic()
    arrivals: list[float] = []

    for chunk in client(model_server).chat.completions.create(model="model-a", messages=USER, stream=True):
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)

    assert len(arrivals) == 6
    assert 0.2 <= arrivals[0] < 0.45
    # Five gaps of 20 ms after the first word.
    assert 0.1 <= arrivals[-1] - arrivals[0] < 0.3


def test_a_slow_first_token_waits_then_streams(model_server: ModelServer) -> None:
    model_server.slow_first_token(0.4)
    deltas: list[str] = []
    started = time.monotonic()

    stream = client(model_server).chat.completions.create(model="model-a", messages=USER, stream=True)
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            deltas.append(chunk.choices[0].delta.content)
            if len(deltas) == 1:
                first_token = time.monotonic() - started

    assert 0.4 <= first_token < 0.7
    assert "".join(deltas) == REPLY_A
    assert model_server.requests[0].outcome == "fault:slow_first_token"


def test_a_hang_never_answers_and_the_client_times_out(model_server: ModelServer) -> None:
    model_server.hang()
    started = time.monotonic()

    with pytest.raises(openai.APITimeoutError):
        client(model_server, timeout=0.3).chat.completions.create(model="model-a", messages=USER)

    assert 0.3 <= time.monotonic() - started < 0.8
    assert model_server.requests[0].outcome == "fault:hang"


def test_a_hang_mid_stream_stops_after_the_given_words(model_server: ModelServer) -> None:
    model_server.hang(after_chunks=2)
    deltas: list[str] = []

    stream = client(model_server, timeout=0.3).chat.completions.create(model="model-a", messages=USER, stream=True)
    with pytest.raises(httpx.ReadTimeout):
        stream_deltas(stream, deltas)

    assert deltas == ["[model-a]", " reply"]


def test_a_rate_limit_answers_429_with_retry_after(model_server: ModelServer) -> None:
    model_server.rate_limit(retry_after=7)

    with pytest.raises(openai.RateLimitError) as limited:
        client(model_server).chat.completions.create(model="model-a", messages=USER)

    assert limited.value.status_code == 429
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.code == "rate_limit_exceeded"


def test_a_fault_armed_for_one_request_lets_a_retrying_client_through(model_server: ModelServer) -> None:
    model_server.rate_limit(retry_after=0.05, times=1)

    completion = client(model_server, max_retries=1).chat.completions.create(model="model-a", messages=USER)

    assert completion.choices[0].message.content == REPLY_A
    assert [r.outcome for r in model_server.requests] == ["fault:rate_limit", "completed"]


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_answers_the_status_with_an_upstream_detail(model_server: ModelServer, status: int) -> None:
    model_server.server_error(status)

    with pytest.raises(openai.InternalServerError) as failed:
        client(model_server).chat.completions.create(model="model-a", messages=USER, stream=True)

    assert failed.value.status_code == status
    assert UPSTREAM_ERROR_DETAIL in failed.value.message
    assert failed.value.type == "server_error"


def test_a_malformed_chunk_breaks_the_stream_after_the_given_words(model_server: ModelServer) -> None:
    model_server.malformed_chunk(after_chunks=1)
    deltas: list[str] = []

    stream = client(model_server).chat.completions.create(model="model-a", messages=USER, stream=True)
    with pytest.raises(json.JSONDecodeError):
        stream_deltas(stream, deltas)

    assert deltas == ["[model-a]"]
    assert model_server.requests[0].outcome == "fault:malformed_chunk"


def test_a_malformed_whole_answer_is_not_json(model_server: ModelServer) -> None:
    model_server.malformed_chunk()
    body = {"model": "model-a", "messages": USER}

    response = httpx.post(
        f"{model_server.base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {MODEL_SERVER_API_KEY}"},
    )

    assert response.status_code == 200
    assert response.content == b"{not json"


def test_a_disconnect_closes_the_socket_mid_stream(model_server: ModelServer) -> None:
    model_server.disconnect(after_chunks=3)
    deltas: list[str] = []

    stream = client(model_server).chat.completions.create(model="model-a", messages=USER, stream=True)
    with pytest.raises(httpx.RemoteProtocolError):
        stream_deltas(stream, deltas)

    assert deltas == ["[model-a]", " reply", " to:"]


def test_a_disconnect_before_a_whole_answer_is_a_connection_error(model_server: ModelServer) -> None:
    model_server.disconnect()

    with pytest.raises(openai.APIConnectionError):
        client(model_server).chat.completions.create(model="model-a", messages=USER)


def test_a_fault_may_be_limited_to_one_model(model_server: ModelServer) -> None:
    model_server.server_error(model="model-b")
    openai_client = client(model_server)

    answered = openai_client.chat.completions.create(model="model-a", messages=USER)
    with pytest.raises(openai.InternalServerError):
        openai_client.chat.completions.create(model="model-b", messages=USER)

    assert answered.choices[0].message.content == REPLY_A


@pytest.mark.parametrize("how", ["suffix", "header"])
def test_a_request_may_ask_for_its_own_fault(model_server: ModelServer, how: str) -> None:
    model = "model-a~rate_limit:3" if how == "suffix" else "model-a"
    headers = {"X-Model-Fault": "rate_limit:3"} if how == "header" else {}
    openai_client = client(model_server)

    with pytest.raises(openai.RateLimitError) as limited:
        openai_client.chat.completions.create(model=model, messages=USER, extra_headers=headers)
    plain = openai_client.chat.completions.create(model="model-a", messages=USER)

    assert limited.value.response.headers["retry-after"] == "3"
    assert plain.choices[0].message.content == REPLY_A


def test_a_disconnect_asked_by_suffix_answers_as_the_plain_model(model_server: ModelServer) -> None:
    deltas: list[str] = []

    stream = client(model_server).chat.completions.create(model="model-a~disconnect:1", messages=USER, stream=True)
    with pytest.raises(httpx.RemoteProtocolError):
        stream_deltas(stream, deltas)

    assert deltas == ["[model-a]"]


def test_the_server_notices_a_caller_that_closes_mid_stream(model_server: ModelServer) -> None:
    model_server.pace(tokens_per_second=20)

    stream = client(model_server).chat.completions.create(model="model-a", messages=USER, stream=True)
    next(iter(stream))
    stream.close()

    deadline = time.monotonic() + 2
    while model_server.requests[0].outcome == "pending" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert model_server.requests[0].outcome == "client_closed"
    assert model_server.active_streams == 0


def test_fifty_concurrent_streams_finish_in_about_the_time_of_one(model_server: ModelServer) -> None:
    # Six words at 20 per second after a 0.1 s first token: about 0.35 s per stream on its own.
    model_server.pace(tokens_per_second=20, first_token_delay=0.1)

    async def one(async_client: openai.AsyncOpenAI, index: int) -> str:
        stream = await async_client.chat.completions.create(
            model="model-a", messages=[{"role": "user", "content": f"stream {index}"}], stream=True
        )
        return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])

    async def timed(count: int) -> tuple[float, list[str]]:
        async with openai.AsyncOpenAI(
            base_url=model_server.base_url, api_key=MODEL_SERVER_API_KEY, max_retries=0
        ) as async_client:
            started = time.monotonic()
            replies = await asyncio.gather(*(one(async_client, index) for index in range(count)))
            return time.monotonic() - started, replies

    alone, _ = run_on_own_loop(timed, 1)
    together, replies = run_on_own_loop(timed, 50)

    assert replies == [f"[model-a] reply to: stream {index}" for index in range(50)]
    assert model_server.peak_streams == 50
    # One after another they would take 50 times `alone` (about 17 s); the margin is for a machine other work shares
    # (the suite's other process, a browser), and still far below what serving them in turn would take.
    assert together < alone + 3.0, (alone, together)
    assert model_server.errors == []


def test_it_runs_as_a_command_for_benchmarks() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.llm.model_server", "--port", "0", "--api-key", "sk-bench"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        base_url = line.removeprefix("model server listening on ")
        completion = openai.OpenAI(base_url=base_url, api_key="sk-bench", max_retries=0).chat.completions.create(
            model="model-b", messages=USER
        )
    finally:
        process.terminate()
        process.wait(5)

    assert line.startswith("model server listening on http://127.0.0.1:")
    assert completion.choices[0].message.content == "[model-b] reply to: name three colours"
    assert process.returncode == 0


def test_stop_releases_a_hanging_request_and_frees_the_port() -> None:
    with running_model_server() as server:
        server.hang()
        port = server.port
        hanging = httpx.Client(timeout=5)
        started = time.monotonic()

        def stop_soon() -> None:
            time.sleep(0.2)
            server.stop()

        threading.Thread(target=stop_soon).start()
        with pytest.raises(httpx.RemoteProtocolError):
            hanging.post(f"{server.base_url}/chat/completions", json={"model": "model-a", "messages": USER})

    assert time.monotonic() - started < 1.5
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/v1/models")


def test_a_factory_connection_reaches_the_server_with_its_key(
    tenant: Any, model_server: ModelServer, settings: Any
) -> None:
    # The outbound rules refuse loopback unless the operator allows it.
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    connection = ModelConnectionFactory(base_url=model_server.base_url, model="model-b")

    finished = chat_complete(connection_endpoint(connection), USER)

    assert finished.text == "[model-b] reply to: name three colours"
    assert (finished.prompt_tokens, finished.completion_tokens, finished.finish_reason) == (5, 6, "stop")
    assert model_server.requests[0].headers["authorization"] == f"Bearer {MODEL_SERVER_API_KEY}"
    assert connection.api_key_sealed != ""
    assert MODEL_SERVER_API_KEY not in connection.api_key_sealed
