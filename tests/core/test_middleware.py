"""The client address on the audit trail comes from the socket or the trusted proxies, never from the client."""

import pytest
from django.test import RequestFactory

from core.middleware import client_ip


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.2"),  # no trusted proxy: the header is the client's own claim
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.7, 203.0.113.9", "203.0.113.9"),  # the left entry was written by the client
        (2, "198.51.100.7, 203.0.113.9", "198.51.100.7"),
        (3, "203.0.113.9", "203.0.113.9"),  # fewer entries than proxies: the outermost one present
        (1, "not-an-address", "10.0.0.2"),
        (1, "", "10.0.0.2"),
    ],
)
def test_client_ip_trusts_only_proxy_appended_entries(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == expected
