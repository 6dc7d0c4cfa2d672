"""What the judge tests share: factories of runs and verdicts, a project with answered tasks, and running a run."""

import json
from typing import Any

import factory

from config.celery import app
from llm.models import JudgeRun, JudgeVerdict
from tests.factories import (
    AnnotationFactory,
    MembershipFactory,
    ModelConnectionFactory,
    ProjectFactory,
    TaskFactory,
    _organization_in_context,
)

JUDGE_SCHEMA = {
    "fields": [
        {"name": "sentiment", "type": "choices", "options": ["positive", "negative"], "source": "text"},
        {"name": "quality", "type": "rating", "min": 1, "max": 5},
        {"name": "entities", "type": "spans", "source": "text", "labels": ["PER"]},
    ]
}
GUIDELINES = "Positive means the writer would recommend the product."


class JudgeRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JudgeRun

    organization = factory.LazyFunction(_organization_in_context)
    project = factory.SubFactory(ProjectFactory, label_schema=JUDGE_SCHEMA)
    connection = factory.SubFactory(ModelConnectionFactory)
    fields = factory.LazyFunction(lambda: ["sentiment", "quality"])
    schema_version = factory.LazyAttribute(lambda o: o.project.schema_version)
    state = "succeeded"


class JudgeVerdictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JudgeVerdict

    organization = factory.LazyFunction(_organization_in_context)
    run = factory.SubFactory(JudgeRunFactory)
    task = factory.SubFactory(TaskFactory, project=factory.SelfAttribute("..run.project"))
    result = factory.LazyFunction(dict)
    valid = True
    attempts = 1


def answered_tasks(project: Any, count: int, *, text: str = "Works well, would buy again.") -> list[Any]:
    """`count` tasks each answered by one expert (as a submit leaves them: one done), in order of id."""
    tasks = []
    for _ in range(count):
        task = TaskFactory(project=project, data={"text": text}, done=1, taken=1)
        AnnotationFactory(project=project, task=task, result={"sentiment": "positive", "quality": 4, "entities": []})
        tasks.append(task)
    return tasks


def compact(value: Any) -> str:
    """JSON without spaces: the loopback server counts a reply's tokens as its words, so this is one token."""
    return json.dumps(value, separators=(",", ":"))


def run_judge(organization_id: int, run: Any) -> str:
    """Run the queued run as a worker does (the test's transaction never commits, so nothing was sent)."""
    result: str = app.tasks["llm.judge_run"].apply(args=(organization_id, run.pk)).get()
    run.refresh_from_db()
    return result


def loopback_connection(model_server: Any, **fields: Any) -> Any:
    return ModelConnectionFactory(base_url=model_server.base_url, **fields)


def manager() -> Any:
    return MembershipFactory(role="manager")
