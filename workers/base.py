"""The decorator every Celery task goes through: name, retries, time limits and the tenant context."""

import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from celery import Task as CeleryTask

from audit.context import ActorContext, actor_context
from config.celery import app
from tenancy.context import no_organization, organization_context

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Failures a retry can fix: the database or broker was briefly away. Anything else is a bug or bad data.
from django.db import InterfaceError, OperationalError  # noqa: E402

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, ConnectionError)


def tenant_task(
    name: str, *, soft_time_limit: int = 300, max_retries: int = 5
) -> Callable[[Callable[..., R]], CeleryTask[Any, Any]]:
    """Register a task whose first argument is the organization id; the body runs inside that tenant only.

    The organization is always passed explicitly: a task never inherits whatever tenant its caller had.
    """

    def decorator(func: Callable[..., R]) -> CeleryTask[Any, Any]:
        @app.task(
            name=name,
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            soft_time_limit=soft_time_limit,
            time_limit=soft_time_limit + 30,
            autoretry_for=TRANSIENT_ERRORS,
            retry_backoff=True,
            retry_jitter=True,
            max_retries=max_retries,
        )
        def run(self: CeleryTask[Any, Any], organization_id: int, *args: Any, **kwargs: Any) -> R:
            actor = ActorContext(user_label=f"system:{name}", request_id=str(self.request.id or ""))
            with no_organization(), actor_context(actor), organization_context(organization_id):
                return func(*args, **kwargs)

        return run

    return decorator


def platform_task(name: str, *, soft_time_limit: int = 300) -> Callable[[Callable[..., R]], CeleryTask[Any, Any]]:
    """Register a task that spans organizations (a beat fan-out); it must enter each tenant itself."""

    def decorator(func: Callable[..., R]) -> CeleryTask[Any, Any]:
        @app.task(
            name=name,
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            soft_time_limit=soft_time_limit,
            time_limit=soft_time_limit + 30,
        )
        def run(self: CeleryTask[Any, Any], *args: Any, **kwargs: Any) -> R:
            with no_organization():
                return func(*args, **kwargs)

        return run

    return decorator
