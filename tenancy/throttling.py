"""Failed credentials, counted and held back.

- Passwords on the sign-in page and invitation secrets (the page and the API) go through django-axes, configured in
  config/settings/base.py: each failure is counted against the account it names (when it names one) and against
  the client address, in the database the platform already runs on; past the limit, both are refused for the
  cool-off, the right password too. A wrong invitation secret names no account, so it counts against its address
  alone.
- API bearer tokens are held back by a DRF throttle of their own, per client address. A script still using a
  revoked token then slows only the API calls from its address, and never locks the people behind that address
  out of signing in, as sharing axes' counter would.

The client address is the proxy-aware one the audit trail records (core.middleware.client_ip), never an entry of
X-Forwarded-For the client wrote itself.
"""

import math
from datetime import timedelta
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessBase
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from core.middleware import client_ip

API_PATH = "/api/"
LOCKED_OUT = "Too many failed attempts from this address."
TOKEN_FAILURES = "Too many failed authentication attempts from this address."  # noqa: S105 - a message


def attempt_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the account an attempt names, spelled as stored (addresses are kept lowercase), so
    that `Ada@Example.org` and `ada@example.org` share one count. None when it names none."""
    named = str((credentials or {}).get("username") or "").strip().lower()
    return named or None


def lockout_parameters(request_or_attempt: HttpRequest | AccessBase, credentials: dict[str, Any] | None) -> list[str]:
    """AXES_LOCKOUT_PARAMETERS: every attempt counts against its client address, and against its account when it
    names one. Spraying guesses over many accounts from one address is stopped by the first, guessing one account's
    password from many addresses (a botnet, a rotating IPv6 prefix) by the second. An attempt naming no account
    must not count against "the account None": axes would pool every such attempt of every client into it."""
    if isinstance(request_or_attempt, AccessBase):
        username = request_or_attempt.username
    else:
        username = attempt_username(request_or_attempt, credentials)
    return ["username", "ip_address"] if username else ["ip_address"]


def attempts_allowed(request: HttpRequest, *, username: str | None = None) -> bool:
    """Whether the client (and the account, if named) may present a credential now."""
    return bool(AxesProxyHandler.is_allowed(request, {"username": username}))


def attempt_failed(request: HttpRequest, *, username: str | None = None) -> None:
    """Count a failed credential as a failed sign-in is counted (the signal axes listens to). When this failure
    reaches the limit, axes marks the request, and its middleware answers it with `lockout_response` instead. Call
    it outside any transaction that the failure's answer rolls back, or the count goes with it."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def lockout_wait(request: HttpRequest, *, username: str | None = None) -> int:
    """Seconds until a lock lifts: the cool-off, counted from the latest failure that holds it (a locked client's
    further attempts are not counted, so hammering does not prolong it)."""
    cool_off: timedelta = get_cool_off(request)
    handler = AxesProxyHandler.get_implementation()
    dated = []
    if hasattr(handler, "get_user_attempts"):  # the database handler's failures, each with its latest time
        for attempts in handler.get_user_attempts(request, {"username": username}):
            dated.append(attempts.aggregate(latest=Max("attempt_time"))["latest"])
    latest = max((when for when in dated if when is not None), default=None)
    remaining = (latest + cool_off - timezone.now()) if latest is not None else cool_off
    return max(1, math.ceil(remaining.total_seconds()))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE, and the invitation page's answer while locked: a plain page, 429, and when to retry.
    It says the same whether or not the account named exists."""
    wait = lockout_wait(request, username=attempt_username(request, credentials))
    response: HttpResponse
    if request.path.startswith(API_PATH):
        # The API's error shape, worded as DRF words any throttled request (the invitation's accept route).
        detail = str(Throttled(wait=wait, detail=LOCKED_OUT).detail)
        response = JsonResponse({"detail": detail, "code": "throttled", "errors": []}, status=429)
    else:
        response = render(request, "tenancy/locked_out.html", {"minutes": math.ceil(wait / 60)}, status=429)
    response["Retry-After"] = str(wait)
    return response


def locked_out(request: HttpRequest, *, username: str | None = None) -> Throttled:
    """The API's answer while locked: 429 with Retry-After, in the API's error shape."""
    return Throttled(wait=lockout_wait(request, username=username), detail=LOCKED_OUT)


class TokenFailureThrottle(SimpleRateThrottle):
    """Refused bearer tokens per client address (`API_THROTTLE_TOKEN_FAILURES`). Unlike DRF's throttles it counts
    failures only, so the checking and the counting are two calls: `held_back` before a token is looked at, and
    `failure_record` after one is refused."""

    scope = "token_failure"
    num_requests: int  # set from the rate by DRF
    duration: int

    def get_cache_key(self, request: Request | HttpRequest, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(_django_request(request)) or ""}

    def _recent(self, request: Request | HttpRequest) -> None:
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()

    def held_back(self, request: Request | HttpRequest) -> Throttled | None:
        """The refusal to raise while the address has used up its failures (even for a good token, or guessing
        would carry on, told apart by its answers); None otherwise. Counts nothing."""
        self._recent(request)
        if len(self.history) < self.num_requests:
            return None
        return Throttled(wait=self.wait(), detail=TOKEN_FAILURES)

    def failure_record(self, request: Request | HttpRequest) -> None:
        self._recent(request)
        self.throttle_success()  # DRF's name for "note this request in the window"


def _django_request(request: Request | HttpRequest) -> HttpRequest:
    return request._request if isinstance(request, Request) else request
