"""The one way to enqueue a task: after the current transaction commits, never inside it.

A message sent inside an open transaction can reach a worker before the rows it names exist, or after they were
rolled back; PostgreSQL stays the source of truth and a message is only ever a nudge.
"""

from functools import partial
from typing import Any

from django.core.cache import cache
from django.db import transaction

from config.celery import app
from core import worker_config as config


def _send(task_name: str, args: tuple[Any, ...]) -> None:
    app.tasks[task_name].apply_async(args=args)


def _send_later(task_name: str, args: tuple[Any, ...], countdown: float) -> None:
    app.tasks[task_name].apply_async(args=args, countdown=countdown)


def enqueue_on_commit(task_name: str, *args: Any) -> None:
    """Queue `task_name(*args)` once the surrounding transaction commits (immediately if there is none)."""
    transaction.on_commit(partial(_send, task_name, args))


def enqueue_later(task_name: str, *args: Any, countdown: float) -> None:
    """Queue `task_name(*args)` to run `countdown` seconds after the surrounding transaction commits, the wait cut
    to core.worker_config.longest_countdown(): a longer one would outlast the broker's visibility timeout, and the
    message would be handed to a second worker while the first still waits to run it."""
    wait = max(0.0, min(float(countdown), config.longest_countdown()))
    transaction.on_commit(partial(_send_later, task_name, args, wait))


def enqueue_coalesced(task_name: str, *args: Any, within_seconds: int, countdown: float | None = None) -> bool:
    """Queue `task_name(*args)` after commit at most once every `within_seconds` for the same arguments; returns
    whether this call queued it. With `countdown`, the run waits that long (enqueue_later), so that it also sees
    the work of every call coalesced into it.

    Under a stream of submits every one of them would otherwise enqueue its own run of the same task (a project's
    dispatch, its agreement recompute).
    """
    if not cache.add(f"enqueue:{task_name}:{':'.join(map(str, args))}", 1, timeout=within_seconds):
        return False
    if countdown is None:
        enqueue_on_commit(task_name, *args)
    else:
        enqueue_later(task_name, *args, countdown=countdown)
    return True
