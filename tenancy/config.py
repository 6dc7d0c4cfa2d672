"""Typed accessors for the tenancy app's settings, with their defaults in one place."""

from datetime import timedelta

from django.conf import settings


def invitation_ttl() -> timedelta:
    return timedelta(hours=int(getattr(settings, "TENANCY_INVITATION_TTL_HOURS", 72)))


def token_touch_interval() -> timedelta:
    """How stale `last_used_at` may get before a request refreshes it (one write per token per interval)."""
    return timedelta(seconds=int(getattr(settings, "TENANCY_TOKEN_TOUCH_SECONDS", 60)))


def public_url() -> str:
    return str(getattr(settings, "PUBLIC_URL", "http://127.0.0.1:8000"))
