"""A hand-built project whose results cover every field type and every rule of which annotation counts, and the
helpers the export tests share: run an export job, read its file back."""

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import factory
import pytest

from annotation.exports.filters import ExportFilters
from annotation.exports.pseudonyms import annotator_pseudonym
from annotation.exports.runner import export_run
from annotation.exports.services import export_create
from annotation.models import Assignment, AssignmentSource, AssignmentState
from projects.models import ExportJob, Task
from projects.object_store import object_store
from tenancy.models import Role
from tests.annotation.quality_factories import ReviewFactory
from tests.factories import (
    AnnotationFactory,
    MembershipFactory,
    ProjectFactory,
    TaskFactory,
    UserFactory,
    _organization_in_context,
)

SCHEMA = {
    "fields": [
        {"name": "sentiment", "type": "choices", "options": ["positive", "negative", "mixed"], "source": "prompt"},
        {
            "name": "topics",
            "type": "choices",
            "options": ["billing", "bug", "feature"],
            "multiple": True,
            "required": False,
        },
        {"name": "helpfulness", "type": "rating", "min": 1, "max": 5, "required": False},
        {"name": "answer", "type": "text", "source": "chat", "required": False},
        {"name": "note", "type": "text", "required": False},
        {"name": "entities", "type": "spans", "source": "text", "labels": ["PER", "ORG", "LOC"], "required": False},
        {"name": "vehicles", "type": "boxes", "source": "image", "labels": ["car", "bus"], "required": False},
        {"name": "preference", "type": "pairwise", "source": "responses", "strength": True, "required": False},
        {"name": "order", "type": "ranking", "source": "candidates", "required": False},
        {
            "name": "quality",
            "type": "rubric",
            "criteria": [{"name": "accuracy", "min": 1, "max": 5}, {"name": "tone", "min": 0, "max": 3}],
            "required": False,
        },
    ]
}

TEXT = "Alice works at Acme Corp.\nBob lives in Paris."
CANDIDATES = [{"id": "x", "content": "first"}, {"id": "y", "content": "second"}, {"id": "z", "content": "third"}]


def task_data(prompt: str, *, image: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "prompt": prompt,
        "chat": {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]},
        "text": TEXT,
        "image": image or {"url": "https://media.example.org/1.jpg", "width": 200, "height": 100},
        "responses": [{"id": "a", "content": "Names to addresses."}, {"id": "b", "content": "A phone book."}],
        "candidates": CANDIDATES,
    }


RESULT_A1 = {
    "sentiment": "positive",
    "topics": ["bug", "billing"],
    "helpfulness": 4,
    "answer": "DNS translates names.",
    "note": '=HYPERLINK("http://evil.example")',
    "entities": [
        {"start": 0, "end": 5, "label": "PER"},
        {"start": 15, "end": 24, "label": "ORG"},
        {"start": 39, "end": 44, "label": "LOC"},
    ],
    "vehicles": [
        {"x": 20, "y": 10, "width": 50, "height": 40, "label": "car"},
        {"x": 100, "y": 50, "width": 100, "height": 50, "label": "bus"},
    ],
    "preference": {"preferred": "b", "strength": 2},
    "order": {"x": 2, "y": 1, "z": 3},
    "quality": {"accuracy": 4, "tone": 2},
}
RESULT_B1 = {
    "sentiment": "negative",
    "helpfulness": 2,
    "answer": "-1 is not an answer",
    "preference": {"preferred": "tie"},
    "order": {"x": 1, "y": 2, "z": 3},
    "entities": [],
    "vehicles": [],
}
RESULT_A2_OLD = {"sentiment": "mixed"}
RESULT_A2 = {"sentiment": "positive", "answer": "Hi!", "preference": {"preferred": "a"}}
RESULT_B3 = {"sentiment": "positive", "helpfulness": 5}
RESULT_R3 = {"sentiment": "negative", "helpfulness": 1}


class AssignmentFactory(factory.django.DjangoModelFactory):
    """A finished turn of an annotator at a task (annotations made through the API have one)."""

    class Meta:
        model = Assignment

    organization = factory.LazyFunction(_organization_in_context)
    project = factory.SelfAttribute("task.project")
    task = factory.SubFactory(TaskFactory)
    annotator = factory.SubFactory(MembershipFactory)
    state = AssignmentState.SUBMITTED
    source = AssignmentSource.CLAIM


@pytest.fixture
def object_root(settings: Any, tmp_path: Any) -> Any:
    """The platform's object store on local disk under the test's own folder."""
    settings.OBJECT_STORAGE_BUCKET = ""
    settings.OBJECT_STORAGE_ROOT = tmp_path / "objects"
    return settings.OBJECT_STORAGE_ROOT


def _created(task: Task, moment: datetime) -> None:
    # auto_now_add ignores a value given at creation; the filters need tasks created at known times.
    Task.objects.filter(pk=task.pk).update(created_at=moment)
    task.refresh_from_db()


