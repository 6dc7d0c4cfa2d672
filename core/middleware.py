"""The middleware every request passes: a strict Content-Security-Policy (no inline script, no eval, nothing from
elsewhere) and the per-request audit context (request id, client address and user agent, reset after every
request), with the request's refusals written once its transaction is over."""

import ipaddress
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.audit.context import ActorContext, actor_context
from core.audit.record import audit_denied_after_request


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        return response


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or with N trusted proxies the address the outermost of them saw.

    Only entries appended by the trusted proxies count; anything further left was written by the client.
    """
    proxies = int(settings.TRUSTED_PROXY_COUNT)
    if proxies > 0:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
        if forwarded:
            candidate = forwarded[-min(proxies, len(forwarded))]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        supplied = request.headers.get("X-Request-ID", "")
        request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        actor = ActorContext(
            user_id=user.pk if signed_in else None,  # type: ignore[union-attr]
            user_label=str(user) if signed_in else "",
            ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:512],
            request_id=request_id,
        )
        # The last middleware, so the view's transaction has ended (committed or rolled back) by the time the
        # refusals held during the request are written.
        with actor_context(actor), audit_denied_after_request():
            response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response
