"""Typed accessors for the workers' settings."""

from django.conf import settings


def visibility_timeout() -> int:
    """Seconds before the broker hands a message its worker never acknowledged to another worker."""
    return max(1, int(getattr(settings, "CELERY_VISIBILITY_TIMEOUT_SECONDS", 300)))


def longest_countdown() -> float:
    """The longest a message may be delayed (countdown): half the visibility timeout.

    A delayed message is delivered at once and held, unacknowledged, by the worker that waits out its countdown; a
    countdown past the visibility timeout would have the broker hand it to a second worker meanwhile, and both
    would run it. Longer waits (retry back-off) are cut to this.
    """
    return visibility_timeout() / 2


def job_lease_seconds() -> int:
    """Seconds an import or export job stays leased without a heartbeat from its worker."""
    return max(3, int(getattr(settings, "WORKER_JOB_LEASE_SECONDS", 60)))
