"""Celery entry points. Each is thin: take ids, enter the tenant, call one service or selector."""

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from celery import current_task
from celery.exceptions import SoftTimeLimitExceeded

from annotation import config as routing_config
from annotation.exports import runner as export_runner
from annotation.exports.selectors import export_list
from annotation.selectors.suggestions import suggestion_job_all
from annotation.services.dispatch import project_dispatch, projects_needing_dispatch
from annotation.services.leases import assignments_expire
from annotation.services.suggestions import RunOutcome as SuggestionRunOutcome
from annotation.services.suggestions import suggestion_job_abandon, suggestion_job_run
from audit.services.checkpoints import checkpoint_export_by_id
from audit.services.sealing import audit_seal
from audit.services.streaming import audit_stream_organization, organizations_to_stream
from core import credentials
from core.audit.context import ActorContext, actor_context
from core.context import organization_context
from core.enqueue import enqueue_later, enqueue_on_commit
from llm.services.judge_runner import judge_run_abandon, judge_run_execute
from projects.imports import runner as import_runner
from projects.imports.selectors import import_all
from projects.selectors import project_list, task_with_project
from tenancy.selectors import organization_ids
from tenancy.services.invitations import invitation_mail_send, invitations_purge
from workers.base import platform_task, retry_transient, tenant_task
from workers.leases import job_lease

if TYPE_CHECKING:  # a type only: workers reach jobs through selectors and services
    from projects.models import ImportJob

logger = logging.getLogger(__name__)

INVITATION_RETENTION = timedelta(days=30)


@tenant_task("audit.seal", soft_time_limit=600)
def audit_seal_one() -> int:
    """Seal the organization's new events; safe to run twice at once (the second skips each locked chain)."""
    return audit_seal().events


@tenant_task("audit.checkpoint_export")
def audit_checkpoint_export(checkpoint_id: int) -> str:
    """Copy one new checkpoint to the checkpoint bucket (enqueued by the sealer when a bucket is configured)."""
    return checkpoint_export_by_id(checkpoint_id)


@platform_task("audit.seal_all")
def audit_seal_all() -> None:
    """Beat: one sealing task per organization, each in its own tenant."""
    for organization_id in organization_ids():
        enqueue_on_commit("audit.seal", organization_id)


# A platform task although it acts for one organization: the streamer enters the tenant once per batch, so each
# acknowledged batch commits its cursor at once; tenant_task would hold one transaction (and resend everything on
# a late failure) for the whole run. The organization id still arrives explicitly, never inherited.
@platform_task("audit.stream", soft_time_limit=600)
def audit_stream_one(organization_id: int) -> int:
    """Deliver up to 200 batches of the organization's new events to its SIEM; the next run continues."""
    return audit_stream_organization(organization_id=organization_id, max_batches=200).events


@platform_task("audit.stream_all")
def audit_stream_all() -> None:
    """Beat: one streaming task per organization that has a destination."""
    for organization_id in organizations_to_stream():
        enqueue_on_commit("audit.stream", organization_id)


@tenant_task("tenancy.invitation_send")
def invitation_send(invitation_id: int, sealed_key: str) -> None:
    """Email an invitation link. The secret arrives encrypted: the broker never holds it in clear."""
    invitation_mail_send(invitation_id=invitation_id, raw=credentials.unseal_from_broker(sealed_key))


@tenant_task("tenancy.invitations_purge")
def invitations_purge_one(days: int) -> int:
    return invitations_purge(older_than=timedelta(days=days))


@platform_task("tenancy.invitations_expire")
def invitations_expire() -> None:
    """Beat: fan out one purge per organization, each running in its own tenant."""
    for organization_id in organization_ids():
        enqueue_on_commit("tenancy.invitations_purge", organization_id, INVITATION_RETENTION.days)


@tenant_task("routing.reap")
def routing_reap_one() -> int:
    """Expire the organization's lapsed leases, batch by batch, and give their slots back."""
    total = 0
    while True:
        expired = assignments_expire(limit=routing_config.reaper_batch())
        total += expired
        if expired < routing_config.reaper_batch():
            return total


@platform_task("routing.reap_all")
def routing_reap_all() -> None:
    """Beat: one reaper per organization, each inside its own tenant."""
    for organization_id in organization_ids():
        enqueue_on_commit("routing.reap", organization_id)


@tenant_task("routing.dispatch")
def routing_dispatch(project_id: int) -> int:
    """Fill the queues of one project's active annotators (idempotent: full queues and full tasks are skipped)."""
    project = project_list().filter(pk=project_id).first()
    if project is None:
        return 0
    return project_dispatch(project=project).queued


@platform_task("routing.dispatch_all")
def routing_dispatch_all() -> None:
    """Beat: dispatch every project with recently active annotators, per organization."""
    for organization_id in organization_ids():
        with organization_context(organization_id):
            for project_id in projects_needing_dispatch():
                enqueue_on_commit("routing.dispatch", organization_id, project_id)


