"""httpx transports that reach only vetted addresses: the outbound rules of core.outbound, for model servers.

The model client (the official `openai` package) speaks HTTP through httpx; these transports sit under it. Each
request's host is resolved once and vetted (loopback, private, link-local and metadata addresses are refused unless
the operator allow-listed the network, OUTBOUND_ALLOWED_NETWORKS); the connection then goes to that address itself,
so a second DNS answer cannot swap in another host, while TLS still verifies the certificate for the name (the SNI
extension carries it) and the Host header still names it. Redirects are not followed: the clients built here never
follow them, and a 3xx reaches the caller as an error.
"""

import asyncio
import functools
import ipaddress
import ssl

import httpx

from core import outbound


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every model call: building one loads the CA bundle, which costs tens of
    milliseconds of CPU, and a stream's transport is built on the event loop, where that would stall every other
    stream of the process. A context is safe to share; it holds no connection state."""
    return httpx.create_ssl_context()


def _pinned(request: httpx.Request, address: str) -> None:
    host = request.url.host
    parsed = ipaddress.ip_address(address)
    request.url = request.url.copy_with(host=str(parsed))
    # httpx wrote the Host header from the original URL when the request was built; TLS needs the name too.
    request.headers["Host"] = host_header(host, request.url.port, request.url.scheme)
    if request.url.scheme == "https":
        request.extensions = {**request.extensions, "sni_hostname": host}


def host_header(host: str, port: int | None, scheme: str) -> str:
    default = 443 if scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    return shown if port in (None, default) else f"{shown}:{port}"


def _port(request: httpx.Request) -> int:
    return request.url.port or (443 if request.url.scheme == "https" else 80)


class VettedTransport(httpx.HTTPTransport):
    """The synchronous transport (Celery jobs: suggestions, the judge)."""

    def __init__(self) -> None:
        super().__init__(verify=tls_context())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        address = outbound.resolve(request.url.host, _port(request))
        _pinned(request, str(address))
        return super().handle_request(request)


class AsyncVettedTransport(httpx.AsyncHTTPTransport):
    """The asynchronous transport (streamed chat under the ASGI server); resolution runs off the event loop."""

    def __init__(self) -> None:
        super().__init__(verify=tls_context())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = await asyncio.to_thread(outbound.resolve, request.url.host, _port(request))
        _pinned(request, str(address))
        return await super().handle_async_request(request)
