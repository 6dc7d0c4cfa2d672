"""Typed accessors for the tenancy app's settings, with their defaults in one place."""

from datetime import timedelta
from pathlib import Path

from django.conf import settings


def invitation_ttl() -> timedelta:
    return timedelta(hours=int(getattr(settings, "TENANCY_INVITATION_TTL_HOURS", 72)))


def token_touch_interval() -> timedelta:
    """How stale `last_used_at` may get before a request refreshes it (one write per token per interval)."""
    return timedelta(seconds=int(getattr(settings, "TENANCY_TOKEN_TOUCH_SECONDS", 60)))


def public_url() -> str:
    return str(getattr(settings, "PUBLIC_URL", "http://127.0.0.1:8000"))


# Django's backends that keep mail on this machine: the embedded default writes invitations to files under
# EMAIL_FILE_PATH (or prints them on the worker's console). Compared by exact class path, so that SMTP, a
# provider's backend or anything unknown counts as mail that really leaves, and gets none of what these allow.
FILE_MAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
LOCAL_MAIL_BACKENDS = frozenset({FILE_MAIL_BACKEND, "django.core.mail.backends.console.EmailBackend"})


def mail_stays_local() -> bool:
    """Whether no mail leaves this machine, so an admin must hand invitation links over themselves."""
    return str(getattr(settings, "EMAIL_BACKEND", "")) in LOCAL_MAIL_BACKENDS


def mail_file_path() -> Path | None:
    """The folder the file-based mail backend writes to, when that is the backend; else None."""
    folder = getattr(settings, "EMAIL_FILE_PATH", None)
    if str(getattr(settings, "EMAIL_BACKEND", "")) != FILE_MAIL_BACKEND or not folder:
        return None
    return Path(folder)
