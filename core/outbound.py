"""The one way the platform reaches another machine (SIEM endpoints, webhooks, syslog): SSRF-safe by construction.

Every destination is resolved once; each address it resolves to must be public (not loopback, private, unique-local,
link-local, a cloud metadata address, multicast, unspecified or reserved) unless the operator allow-lists its
network (OUTBOUND_ALLOWED_NETWORKS). An IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4, ISATAP, NAT64,
Teredo) is judged by the IPv4 address it reaches as well, and the obsolete or opaque forms are refused whole (see
_IPV4_CARRIERS). The connection then goes to the vetted address itself, so a second DNS answer can never swap in
another host (DNS rebinding), while TLS still checks the certificate for the name (SNI and Host carry the name).
Redirects are never followed blindly: each target is vetted again, at most MAX_REDIRECTS of them.

Built on the standard library (http.client, ssl, socket) rather than urllib3: the only hook needed is "connect to
this address, verify that name", which http.client exposes through one overridable method, whereas urllib3 would
need its pool and DNS internals patched to the same effect, and is here only as boto3's transitive dependency.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Cloud instance-metadata services: refused even when an allow-listed network contains them, because no
# legitimate destination of this platform lives there and they hand out credentials.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)
_READ_CHUNK = 64 * 1024


class OutboundError(Exception):
    """A destination was refused or did not answer properly. The message never carries the upstream body."""


class DestinationRefused(OutboundError):
    """The destination's address is one the platform must not reach (SSRF guard), or its URL is malformed."""


# --- settings (typed accessors, defaults in one place) ---


def allowed_networks() -> tuple[IPNetwork, ...]:
    """Networks the operator allows despite being non-public (for example an internal SIEM on 10.0.0.0/8)."""
    raw = getattr(settings, "OUTBOUND_ALLOWED_NETWORKS", []) or []
    return tuple(ipaddress.ip_network(str(entry).strip(), strict=False) for entry in raw if str(entry).strip())


def default_timeout() -> float:
    return float(getattr(settings, "OUTBOUND_TIMEOUT_SECONDS", 10))


def default_max_response_bytes() -> int:
    return int(getattr(settings, "OUTBOUND_MAX_RESPONSE_BYTES", 1024 * 1024))


# --- address vetting ---


@dataclass(frozen=True)
class _IPv4Carrier:
    """An IPv6 range whose addresses can deliver to an IPv4 address: where that address sits, and what to do."""

    label: str
    network: ipaddress.IPv6Network
    # The IPv4 address an address of the range reaches, where its place is fixed; vetted like any other address.
    embedded: Callable[[ipaddress.IPv6Address], ipaddress.IPv4Address | None] | None
    # Refuse the range itself, unless an allow-list entry inside it names the address. For ranges whose embedding
    # cannot be read, or that are obsolete or client-only: no destination of this platform lives there.
    whole: bool
    exempt: frozenset[ipaddress.IPv6Address] = frozenset()


