"""The data browser's reads: each filter, the orders, keyset pages both ways, the capped count, one task whole."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from annotation.models import AssignmentState
from annotation.selectors import task_browser
from annotation.selectors.task_browser import TaskFilters, task_browse, task_file
from core.audit.record import audit_record
from tenancy.models import Role
from tests.annotation.exports_support import AssignmentFactory
from tests.annotation.quality_factories import ReviewFactory, TaskAgreementFactory
from tests.factories import AnnotationFactory, MembershipFactory, ProjectFactory, TaskFactory

SCHEMA = {
    "fields": [
        {"name": "label", "type": "choices", "options": ["cat", "dog", "bird"]},
        {"name": "tags", "type": "choices", "options": ["x", "y"], "multiple": True, "required": False},
        {"name": "stars", "type": "rating", "min": 1, "max": 5, "required": False},
    ]
}


@pytest.fixture
def world(tenant: Any) -> dict[str, Any]:
    """Six tasks of one project with one of each thing the filters look for, and a task of another project."""
    project = ProjectFactory(label_schema=SCHEMA)
    alice = MembershipFactory(role=Role.ANNOTATOR)
    bob = MembershipFactory(role=Role.ANNOTATOR)
    texts = [
        "A tabby cat on the sofa",
        "A dog chasing its tail",
        "Heart failure in older patients",
        "Contract law and its appeals",
        "A cat and a dog",
        "Nothing to see",
    ]
    tasks = [
        TaskFactory(project=project, external_id=f"t{i}", data={"text": text}, priority=i % 3)
        for i, text in enumerate(texts)
    ]
    AnnotationFactory(project=project, task=tasks[0], annotator=alice, result={"label": "cat"}, review_state="accepted")
    rejected = AnnotationFactory(
        project=project, task=tasks[1], annotator=bob, result={"label": "dog", "stars": 4}, review_state="rejected"
    )
    ReviewFactory(annotation=rejected, decision="reject", comment="Look again at the tail.")
    AnnotationFactory(project=project, task=tasks[4], annotator=alice, result={"label": "cat", "tags": ["x", "y"]})
    for task in (tasks[0], tasks[1], tasks[4]):
        task.done = task.taken = 1
        task.save(update_fields=["done", "taken"])
    tasks[2].taken = 1
    tasks[2].save(update_fields=["taken"])
    TaskAgreementFactory(project=project, task=tasks[4], score=0.2, needs_adjudication=True)
    TaskAgreementFactory(project=project, task=tasks[0], score=0.9, needs_adjudication=False)
    AssignmentFactory(task=tasks[3], annotator=bob, state=AssignmentState.SKIPPED)
    tasks[5].is_gold = True
    tasks[5].save(update_fields=["is_gold"])
    TaskFactory(project=ProjectFactory(label_schema=SCHEMA), external_id="elsewhere", data={"text": "A tabby cat"})
    return {"project": project, "tasks": tasks, "alice": alice, "bob": bob}


def _ids(world: dict[str, Any], **filters: Any) -> list[str]:
    page = task_browse(project=world["project"], filters=TaskFilters(**filters))
    return [row.task.external_id for row in page.rows]


@pytest.mark.django_db
def test_without_filters_every_task_of_the_project_in_import_order(world):
    assert _ids(world) == ["t0", "t1", "t2", "t3", "t4", "t5"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"state": "new"}, ["t3", "t5"]),
        ({"state": "in_progress"}, ["t2"]),
        ({"state": "complete"}, ["t0", "t1", "t4"]),
        ({"review": "rejected"}, ["t1"]),
        ({"review": "accepted"}, ["t0"]),
        ({"disputed": True}, ["t4"]),
        ({"agreement_below": 0.5}, ["t4"]),
        ({"agreement_below": 0.95}, ["t0", "t4"]),
        ({"skipped": True}, ["t3"]),
        ({"gold": True}, ["t5"]),
        ({"gold": False}, ["t0", "t1", "t2", "t3", "t4"]),
        ({"label": ("label", "cat")}, ["t0", "t4"]),
        ({"label": ("tags", "y")}, ["t4"]),
        ({"label": ("stars", "4")}, ["t1"]),
        ({"text": "cat"}, ["t0", "t4"]),
        ({"text": "hea fail"}, ["t2"]),
        ({"text": "ail hea"}, ["t2"]),
        ({"text": "tabby sofa"}, ["t0"]),
        ({"text": "'; drop table projects_task; --"}, []),
        ({"text": "%"}, []),
        ({"text": "_"}, []),
        ({"text": "TABBY"}, ["t0"]),
        ({"review": "rejected", "text": "cat"}, []),
    ],
)
def test_each_filter_finds_exactly_its_tasks(world, filters, expected):
    assert _ids(world, **filters) == expected


@pytest.mark.django_db
def test_an_annotator_filter_finds_the_tasks_they_annotated(world):
    assert _ids(world, annotator=world["alice"]) == ["t0", "t4"]
    assert _ids(world, annotator=world["bob"]) == ["t1"]


@pytest.mark.django_db
def test_a_date_range_keeps_the_tasks_created_within_it(world):
    today = timezone.localdate()
    assert _ids(world, created_from=today, created_to=today) == ["t0", "t1", "t2", "t3", "t4", "t5"]
    assert _ids(world, created_from=today + timedelta(days=1)) == []
    assert _ids(world, created_to=today - timedelta(days=1)) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("imported", ["t0", "t1", "t2", "t3", "t4", "t5"]),
        ("-imported", ["t5", "t4", "t3", "t2", "t1", "t0"]),
        ("-external_id", ["t5", "t4", "t3", "t2", "t1", "t0"]),
        ("priority", ["t2", "t5", "t1", "t4", "t0", "t3"]),
    ],
)
def test_each_order(world, sort, expected):
    assert _ids(world, sort=sort) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["imported", "-imported", "external_id", "priority"])
def test_keyset_pages_walk_forward_and_back_through_every_task_once(world, sort):
    project, filters = world["project"], TaskFilters(sort=sort)
    everything = [r.task.external_id for r in task_browse(project=project, filters=filters).rows]
    pages, after = [], None
    while True:
        page = task_browse(project=project, filters=filters, after=after, size=4)
        pages.append([r.task.external_id for r in page.rows])
        if page.after is None:
            break
        after = page.after
    assert pages == [everything[:4], everything[4:]]
    assert page.count == 6
    assert not page.capped
    back = task_browse(project=project, filters=filters, before=page.before, size=4)
    assert [r.task.external_id for r in back.rows] == everything[:4]
    assert back.before is None
    assert back.after is not None


@pytest.mark.django_db
def test_the_count_stops_at_its_cap(world, monkeypatch):
    monkeypatch.setattr(task_browser, "COUNT_CAP", 3)
    page = task_browse(project=world["project"], filters=TaskFilters())
    assert (page.count, page.capped) == (3, True)


@pytest.mark.django_db
def test_a_search_beyond_one_page_is_not_counted(world):
    # A count would scan the project's data a second time; a first page that is not full is its own count.
    page = task_browse(project=world["project"], filters=TaskFilters(text="a"), size=2)
    assert (len(page.rows), page.count, page.capped) == (2, None, False)
    page = task_browse(project=world["project"], filters=TaskFilters(text="cat"))
    assert (len(page.rows), page.count) == (2, 2)


@pytest.mark.django_db
def test_rows_show_review_outcomes_agreement_and_a_preview(world):
    rows = {r.task.external_id: r for r in task_browse(project=world["project"], filters=TaskFilters()).rows}
    assert rows["t1"].reviews == {"rejected": 1}
    assert rows["t0"].reviews == {"accepted": 1}
    assert (rows["t4"].agreement, rows["t4"].disputed) == (0.2, True)
    assert rows["t2"].preview == "Heart failure in older patients"
    assert rows["t3"].reviews == {}
    assert rows["t3"].agreement is None


@pytest.mark.django_db
def test_a_page_costs_the_same_few_queries_however_many_rows(world, django_assert_num_queries):
    # The page and one grouped read of review outcomes; a first page that is full counts its matches too.
    with django_assert_num_queries(2):
        task_browse(project=world["project"], filters=TaskFilters(review="rejected"))
    with django_assert_num_queries(3):
        task_browse(project=world["project"], filters=TaskFilters(), size=4)


@pytest.mark.django_db
def test_the_task_file_holds_annotations_reviews_timeline_and_its_readers(world):
    task = world["tasks"][1]
    audit_record(action="data_access.task_view", target=task, metadata={"project": str(world["project"].uuid)})
    file = task_file(project=world["project"], task=task)
    assert [a.result for a in file.annotations] == [{"label": "dog", "stars": 4}]
    assert [(r.decision, r.comment) for r in file.reviews] == [("reject", "Look again at the tail.")]
    assert [e.what for e in file.timeline] == ["imported", "submitted", "review: reject"]
    assert [e.action for e in file.seen_by] == ["data_access.task_view"]
