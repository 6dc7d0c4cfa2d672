"""Following a job on the server until it ends, with a progress bar."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from annotate_cli.client import ServerUnreachable
from annotate_cli.progress import ProgressBar

RUNNING_STATES = ("pending", "running")


def pause(seconds: float) -> None:
    time.sleep(seconds)


def follow(
    fetch: Callable[[], dict[str, Any]],
    bar: ProgressBar,
    *,
    interval: float,
    measure: Callable[[dict[str, Any]], tuple[float, float | None, str]],
) -> dict[str, Any]:
    """Poll `fetch()` every `interval` seconds while the job is pending or running; return its final form.
    `measure(job)` gives (done, total or None, note) for the bar."""
    job = fetch()
    while True:
        done, total, note = measure(job)
        bar.update(done, total, note)
        if job.get("state") not in RUNNING_STATES:
            bar.finish(str(job.get("state", "")))
            return job
        pause(interval)
        job = fetch()


@contextmanager
def resumable(hint: str) -> Iterator[None]:
    """Around the part of a command that a later `--resume` can pick up: losing the server there stops the command
    but not the job, so the message says how to carry on."""
    try:
        yield
    except ServerUnreachable as exc:
        exc.hint = hint
        raise
