"""`Authorization: Bearer <token>` for the API; the UI uses Django sessions.

Refused tokens count against the client address (tenancy.throttling.TokenFailureThrottle): past the limit, the
address is answered 429 before any token it sends is looked at.
"""

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from core.audit.record import audit_record_denied
from tenancy.models import ApiToken, User
from tenancy.selectors import api_token_authenticate
from tenancy.throttling import TokenFailureThrottle

_INVALID = "Invalid, expired or revoked token."


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        throttle = TokenFailureThrottle()
        held_back = throttle.held_back(request)
        if held_back is not None:
            raise held_back
        try:
            return self._authenticate(parts)
        except AuthenticationFailed:
            throttle.failure_record(request)
            raise

    def _authenticate(self, parts: list[bytes]) -> tuple[User, ApiToken]:
        if len(parts) != 2:
            raise AuthenticationFailed("Malformed Authorization header: expected 'Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise AuthenticationFailed(_INVALID) from exc
        token = api_token_authenticate(raw=raw)
        if token is None:
            raise AuthenticationFailed(_INVALID)
        if not token.is_usable() or not token.membership.user.is_active:
            if token.revoked_at:
                reason = "revoked"
            elif not token.is_usable():
                reason = "expired"
            else:
                reason = "user_inactive"
            # The organization is known, so the refused use of its credential goes on its trail.
            audit_record_denied(
                organization_id=token.organization_id,
                action="auth.token_rejected",
                target_type="tenancy.apitoken",
                target_id=str(token.uuid),
                metadata={"prefix": token.prefix, "reason": reason},
            )
            raise AuthenticationFailed(_INVALID)
        return token.membership.user, token

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="api"'
