"""The suggestions part of a populated tenant: a suggestion job stopped by its budget, so it may be resumed, made
through the model connection that has a call on record (the unused one must stay free to delete)."""

from types import SimpleNamespace

from annotation.models import SuggestionJob, SuggestionJobState
from annotation.services.suggestions import BUDGET_PAUSE, suggestion_job_start


def populate_suggestions(world: SimpleNamespace) -> None:
    """`suggestion_job`: paused, as a run leaves a job whose budget ran out (the suites never reach a model)."""
    job = suggestion_job_start(
        actor=world.owner,
        project=world.project,
        connection=str(world.model_connection_used.uuid),
        fields=["label"],
        prompt=f"{world.prefix}: label {{{{ text }}}}",
        agent=f"{world.prefix}-agent@v1",
    )
    # The state a run leaves behind; running one here would need a model server.
    SuggestionJob.objects.filter(pk=job.pk).update(state=SuggestionJobState.PAUSED, message=BUDGET_PAUSE)
    job.refresh_from_db()
    world.suggestion_job = job
