"""Holding an import's or export's lease while a worker runs it, with a heartbeat thread that renews it.

The heartbeat runs in a thread of the process that runs the job, on a database connection of its own: it beats
as long as that process lives, however long one step of the job takes (a merge of a million rows, the upload of a
large file), and stops with it (kill -9, the hard time limit). So a lease goes stale exactly when its worker is
gone, and a message delivered again meanwhile (projects.services.job_leases) can tell a live holder from a dead one.
"""

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections

from core import worker_config as config
from core.context import organization_context
from projects.services.job_leases import JobModel, job_lease_release, job_lease_renew, job_lease_take

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobLease:
    """What asking for a job's lease gave: None, run the job; or the seconds another, live, worker still holds it
    for, and the job must be left to it."""

    held_elsewhere_for: float | None


class _Heartbeat(threading.Thread):
    def __init__(self, model: JobModel, organization_id: int, job_id: int, holder: str, seconds: int) -> None:
        super().__init__(name=f"lease-heartbeat-{job_id}", daemon=True)
        self.model, self.organization_id, self.job_id = model, organization_id, job_id
        self.holder, self.seconds = holder, seconds
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.seconds / 3):
                try:
                    with organization_context(self.organization_id):
                        renewed = job_lease_renew(
                            self.model, job_id=self.job_id, holder=self.holder, seconds=self.seconds
                        )
                except Exception:
                    # The database may be back at the next beat; the lease outlives two missed ones.
                    logger.exception("job.lease_heartbeat_failed", extra=self._fields())
                    continue
                if not renewed:
                    logger.warning("job.lease_lost", extra=self._fields())
                    return
        finally:
            connections.close_all()  # this thread's own connection

    def _fields(self) -> dict[str, object]:
        return {"job_type": self.model._meta.model_name, "job_id": self.job_id, "holder": self.holder}


@contextmanager
def job_lease(model: JobModel, *, organization_id: int, job_id: int) -> Iterator[JobLease]:
    """Take the job's lease for the block and keep it beating; or say how long another live worker holds it.

    A job that has ended is leased to nobody: the block runs without a lease (the runners leave an ended job as it
    is, tidying what it left). The lease is given back when the block ends, before the caller queues what follows.
    """
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"[:128]
    seconds = config.job_lease_seconds()
    with organization_context(organization_id):
        attempt = job_lease_take(model, job_id=job_id, holder=holder, seconds=seconds)
    if not attempt.taken:
        if attempt.held_for is not None:
            logger.info(
                "job.lease_held",
                extra={"job_type": model._meta.model_name, "job_id": job_id, "held_for": round(attempt.held_for, 1)},
            )
        yield JobLease(held_elsewhere_for=attempt.held_for)
        return
    heartbeat = _Heartbeat(model, organization_id, job_id, holder, seconds)
    heartbeat.start()
    try:
        yield JobLease(held_elsewhere_for=None)
    finally:
        heartbeat.stopped.set()
        heartbeat.join(timeout=seconds)
        try:
            with organization_context(organization_id):
                job_lease_release(model, job_id=job_id, holder=holder)
        except Exception:
            # Never hide how the run ended; an unreleased lease only runs out on its own.
            logger.exception("job.lease_not_released", extra={"job_type": model._meta.model_name, "job_id": job_id})
