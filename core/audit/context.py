"""Who is acting, and from where: set per request by middleware and the API base view, read by audit_record."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class ActorContext:
    user_id: int | None = None
    user_label: str = ""
    token_prefix: str = ""
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""


# ActorContext is a frozen dataclass, so sharing one default instance is safe.
_actor: ContextVar[ActorContext] = ContextVar("audit_actor", default=ActorContext())  # noqa: B039


def current_actor() -> ActorContext:
    return _actor.get()


def set_actor(**changes: Any) -> None:
    """Refine the current actor (for example once authentication has named the user)."""
    _actor.set(replace(_actor.get(), **changes))


@contextmanager
def actor_context(actor: ActorContext) -> Iterator[None]:
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)
