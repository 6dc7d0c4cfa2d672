"""Typed accessors for the annotation app's settings."""

from django.conf import settings


def result_max_bytes() -> int:
    """Largest serialized annotation result."""
    return int(getattr(settings, "ANNOTATION_RESULT_MAX_BYTES", 512 * 1024))


def gold_min_samples() -> int:
    """Gold tasks scored before an annotator can be paused for low accuracy: one miss must not pause anyone."""
    return int(getattr(settings, "ANNOTATION_GOLD_MIN_SAMPLES", 5))


def dispatch_queue_size() -> int:
    """Tasks the dispatcher keeps queued per active annotator and project."""
    return int(getattr(settings, "ROUTING_QUEUE_SIZE", 3))


def dispatch_active_window_seconds() -> int:
    """An annotator counts as active (worth queueing for) if seen on the project this recently."""
    return int(getattr(settings, "ROUTING_ACTIVE_WINDOW_SECONDS", 15 * 60))


def queued_ttl_seconds() -> int:
    """A task the dispatcher queued for someone who does not come back returns to the pool after this long."""
    return int(getattr(settings, "ROUTING_QUEUED_TTL_SECONDS", 30 * 60))


def reaper_batch() -> int:
    """Leases expired per statement by the reaper."""
    return 1000
