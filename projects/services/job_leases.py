"""Leases on import and export jobs: which worker runs a job, renewed by that worker's heartbeat.

A job's message can reach a second worker while the first still runs it: the broker hands out again a message
not acknowledged within its visibility timeout, and a long job outlasts that on purpose (so that a dead worker's
messages come back within minutes). Whoever takes a job's lease runs it; a message that finds the lease held and
fresh leaves the job to that worker, and takes it over once the lease has gone stale (its worker stopped renewing
it: killed, or cut off from the database). Every time is the database's own clock, so workers' clocks never
matter. Called inside the job's tenant.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q
from django.db.models.functions import Now

from projects.models import ExportJob, ImportJob, JobState

JobModel = type[ImportJob] | type[ExportJob]
_OPEN_STATES = (JobState.PENDING, JobState.RUNNING)


@dataclass(frozen=True)
class LeaseAttempt:
    """The outcome of asking for a job's lease."""

    taken: bool
    # When not taken: seconds until the holder's lease runs out, or None when the job has ended (or is gone).
    held_for: float | None = None


def job_lease_take(model: JobModel, *, job_id: int, holder: str, seconds: int) -> LeaseAttempt:
    """Lease an open job to `holder` for `seconds`, unless another holder's lease is still running."""
    free = (
        Q(lease_holder="") | Q(lease_holder=holder) | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=Now())
    )
    taken = (
        model.objects.filter(pk=job_id, state__in=_OPEN_STATES)
        .filter(free)
        .update(lease_holder=holder, lease_expires_at=Now() + timedelta(seconds=seconds))
    )
    if taken:
        return LeaseAttempt(taken=True)
    row = (
        model.objects.filter(pk=job_id, state__in=_OPEN_STATES)
        .annotate(now=Now())
        .values_list("lease_expires_at", "now")
        .first()
    )
    if row is None:
        return LeaseAttempt(taken=False)
    expires_at, now = row
    if expires_at is None:  # released between the two statements: the next message about the job takes it
        return LeaseAttempt(taken=False, held_for=0.0)
    return LeaseAttempt(taken=False, held_for=max(0.0, (expires_at - now).total_seconds()))


def job_lease_renew(model: JobModel, *, job_id: int, holder: str, seconds: int) -> bool:
    """The holder's heartbeat: push its lease `seconds` on. False when the lease is no longer its own."""
    renewed = model.objects.filter(pk=job_id, lease_holder=holder).update(
        lease_expires_at=Now() + timedelta(seconds=seconds)
    )
    return bool(renewed)


def job_lease_release(model: JobModel, *, job_id: int, holder: str) -> None:
    """Give the job's lease back (the run ended, or handed over to its next time slice)."""
    model.objects.filter(pk=job_id, lease_holder=holder).update(lease_holder="", lease_expires_at=None)
