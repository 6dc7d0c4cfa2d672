"""What the audit trail calls the llm app's objects (core.audit.targets): a model connection by its name and model,
a judge run by its connection and project."""

import uuid
from collections.abc import Collection

from core.audit.targets import TargetKind, target_kinds_register
from llm.models import JudgeRun, ModelConnection


def _connections(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = ModelConnection.objects.filter(uuid__in=ids).values_list("uuid", "name", "model")
    return {key: f"{name} ({model})" for key, name, model in rows}


def _judge_runs(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = JudgeRun.objects.filter(uuid__in=ids).values_list("uuid", "connection__name", "project__name")
    return {key: f"{connection} judging {project}" for key, connection, project in rows}


target_kinds_register(
    {
        "llm.modelconnection": TargetKind("model connection", _connections),
        "llm.judgerun": TargetKind("judge run", _judge_runs),
    }
)
