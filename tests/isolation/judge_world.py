"""The judge part of a populated tenant: a paused judge run of the project (so it may be resumed or cancelled) with
one verdict on the project's task. Written as a run leaves them: the suites never reach a model server."""

from types import SimpleNamespace

from llm.models import JudgeRunState
from tests.llm.judge_support import JudgeRunFactory, JudgeVerdictFactory


def populate_judge(world: SimpleNamespace) -> None:
    """`judge_run` (paused, after one verdict) and `judge_verdict`; call after populate_llm."""
    world.judge_run = JudgeRunFactory(
        project=world.project,
        connection=world.model_connection_used,
        fields=["label"],
        state=JudgeRunState.PAUSED,
        reason=f"{world.prefix} budget used up",
        total=2,
        judged=1,
        created_by=world.owner,
    )
    world.judge_verdict = JudgeVerdictFactory(
        run=world.judge_run, task=world.task, result={"label": f"{world.prefix} judged"}, call=world.model_call
    )
