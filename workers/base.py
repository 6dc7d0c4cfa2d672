"""The decorator every Celery task goes through: name, retries, time limits and the tenant context."""

import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from celery import Task as CeleryTask
from celery.exceptions import Ignore
from celery.utils.time import get_exponential_backoff_interval
from django.db import connection

from config.celery import app
from core import worker_config as config
from core.audit.context import ActorContext, actor_context
from core.context import no_organization, organization_context
from core.faults import Fault, fault_classify

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# The longest wait between two attempts of a tenant task, in seconds.
RETRY_BACKOFF_MAX = 600


def retry_transient(task: CeleryTask[Any, Any], exc: Exception, *, max_retries: int, countdown: float) -> Fault:
    """Have Celery run `task` again in `countdown` seconds when `exc` is a fault a retry can fix and attempts
    remain (this raises Celery's Retry); otherwise return the fault, for the caller to fail with its cause.

    Every task that retries comes through here, so what counts as transient is decided once (core.faults).
    """
    fault = fault_classify(exc)
    retries = int(task.request.retries or 0)
    # A retry is a delayed message: it must not outwait the broker's visibility timeout (core.worker_config).
    countdown = min(countdown, config.longest_countdown())
    if fault.transient and retries < max_retries:
        logger.warning(
            "task.retrying",
            extra={"task": task.name, "attempt": retries + 1, "countdown": countdown, "cause": fault.cause},
        )
        raise task.retry(exc=exc, countdown=countdown, max_retries=max_retries) from exc
    return fault


# Take the transaction-level advisory lock of one task id, if no other transaction holds it; two 32-bit halves of
# the id, so that two different tasks practically never share a lock. No table.
_TASK_RUN_LOCK = "SELECT pg_try_advisory_xact_lock(hashtext(%(task_id)s), hashtext(%(task_key)s))"


def _first_run_of(task: CeleryTask[Any, Any]) -> bool:
    """False when this very message (its task id) is being run already: the broker handed it out again because
    the run outlasted the visibility timeout. A tenant task runs in one transaction, so a transaction-level
    advisory lock on its id says whether that run is still going; it goes with the run, or with a dead worker's
    connection. The copy is then dropped: every tenant task is idempotent, and the periodic ones come back with
    beat."""
    task_id = str(task.request.id or "")
    if not task_id:
        return True
    with connection.cursor() as cursor:
        cursor.execute(_TASK_RUN_LOCK, {"task_id": task_id, "task_key": f"task:{task_id}"})
        row = cursor.fetchone()
    if row and row[0]:
        return True
    logger.warning("task.redelivered_while_running", extra={"task": task.name, "task_id": task_id})
    return False


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
            max_retries=max_retries,
        )
        def run(self: CeleryTask[Any, Any], organization_id: int, *args: Any, **kwargs: Any) -> R:
            actor = ActorContext(user_label=f"system:{name}", request_id=str(self.request.id or ""))
            try:
                with no_organization(), actor_context(actor), organization_context(organization_id):
                    if not _first_run_of(self):
                        raise Ignore()
                    return func(*args, **kwargs)
            except Ignore:
                raise
            except Exception as exc:
                # Exponential, with full jitter, so that the tasks a database restart failed do not all come back
                # in the same second.
                countdown = get_exponential_backoff_interval(
                    factor=1, retries=int(self.request.retries or 0), maximum=RETRY_BACKOFF_MAX, full_jitter=True
                )
                retry_transient(self, exc, max_retries=max_retries, countdown=countdown)
                raise  # not one a retry can fix, or the last attempt: the task fails with it

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
