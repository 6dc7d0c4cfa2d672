"""The SSRF-safe client against a real HTTP server on 127.0.0.1: refused by default, reachable when allow-listed."""

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from core import outbound

RECEIVED: list[tuple[str, str, dict[str, str], bytes]] = []


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        RECEIVED.append(
            (self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
        )

    def do_GET(self) -> None:
        self._record()
        routes = {
            "/to-metadata": (302, "http://169.254.169.254/latest/meta-data/"),
            "/to-self": (307, "/ok"),
            "/loop": (302, "/loop"),
        }
        if self.path in routes:
            status, location = routes[self.path]
            self.send_response(status)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"x" * 5000 if self.path == "/big" else b"SECRET-UPSTREAM-BODY" if self.path == "/fail" else b"hello"
        self.send_response(500 if self.path == "/fail" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET


@pytest.fixture
def server() -> Iterator[str]:
    RECEIVED.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def loopback_allowed(settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]


def test_loopback_is_refused_by_default_and_nothing_is_sent(server, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(
        outbound.DestinationRefused, match=r"^Refused to connect to 127\.0\.0\.1: a loopback address\.$"
    ):
        outbound.request("GET", f"{server}/ok")
    assert RECEIVED == []


def test_loopback_is_reached_when_allow_listed(server, loopback_allowed):
    response = outbound.request("POST", f"{server}/ok", body=b"payload", headers={"X-Test": "1"})
    assert (response.status, response.body, response.ok) == (200, b"hello", True)
    method, path, headers, body = RECEIVED[0]
    assert (method, path, body, headers["x-test"]) == ("POST", "/ok", b"payload", "1")
    assert headers["host"] == server.removeprefix("http://")


def test_hostname_resolving_to_loopback_is_refused(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(outbound.DestinationRefused, match="loopback"):
        outbound.request("GET", "http://localhost:9/")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("10.1.2.3", "a private address"),
        ("192.168.0.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104 - the address under test
        ("::", "an unspecified address"),
        ("240.0.0.1", "a reserved address"),
        ("::ffff:127.0.0.1", "an IPv4-mapped address embedding 127.0.0.1 (a loopback address)"),
        ("100.64.0.1", "not globally routable"),
    ],
)
def test_non_public_addresses_are_refused(settings, address, reason):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(outbound.DestinationRefused) as refused:
        outbound.vet_address(address)
    assert str(refused.value).endswith(f": {reason}.")


# IPv6 forms that carry an IPv4 address, and so can reach one the platform must not: the embedded address is vetted
# wherever its place is fixed, and ranges whose embedding is opaque or obsolete are refused whole.
@pytest.mark.parametrize(
    ("address", "reason"),
    [
        # 6to4 (2002::/16): the IPv4 address is bits 16-47; a 6to4 relay, or the host's own sit tunnel, delivers to it.
        ("2002:7f00:1::", "a 6to4 address embedding 127.0.0.1 (a loopback address)"),
        ("2002:a9fe:a9fe::1", "a 6to4 address embedding 169.254.169.254 (a cloud metadata address)"),
        ("2002:a00:1:1::1", "a 6to4 address embedding 10.0.0.1 (a private address)"),
        # Teredo (2001::/32): the client's address is the last 32 bits, inverted.
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a Teredo address embedding 127.0.0.1 (a loopback address)"),
        (
            "2001:0:4136:e378:8000:63bf:5601:5601",
            "a Teredo address embedding 169.254.169.254 (a cloud metadata address)",
        ),
        # A public client's is still a client's tunnel, where no server this platform talks to lives.
        ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "a Teredo address"),
        # NAT64, well-known prefix (64:ff9b::/96): the gateway forwards to the last 32 bits.
        ("64:ff9b::7f00:1", "a NAT64 address embedding 127.0.0.1 (a loopback address)"),
        ("64:ff9b::a9fe:a9fe", "a NAT64 address embedding 169.254.169.254 (a cloud metadata address)"),
        ("64:ff9b::c0a8:1", "a NAT64 address embedding 192.168.0.1 (a private address)"),
        # Local-use NAT64 (64:ff9b:1::/48): where the address sits depends on the operator's prefix length.
        ("64:ff9b:1::7f00:1", "a local-use NAT64 address"),
        ("64:ff9b:1:ffff::808:808", "a local-use NAT64 address"),
        # IPv4-mapped (::ffff:0:0/96): a dual-stack socket connects to the IPv4 address itself.
        ("::ffff:169.254.169.254", "an IPv4-mapped address embedding 169.254.169.254 (a cloud metadata address)"),
        ("::ffff:10.1.2.3", "an IPv4-mapped address embedding 10.1.2.3 (a private address)"),
        # IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96): obsolete, no destination lives there.
        ("::127.0.0.1", "an IPv4-compatible address"),
        ("::8.8.8.8", "an IPv4-compatible address"),
        ("::ffff:0:127.0.0.1", "an IPv4-translated address"),
        ("::ffff:0:8.8.8.8", "an IPv4-translated address"),
        # ISATAP interface identifiers (::0:5efe:a.b.c.d, ::200:5efe:a.b.c.d) under any prefix.
        ("2a00:1450:4001::5efe:7f00:1", "an ISATAP address embedding 127.0.0.1 (a loopback address)"),
        (
            "2a00:1450:4001::200:5efe:a9fe:a9fe",
            "an ISATAP address embedding 169.254.169.254 (a cloud metadata address)",
        ),
    ],
)
def test_ipv6_transition_addresses_embedding_a_refused_ipv4_address_are_refused(settings, address, reason):
    settings.OUTBOUND_ALLOWED_NETWORKS = []

    with pytest.raises(outbound.DestinationRefused) as refused:
        outbound.vet_address(address)

    assert str(refused.value) == f"Refused to connect to {ipaddress.ip_address(address)}: {reason}."


@pytest.mark.parametrize(
    "address",
    [
        "2002:808:808::1",  # 6to4 of a public address
        "::ffff:8.8.8.8",  # IPv4-mapped public address
        "2a00:1450:4001::5efe:808:808",  # ISATAP of a public address
        "2a00:1450:4001:81b::200e",  # plain global unicast
    ],
)
def test_ipv6_transition_addresses_of_public_ipv4_addresses_pass(settings, address):
    settings.OUTBOUND_ALLOWED_NETWORKS = []

    assert outbound.vet_address(address) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    ("allowed", "address", "reason"),
    [
        # Allow-listing the transition range does not let its embedded address through.
        ("2002::/16", "2002:7f00:1::", "a 6to4 address embedding 127.0.0.1 (a loopback address)"),
        ("64:ff9b::/96", "64:ff9b::a00:1", "a NAT64 address embedding 10.0.0.1 (a private address)"),
        (
            "2001::/32",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "a Teredo address embedding 127.0.0.1 (a loopback address)",
        ),
        # A broad entry does not open a range refused whole; only an entry inside that range does (below).
        ("::/0", "::ffff:0:8.8.8.8", "an IPv4-translated address"),
        ("::/0", "64:ff9b:1::808:808", "a local-use NAT64 address"),
        ("::/0", "::8.8.8.8", "an IPv4-compatible address"),
    ],
)
def test_an_allow_list_entry_never_opens_what_a_transition_address_embeds(settings, allowed, address, reason):
    settings.OUTBOUND_ALLOWED_NETWORKS = [allowed]

    with pytest.raises(outbound.DestinationRefused) as refused:
        outbound.vet_address(address)

    assert str(refused.value) == f"Refused to connect to {ipaddress.ip_address(address)}: {reason}."


def test_an_operator_may_allow_list_a_local_nat64_prefix_and_an_embedded_allowed_network(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["64:ff9b:1:a::/64", "10.0.0.0/8"]

    assert str(outbound.vet_address("64:ff9b:1:a::a00:5")) == "64:ff9b:1:a::a00:5"
    assert str(outbound.vet_address("2002:a00:5::1")) == "2002:a00:5::1"  # the 6to4 form of an allowed 10.0.0.5
    with pytest.raises(outbound.DestinationRefused, match=r": a local-use NAT64 address\.$"):
        outbound.vet_address("64:ff9b:1:b::a00:5")


def test_a_name_resolving_to_a_6to4_form_of_loopback_is_refused(settings, monkeypatch):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    monkeypatch.setattr(
        outbound.socket,
        "getaddrinfo",
        lambda host, port, *args, **kwargs: [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2002:7f00:1::", port, 0, 0))
        ],
    )

    with pytest.raises(outbound.DestinationRefused) as refused:
        outbound.request("GET", "http://siem.example.test/ingest")

    assert str(refused.value) == (
        "Refused to connect to 2002:7f00:1::: a 6to4 address embedding 127.0.0.1 (a loopback address)."
    )


def test_metadata_address_stays_refused_even_inside_an_allowed_network(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["169.254.0.0/16"]
    assert str(outbound.vet_address("169.254.1.1")) == "169.254.1.1"
    with pytest.raises(outbound.DestinationRefused, match="metadata"):
        outbound.request("GET", "http://169.254.169.254/latest/meta-data/")


def test_public_address_passes():
    assert str(outbound.vet_address("93.184.215.14")) == "93.184.215.14"


def test_redirect_to_a_refused_address_is_refused(server, loopback_allowed):
    with pytest.raises(outbound.DestinationRefused, match="metadata"):
        outbound.request("GET", f"{server}/to-metadata")
    assert [path for _, path, _, _ in RECEIVED] == ["/to-metadata"]


def test_redirect_to_an_allowed_target_is_followed_with_the_body_for_307(server, loopback_allowed):
    response = outbound.request("POST", f"{server}/to-self", body=b"again")
    assert (response.status, response.body) == (200, b"hello")
    assert [(m, p, b) for m, p, _, b in RECEIVED] == [("POST", "/to-self", b"again"), ("POST", "/ok", b"again")]


def test_redirects_stop_after_three(server, loopback_allowed):
    with pytest.raises(outbound.OutboundError, match=r"^Too many redirects \(more than 3\)\.$"):
        outbound.request("GET", f"{server}/loop")
    assert len(RECEIVED) == 4


def test_response_over_the_cap_is_refused(server, loopback_allowed):
    with pytest.raises(outbound.OutboundError, match=r"^The response exceeded 1000 bytes\.$"):
        outbound.request("GET", f"{server}/big", max_response_bytes=1000)


def test_error_status_is_returned_and_errors_never_echo_the_body(server, loopback_allowed):
    response = outbound.request("GET", f"{server}/fail")
    assert (response.status, response.ok) == (500, False)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(outbound.OutboundError) as failed:
        outbound.request("GET", f"http://127.0.0.1:{port}/")
    assert str(failed.value) == f"Request to 127.0.0.1:{port} failed (ConnectionRefusedError)."


def test_urls_with_credentials_or_other_schemes_are_refused():
    with pytest.raises(outbound.DestinationRefused, match="Credentials in the URL"):
        outbound.request("GET", "https://user:pw@example.org/")
    with pytest.raises(outbound.DestinationRefused, match="Only http and https"):
        outbound.request("GET", "file:///etc/passwd")


def test_connection_goes_to_the_vetted_address_without_a_second_lookup(server, loopback_allowed, monkeypatch):
    port = int(server.rsplit(":", 1)[1])
    answers = iter([[(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]])
    lookups: list[str] = []

    def rebinding_getaddrinfo(host: str, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        return next(answers)  # a second lookup would raise StopIteration (the "rebound" answer)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", rebinding_getaddrinfo)
    response = outbound.request("GET", f"http://siem.example.test:{port}/ok")
    assert (response.status, lookups) == (200, ["siem.example.test"])
    assert RECEIVED[0][2]["host"] == f"siem.example.test:{port}"


def test_tcp_is_vetted_like_http(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    with pytest.raises(outbound.DestinationRefused, match="loopback"):
        outbound.open_tcp("127.0.0.1", 514)