@tenant_task("quality.task_agreement")
def quality_task_agreement(task_id: int) -> float | None:
    """Recompute one task's agreement (after a submit or a review), then ask for a coalesced project recompute."""
    # Imported on first use: the agreement code pulls in numpy, which no other task needs at worker start.
    from annotation.services.quality import project_agreement_soon, task_agreement_recompute

    task = task_with_project(task_id=task_id)
    if task is None:
        return None  # deleted since the message was sent
    agreement = task_agreement_recompute(task=task)
    project_agreement_soon(organization_id=task.organization_id, project_id=task.project_id)
    return agreement.score


@tenant_task("quality.project_agreement", soft_time_limit=900)
def quality_project_agreement(project_id: int) -> int:
    """Recompute a project's agreement report (alpha per field, kappa per annotator pair); returns its task count."""
    from annotation.services.quality import project_agreement_recompute

    project = project_list().filter(pk=project_id).first()
    if project is None:
        return 0
    return project_agreement_recompute(project=project).tasks


# Attempts an import or an export gets when its source, its store or the database keeps failing for a reason a
# retry can fix (core.faults decides which), before it is failed with nothing kept.
IMPORT_RETRIES = 5
EXPORT_RETRIES = 5


def _retries() -> int:
    return int(getattr(getattr(current_task, "request", None), "retries", 0) or 0)


def _leave_to_its_holder(task_name: str, organization_id: int, job_id: int, held_for: float) -> str:
    """The job is leased to another worker, alive as of its last heartbeat: look again once that lease would run
    out, and take the job over then if its worker has died meanwhile. Nothing else would bring the job back: this
    message is acknowledged, and the holder's own went back to the broker when its visibility timeout passed."""
    enqueue_later(task_name, organization_id, job_id, countdown=held_for + 1)
    return "held"


# A platform task although it acts for one organization: the run commits its progress after each chunk of tasks,
# every chunk read in its own transaction of that organization, so the API shows the job advancing; tenant_task
# would hold one transaction for the whole run. The organization id still arrives explicitly, never inherited.
@platform_task("projects.export_run", soft_time_limit=3600)
def projects_export_run(organization_id: int, export_id: int) -> str:
    """Write one export job's file (a finished job is left as it is); returns the job's final state."""
    with organization_context(organization_id):
        job = export_list().filter(pk=export_id).first()
    if job is None:
        return "missing"  # its project was deleted since the message was sent
    with job_lease(type(job), organization_id=organization_id, job_id=export_id) as lease:
        if lease.held_elsewhere_for is not None:
            return _leave_to_its_holder("projects.export_run", organization_id, export_id, lease.held_elsewhere_for)
        with actor_context(ActorContext(user_label="system:projects.export_run")):
            try:
                return export_runner.export_run(job).state
            except Exception as exc:
                # The run starts over on the next attempt: an export keeps no checkpoint.
                countdown = 30 * 2 ** _retries()
                fault = retry_transient(current_task, exc, max_retries=EXPORT_RETRIES, countdown=countdown)
                if fault.transient:
                    message = f"The export stopped after {_retries() + 1} attempts: {fault.cause}."
                    export_runner.export_abandon(job, message=message)
                    return "failed"
                logger.exception("export.crashed", extra={"export_id": export_id, "cause": fault.cause})
                export_runner.export_abandon(job, message=f"The export failed: {fault.cause}.")
                raise


# A platform task although it acts for one organization: an import commits every staged batch with its checkpoint
# in a transaction of its own (of that organization), so a killed worker's redelivered task resumes after the last
# batch; tenant_task would hold one transaction for the whole run. The organization id still arrives explicitly.
# The limit leaves room for one time slice (IMPORT_SLICE_SECONDS) plus the final merge.
@platform_task("projects.import_run", soft_time_limit=3600)
def projects_import_run(organization_id: int, import_id: int) -> str:
    """Work on one import for a time slice, queueing the next slice while rows remain; returns the job's state."""
    with organization_context(organization_id):
        job = import_all().filter(pk=import_id).first()
    if job is None:
        return "missing"  # its project was deleted since the message was sent
    with job_lease(type(job), organization_id=organization_id, job_id=import_id) as lease:
        if lease.held_elsewhere_for is not None:
            return _leave_to_its_holder("projects.import_run", organization_id, import_id, lease.held_elsewhere_for)
        state = _import_slice(organization_id, import_id, job)
    if state == "continued":
        # Queued once the lease is given back, so that the next slice's message never finds the job still held.
        enqueue_on_commit("projects.import_run", organization_id, import_id)
    return state


