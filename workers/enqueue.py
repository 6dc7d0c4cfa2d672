"""The one way to enqueue a task: after the current transaction commits, never inside it.

A message sent inside an open transaction can reach a worker before the rows it names exist, or after they were
rolled back; PostgreSQL stays the source of truth and a message is only ever a nudge.
"""

from functools import partial
from typing import Any

from django.db import transaction


def _send(task_name: str, args: tuple[Any, ...]) -> None:
    from config.celery import app

    app.tasks[task_name].apply_async(args=args)


def enqueue_on_commit(task_name: str, *args: Any) -> None:
    """Queue `task_name(*args)` once the surrounding transaction commits (immediately if there is none)."""
    transaction.on_commit(partial(_send, task_name, args))