def _low32(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _teredo_client(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    return address.teredo[1] if address.teredo else None


def _isatap(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # RFC 5214: the interface id is 00-00-5E-FE (the u/g bits of its first octet may be set) then the IPv4 address.
    return _low32(address) if (int(address) >> 32) & 0xFCFFFFFF == 0x00005EFE else None


# Why each is handled as it is (the IPv4 address is always vetted first when its place is known, so an allow-list
# entry for the IPv6 range can never let through an address that reaches loopback, a private network or metadata):
# - IPv4-mapped: a dual-stack socket connects to the IPv4 address itself, so that address decides, as before.
# - 6to4 (RFC 3056, deprecated by RFC 7526): relays, or the host's own tunnel, deliver to the embedded address;
#   a 6to4 address of a public host is still a global address, so the range is not refused whole.
# - ISATAP (RFC 5214), under any prefix: the tunnel endpoint is the embedded address; checked, not refused whole,
#   since the interface id can occur in a global address.
# - NAT64 well-known prefix (RFC 6052): the gateway forwards to the embedded address, which that RFC forbids to be
#   private anyway. Refused whole too (it was already, as reserved): only an IPv6-only deployment behind NAT64
#   needs it, and it allow-lists 64:ff9b::/96, which still never opens a non-public embedded address.
# - Teredo (RFC 4380): reaches the client's (inverted) address through a NAT; a client tunnel, never a server's.
# - Local-use NAT64 (RFC 8215): where the IPv4 address sits depends on the operator's prefix length, so it cannot
#   be read; refused whole unless allow-listed by an entry inside it (the operator then vouches for the gateway).
# - IPv4-compatible (RFC 4291, deprecated) and IPv4-translated (RFC 2765, obsoleted): nothing legitimate uses them
#   any more, and old stacks tunnel them to the embedded address; refused whole (:: and ::1 keep their own reasons).
# 6rd and network-specific NAT64 prefixes are operator-chosen and look like any global address: they cannot be
# recognised here; an operator who runs one must not allow-list its prefix.
_IPV4_CARRIERS = (
    _IPv4Carrier("an IPv4-mapped address", ipaddress.IPv6Network("::ffff:0:0/96"), lambda a: a.ipv4_mapped, False),
    _IPv4Carrier("a 6to4 address", ipaddress.IPv6Network("2002::/16"), lambda a: a.sixtofour, False),
    _IPv4Carrier("an ISATAP address", ipaddress.IPv6Network("::/0"), _isatap, False),
    _IPv4Carrier("a NAT64 address", ipaddress.IPv6Network("64:ff9b::/96"), _low32, True),
    _IPv4Carrier("a Teredo address", ipaddress.IPv6Network("2001::/32"), _teredo_client, True),
    _IPv4Carrier("a local-use NAT64 address", ipaddress.IPv6Network("64:ff9b:1::/48"), None, True),
    _IPv4Carrier(
        "an IPv4-compatible address",
        ipaddress.IPv6Network("::/96"),
        None,
        True,
        exempt=frozenset({ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")}),
    ),
    _IPv4Carrier("an IPv4-translated address", ipaddress.IPv6Network("::ffff:0:0:0/96"), None, True),
)


def _allow_listed_within(address: ipaddress.IPv6Address, network: ipaddress.IPv6Network) -> bool:
    # Only an entry inside the range opens it: a broad entry (::/0) was never a decision about this range.
    return any(
        isinstance(entry, ipaddress.IPv6Network) and entry.subnet_of(network) and address in entry
        for entry in allowed_networks()
    )


def _carried_refusal(address: ipaddress.IPv6Address) -> str | None:
    for carrier in _IPV4_CARRIERS:
        if address not in carrier.network or address in carrier.exempt:
            continue
        embedded = carrier.embedded(address) if carrier.embedded else None
        if embedded is not None:
            inner = _refusal_reason(embedded)
            if inner is not None:
                return f"{carrier.label} embedding {embedded} ({inner})"
        if carrier.whole and not _allow_listed_within(address, carrier.network):
            return carrier.label
    return None


def _refusal_reason(address: IPAddress) -> str | None:
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if isinstance(address, ipaddress.IPv6Address):
        carried = _carried_refusal(address)
        if carried is not None:
            return carried
        if address.ipv4_mapped is not None:
            return None  # the socket connects to the IPv4 address, which passed just now
    if any(address in network for network in allowed_networks()):
        return None
    checks = (
        ("an unspecified address", address.is_unspecified),
        ("a loopback address", address.is_loopback),
        ("a link-local address", address.is_link_local),
        ("a multicast address", address.is_multicast),
        ("a reserved address", address.is_reserved),
        ("a private address", address.is_private),
        ("not globally routable", not address.is_global),
    )
    for reason, hit in checks:
        if hit:
            return reason
    return None


def vet_address(address: str) -> IPAddress:
    """The address, if the platform may connect to it; DestinationRefused otherwise."""
    parsed = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    reason = _refusal_reason(parsed)
    if reason is not None:
        raise DestinationRefused(f"Refused to connect to {parsed}: {reason}.")
    return parsed


def resolve(host: str, port: int) -> IPAddress:
    """Resolve `host` once and return the address to connect to; every address it resolves to must pass.

    Requiring all of them (not just one) means a name cannot mix a public decoy with an internal target.
    """
    if not host:
        raise DestinationRefused("The destination has no host.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundError(f"Could not resolve {host!r}.") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise OutboundError(f"Could not resolve {host!r}.")
    vetted = [vet_address(address) for address in addresses]
    return vetted[0]


# --- raw TCP (syslog) ---


def _connect(address: IPAddress, port: int, timeout: float) -> socket.socket:
    """A TCP socket to exactly this address: no name, so nothing can be looked up (or rebound) on the way."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


def open_tcp(
    host: str, port: int, *, timeout: float | None = None, tls: bool = False, context: ssl.SSLContext | None = None
) -> socket.socket:
    """A connected socket to a vetted address of `host` (with TLS verified for `host` when asked)."""
    if not 0 < port < 65536:
        raise DestinationRefused("The destination port is out of range.")
    address = resolve(host, port)
    timeout = default_timeout() if timeout is None else timeout
    try:
        sock = _connect(address, port, timeout)
        if tls:
            sock = (context or ssl.create_default_context()).wrap_socket(sock, server_hostname=host)
    except (OSError, ssl.SSLError) as exc:
        raise OutboundError(f"Could not connect to {host}:{port} ({type(exc).__name__}).") from exc
    return sock


# --- HTTP ---


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    url: str
    origin: tuple[str, str, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "origin", (self.scheme, self.host.lower(), self.port))


def _parse(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise DestinationRefused("The destination URL is malformed.") from exc
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused("Only http and https destinations are allowed.")
    if parts.username is not None or parts.password is not None:
        raise DestinationRefused("Credentials in the URL are not allowed; use a header.")
    host = parts.hostname or ""
    if not host:
        raise DestinationRefused("The destination URL has no host.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path, url)


def _connection(
    target: _Target, address: IPAddress, timeout: float, context: ssl.SSLContext | None
) -> http.client.HTTPConnection:
    """An http.client connection to `target`'s name that opens its socket to the vetted address only."""
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=context or ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    def create_connection(_address: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
        # http.client would resolve the name again here; the vetted address is used instead. HTTPSConnection
        # wraps the returned socket with server_hostname=target.host, so SNI and the certificate check keep the name.
        return _connect(address, target.port, timeout)

    connection._create_connection = create_connection  # type: ignore[attr-defined]
    return connection


def _read_capped(response: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise OutboundError("The destination took too long to answer.")
        chunk = response.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise OutboundError(f"The response exceeded {limit} bytes.")
        chunks.append(chunk)


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    max_response_bytes: int | None = None,
    max_redirects: int = MAX_REDIRECTS,
    context: ssl.SSLContext | None = None,
) -> Response:
    """Send one HTTP request to a vetted address, following at most `max_redirects` vetted redirects."""
    timeout = default_timeout() if timeout is None else timeout
    limit = default_max_response_bytes() if max_response_bytes is None else max_response_bytes
    deadline = time.monotonic() + timeout * (max_redirects + 1)
    sent_headers = dict(headers or {})
    target = _parse(url)
    origin = target.origin
    for hop in range(max_redirects + 1):
        address = resolve(target.host, target.port)
        connection = _connection(target, address, timeout, context)
        try:
            connection.request(method, target.path, body=body, headers=sent_headers)
            response = connection.getresponse()
            location = response.getheader("Location")
            if response.status in REDIRECT_STATUSES and location:
                response.read(limit)  # drain (bounded) so the connection closes cleanly; the body is never used
            else:
                content = _read_capped(response, limit, deadline)
                return Response(
                    status=response.status,
                    headers={k.lower(): v for k, v in response.getheaders()},
                    body=content,
                    url=target.url,
                )
        except OutboundError:
            raise
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            raise OutboundError(f"Request to {target.host}:{target.port} failed ({type(exc).__name__}).") from exc
        finally:
            connection.close()
        if hop == max_redirects:
            break
        target = _parse(urljoin(target.url, location))
        if response.status == 303 or (response.status in (301, 302) and method not in ("GET", "HEAD")):
            method, body = "GET", None
            sent_headers = {
                k: v for k, v in sent_headers.items() if k.lower() not in ("content-type", "content-length")
            }
        if target.origin != origin:
            # Credentials meant for one origin never travel to another.
            sent_headers = {k: v for k, v in sent_headers.items() if k.lower() not in ("authorization", "cookie")}
    raise OutboundError(f"Too many redirects (more than {max_redirects}).")
