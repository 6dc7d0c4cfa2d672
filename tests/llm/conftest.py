"""The `model_server` fixture: an OpenAI-compatible chat-completions server on loopback for one test."""

from collections.abc import Iterator

import pytest

from tests.llm.model_server import MODEL_SERVER_API_KEY, ModelServer, running_model_server


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    """A fresh server per test (it starts in milliseconds), requiring MODEL_SERVER_API_KEY as its Bearer key.

    Set `model_server.api_key = None` to accept any caller; see ModelServer for replies, pace and faults."""
    with running_model_server(api_key=MODEL_SERVER_API_KEY) as server:
        yield server