def _import_slice(organization_id: int, import_id: int, job: "ImportJob") -> str:
    request_id = str(getattr(getattr(current_task, "request", None), "id", "") or "")
    with actor_context(ActorContext(user_label="system:projects.import_run", request_id=request_id)):
        try:
            outcome = import_runner.import_run(job)
        except SoftTimeLimitExceeded:
            # The batch in flight rolled back; the next slice resumes at the last checkpoint.
            return "continued"
        except Exception as exc:
            # Progress is checkpointed: a retry continues where this attempt stopped.
            fault = retry_transient(current_task, exc, max_retries=IMPORT_RETRIES, countdown=30 * 2 ** _retries())
            if fault.transient:
                message = f"The import stopped after {_retries() + 1} attempts: {fault.cause}."
                import_runner.import_abandon(job, message=message)
                return "failed"
            # Not one a retry can fix (a missing privilege, a bug): it fails now, naming its cause.
            logger.exception("import.crashed", extra={"import_id": import_id, "cause": fault.cause})
            import_runner.import_abandon(job, message=f"The import stopped: {fault.cause}; nothing was imported.")
            raise
    if not outcome.finished:
        return "continued"
    with organization_context(organization_id):
        return str(import_all().filter(pk=import_id).values_list("state", flat=True).first() or "missing")


# Attempts a suggestion job gets when the database keeps failing under it, before it is failed (its suggestions kept).
SUGGESTION_RETRIES = 3


# A platform task although it acts for one organization: the run commits after every task (its model call, the
# suggestions and the job's counts), each in its own transaction of that organization, so a killed worker loses one
# task's work at most; tenant_task would hold one transaction, with every model call in it, for the whole run.
# The limit leaves room for a slice (SLICE_SECONDS) plus a task asked twice at the longest connection timeout.
@platform_task("suggestions.generate", soft_time_limit=1800)
def suggestions_generate(organization_id: int, job_id: int) -> str:
    """Ask a model for suggestions for one job's tasks for a time slice, queueing the next slice while tasks remain."""
    with organization_context(organization_id):
        job = suggestion_job_all().filter(pk=job_id).first()
    if job is None:
        return "missing"  # its project was deleted since the message was sent
    # The lease helpers are typed for the projects app's jobs; this job has the same state and lease columns.
    with job_lease(type(job), organization_id=organization_id, job_id=job_id) as lease:  # type: ignore[arg-type]
        if lease.held_elsewhere_for is not None:
            return _leave_to_its_holder("suggestions.generate", organization_id, job_id, lease.held_elsewhere_for)
        request_id = str(getattr(getattr(current_task, "request", None), "id", "") or "")
        with actor_context(ActorContext(user_label="system:suggestions.generate", request_id=request_id)):
            try:
                outcome = suggestion_job_run(organization_id=organization_id, job_id=job_id)
            except SoftTimeLimitExceeded:
                # The task in flight has no suggestion yet, and the checkpoint is before it: the next slice redoes it.
                outcome = SuggestionRunOutcome(finished=False)
            except Exception as exc:
                # Progress is kept per task: a retry carries on after the last one recorded.
                fault = retry_transient(
                    current_task, exc, max_retries=SUGGESTION_RETRIES, countdown=30 * 2 ** _retries()
                )
                logger.exception("suggestion_job.crashed", extra={"job_id": job_id, "cause": fault.cause})
                suggestion_job_abandon(
                    organization_id=organization_id, job_id=job_id, message=f"The job stopped: {fault.cause}."
                )
                if fault.transient:
                    return "failed"
                raise
    if not outcome.finished:
        # Queued once the lease is given back, so that the next slice's message never finds the job still held.
        enqueue_later("suggestions.generate", organization_id, job_id, countdown=outcome.wait_seconds)
        return "continued"
    with organization_context(organization_id):
        return str(suggestion_job_all().filter(pk=job_id).values_list("state", flat=True).first() or "missing")


# Attempts a judge run gets when the database keeps failing under it, before it is failed (its verdicts kept).
JUDGE_RETRIES = 3


# A platform task although it acts for one organization: a judge run commits each task's model call and verdict in
# transactions of their own (the call's trail must outlive anything that fails after it), entering the tenant for
# each; tenant_task would hold one transaction, and the project's budget row, for the whole run. The organization id
# still arrives explicitly. The run works for a slice (llm.services.judge_runner.SLICE_SECONDS), then queues the next.
@platform_task("llm.judge_run", soft_time_limit=600)
def llm_judge_run(organization_id: int, run_id: int) -> str:
    """Judge a run's remaining tasks for one slice, queueing the next while tasks remain; returns the run's state."""
    request_id = str(getattr(getattr(current_task, "request", None), "id", "") or "")
    with actor_context(ActorContext(user_label="system:llm.judge_run", request_id=request_id)):
        try:
            state = judge_run_execute(organization_id=organization_id, run_id=run_id)
        except SoftTimeLimitExceeded:
            # The task in flight has no verdict yet, so the next slice judges it again.
            state = "continued"
        except Exception as exc:
            # Verdicts are kept per task: a retry carries on after the last one recorded.
            fault = retry_transient(current_task, exc, max_retries=JUDGE_RETRIES, countdown=30 * 2 ** _retries())
            logger.exception("judge_run.crashed", extra={"run_id": run_id, "cause": fault.cause})
            message = f"The run stopped: {fault.cause}."
            judge_run_abandon(organization_id=organization_id, run_id=run_id, message=message)
            if fault.transient:
                return "failed"
            raise
    if state == "continued":
        enqueue_on_commit("llm.judge_run", organization_id, run_id)
    return state
