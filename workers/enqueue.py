"""The one way to enqueue a task: after the current transaction commits, never inside it.

A message sent inside an open transaction can reach a worker before the rows it names exist, or after they were
rolled back; PostgreSQL stays the source of truth and a message is only ever a nudge.
"""

from functools import partial
from typing import Any

from django.db import transaction

from workers import config


def _send(task_name: str, args: tuple[Any, ...]) -> None:
    from config.celery import app

    app.tasks[task_name].apply_async(args=args)


def _send_later(task_name: str, args: tuple[Any, ...], countdown: float) -> None:
    from config.celery import app

    app.tasks[task_name].apply_async(args=args, countdown=countdown)


def enqueue_on_commit(task_name: str, *args: Any) -> None:
    """Queue `task_name(*args)` once the surrounding transaction commits (immediately if there is none)."""
    transaction.on_commit(partial(_send, task_name, args))


def enqueue_later(task_name: str, *args: Any, countdown: float) -> None:
    """Queue `task_name(*args)` to run `countdown` seconds after the surrounding transaction commits, the wait cut
    to workers.config.longest_countdown(): a longer one would outlast the broker's visibility timeout, and the
    message would be handed to a second worker while the first still waits to run it."""
    wait = max(0.0, min(float(countdown), config.longest_countdown()))
    transaction.on_commit(partial(_send_later, task_name, args, wait))


def dispatch_soon(*, organization_id: int, project_id: int, within_seconds: int = 5) -> None:
    """Ask for a dispatch of the project, coalescing bursts: at most one message per project every few seconds.

    Under a stream of submits every one of them would otherwise enqueue its own dispatch of the same project.
    """
    from django.core.cache import cache

    if cache.add(f"routing:dispatch:{organization_id}:{project_id}", 1, timeout=within_seconds):
        enqueue_on_commit("routing.dispatch", organization_id, project_id)
