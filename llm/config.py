"""Typed accessors of the models-in-the-loop settings, defaults in one place."""

from django.conf import settings


def default_max_concurrent() -> int:
    """Calls one project may have running at once unless its budget says otherwise."""
    return int(getattr(settings, "MODEL_DEFAULT_MAX_CONCURRENT", 8))


def default_token_limit() -> int | None:
    """A new project's token allowance; None (the default) means no limit until an admin sets one."""
    value = getattr(settings, "MODEL_DEFAULT_TOKEN_LIMIT", None)
    return None if value in (None, "") else int(value)