def build_world() -> SimpleNamespace:
    """Inside the tenant's context: project `project` with tasks t1..t5 and the annotations described below.

    - t1 (done, overlap 2): A's accepted annotation and B's pending one, each on its own assignment;
    - t2 (open): A's rejected v1 and A's v2 superseding it (no assignment: the turn is A's);
    - t3 (done): B's annotation, corrected by reviewer R (R's v2 supersedes it, with a correct review);
    - t4: no annotation; t5: a gold task A answered; `other` is another project of the same organization.
    """
    w = SimpleNamespace()
    w.project = ProjectFactory(name="Export world", label_schema=SCHEMA, overlap=2)
    w.a = MembershipFactory(role=Role.ANNOTATOR, user=UserFactory(email="alice@lab.test"))
    w.b = MembershipFactory(role=Role.ANNOTATOR, user=UserFactory(email="bob@lab.test"))
    w.r = MembershipFactory(role=Role.REVIEWER, user=UserFactory(email="rita@lab.test"))
    w.t1 = TaskFactory(project=w.project, external_id="t1", data=task_data("Explain DNS."), overlap=2, done=2, taken=2)
    w.t2 = TaskFactory(
        project=w.project,
        external_id="t2",
        data=task_data("Say hi.", image={"key": "orgs/x/media/p/1.png", "width": 10, "height": 10}),
        overlap=2,
        done=1,
        taken=1,
    )
    w.t3 = TaskFactory(project=w.project, external_id="t3", data=task_data("Name a colour."), overlap=1, done=1)
    w.t4 = TaskFactory(project=w.project, external_id="t4", data=task_data("Unanswered."), overlap=1)
    w.t5 = TaskFactory(project=w.project, external_id="t5", data=task_data("Gold."), is_gold=True, gold_answer={})
    for number, task in enumerate((w.t1, w.t2, w.t3, w.t4, w.t5), start=1):
        _created(task, datetime(2026, 1, number, 12, 0, tzinfo=UTC))

    w.as1 = AssignmentFactory(task=w.t1, annotator=w.a)
    w.bs1 = AssignmentFactory(task=w.t1, annotator=w.b)
    w.a1 = AnnotationFactory(
        project=w.project, task=w.t1, assignment=w.as1, annotator=w.a, result=RESULT_A1, review_state="accepted",
        time_spent_ms=5400,
    )  # fmt: skip
    w.b1 = AnnotationFactory(
        project=w.project, task=w.t1, assignment=w.bs1, annotator=w.b, result=RESULT_B1, review_state="pending",
        time_spent_ms=3000,
    )  # fmt: skip
    w.a2_old = AnnotationFactory(
        project=w.project, task=w.t2, annotator=w.a, result=RESULT_A2_OLD, review_state="rejected"
    )
    w.a2 = AnnotationFactory(
        project=w.project, task=w.t2, annotator=w.a, result=RESULT_A2, version=2, supersedes=w.a2_old, time_spent_ms=800
    )
    w.bs3 = AssignmentFactory(task=w.t3, annotator=w.b)
    w.b3 = AnnotationFactory(
        project=w.project, task=w.t3, assignment=w.bs3, annotator=w.b, result=RESULT_B3, review_state="corrected"
    )
    w.r3 = AnnotationFactory(
        project=w.project, task=w.t3, assignment=w.bs3, annotator=w.r, result=RESULT_R3, version=2, supersedes=w.b3,
        review_state="accepted",
    )  # fmt: skip
    ReviewFactory(annotation=w.b3, reviewer=w.r, decision="correct", correction=w.r3)
    w.gold = AnnotationFactory(project=w.project, task=w.t5, annotator=w.a, result={"sentiment": "positive"})
    w.other = ProjectFactory(name="Other", label_schema=SCHEMA)
    AnnotationFactory(project=w.other, annotator=w.a, result={"sentiment": "negative"})
    w.owner = MembershipFactory(role=Role.OWNER, user=UserFactory(email="olga@lab.test"))
    for name in ("a", "b", "r"):
        member = getattr(w, name)
        setattr(
            w, f"p{name}", annotator_pseudonym(organization_uuid=member.organization.uuid, membership_uuid=member.uuid)
        )
    return w


def bare_world(project: Any) -> SimpleNamespace:
    """A world of one hand-made project, exported by a new manager."""
    return SimpleNamespace(project=project, owner=MembershipFactory(role=Role.MANAGER))


def run_export(world: SimpleNamespace, export_format: str, **filters: Any) -> tuple[ExportJob, bytes]:
    """Create and run an export job of the world's project; return the finished job and its file's bytes."""
    job = export_create(
        actor=world.owner, project=world.project, export_format=export_format, filters=ExportFilters(**filters)
    )
    job = export_run(job)
    assert job.state == "succeeded", job.message
    with object_store().open(job.file_key) as stream:
        return job, stream.read()


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
