"""Tasks: bulk creation (limited, idempotent, all or nothing, errors by index), cursor-paginated filtered list."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from projects.models import Task
from tenancy.models import Role
from tests.factories import ProjectFactory, TaskFactory


def tasks_url(project) -> str:
    return f"/api/v1/projects/{project.uuid}/tasks/"


def items(n: int, start: int = 0) -> list[dict]:
    return [{"external_id": f"ext-{i}", "data": {"text": f"item {i}"}} for i in range(start, start + n)]


@pytest.fixture
def project(tenant):
    return ProjectFactory()


@pytest.fixture
def manager(tenant, api_as):
    return api_as(tenant, Role.MANAGER)


# --- bulk create ---


def test_bulk_create_returns_ids_in_order_and_audits_counts(project, manager):
    body = [*items(3), {"external_id": "p", "data": {"text": "urgent"}, "priority": 5}]

    response = manager.post(tasks_url(project), body, format="json")

    assert response.status_code == 201
    result = response.json()
    assert (result["created"], result["existing"], result["existing_external_ids"]) == (4, 0, [])
    assert [t["external_id"] for t in result["tasks"]] == ["ext-0", "ext-1", "ext-2", "p"]
    stored = {str(t.uuid): t for t in Task.objects.filter(project=project)}
    assert set(stored) == {t["id"] for t in result["tasks"]}
    urgent = Task.objects.get(project=project, external_id="p")
    assert (urgent.data, urgent.priority, urgent.organization_id) == ({"text": "urgent"}, 5, project.organization_id)
    event = AuditEvent.objects.get(action="task.bulk_create")
    assert event.target_id == str(project.uuid)
    assert event.metadata == {"created": 4, "existing": 0, "requested": 4}


def test_an_item_without_external_id_gets_a_generated_one(project, manager):
    response = manager.post(tasks_url(project), [{"data": {"text": "anonymous"}}], format="json")

    assert response.status_code == 201
    [task] = response.json()["tasks"]
    assert len(task["external_id"]) == 36
    assert Task.objects.get(uuid=task["id"]).external_id == task["external_id"]


def test_reposting_creates_nothing_and_returns_200_with_the_existing_ids(project, manager):
    first = manager.post(tasks_url(project), items(3), format="json")

    again = manager.post(tasks_url(project), items(3), format="json")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == {
        "created": 0,
        "existing": 3,
        "tasks": [],
        "existing_external_ids": ["ext-0", "ext-1", "ext-2"],
    }
    assert Task.objects.filter(project=project).count() == 3


def test_a_partial_repost_creates_only_the_new_items_and_leaves_old_ones_unchanged(project, manager):
    manager.post(tasks_url(project), items(2), format="json")
    changed = [{"external_id": "ext-0", "data": {"text": "CHANGED"}}, *items(2, start=2)]

    response = manager.post(tasks_url(project), changed, format="json")

    assert response.status_code == 201
    assert (response.json()["created"], response.json()["existing_external_ids"]) == (2, ["ext-0"])
    assert [t["external_id"] for t in response.json()["tasks"]] == ["ext-2", "ext-3"]
    assert Task.objects.get(project=project, external_id="ext-0").data == {"text": "item 0"}
    assert Task.objects.filter(project=project).count() == 4


def test_external_ids_are_per_project(tenant, project, manager):
    other_project = ProjectFactory()
    manager.post(tasks_url(other_project), items(2), format="json")

    response = manager.post(tasks_url(project), items(2), format="json")

    assert response.status_code == 201
    assert response.json()["created"] == 2


def test_the_bulk_limit_is_enforced(project, manager, settings):
    settings.PROJECTS_BULK_MAX_TASKS = 5

    at_limit = manager.post(tasks_url(project), items(5), format="json")
    over = manager.post(tasks_url(project), items(6, start=100), format="json")

    assert at_limit.status_code == 201
    assert over.status_code == 400
    assert over.json()["detail"] == "At most 5 tasks per request; use an import job for more."
    assert Task.objects.filter(project=project).count() == 5


def test_an_empty_list_is_rejected(project, manager):
    response = manager.post(tasks_url(project), [], format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "Send at least one task."


def test_a_body_that_is_not_a_list_is_rejected(project, manager):
    response = manager.post(tasks_url(project), {"external_id": "a", "data": {"t": 1}}, format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["body"]
    assert Task.objects.count() == 0


def test_one_bad_item_rejects_the_whole_request_and_names_it(project, manager):
    body = items(5)
    body[3]["external_id"] = ""

    response = manager.post(tasks_url(project), body, format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "Some tasks are invalid; none were created."
    assert response.json()["errors"] == [
        {"field": "[3].external_id", "message": "Must be a non-empty string.", "code": "invalid"}
    ]
    assert Task.objects.count() == 0
    assert not AuditEvent.objects.filter(action="task.bulk_create").exists()


def test_every_bad_item_is_reported_by_index(project, manager):
    body = [
        {"external_id": "ok", "data": {"t": 1}},
        {"external_id": 7, "data": {"t": 1}},
        {"external_id": "b", "data": {}},
        {"external_id": "c", "data": {"t": 1}, "priority": "high"},
        "not an object",
        {"external_id": "d", "data": {"t": 1}, "project": "x"},
        {"external_id": "x" * 256, "data": {"t": 1}},
        {"external_id": "e", "data": {"t": 1}, "priority": True},
        {"external_id": "f", "data": ["t"]},
        {"external_id": "g", "data": {"t": 1}, "priority": 10**7},
    ]

    response = manager.post(tasks_url(project), body, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("[1].external_id", "invalid"),
        ("[2].data", "invalid"),
        ("[3].priority", "invalid"),
        ("[4]", "not_an_object"),
        ("[5].project", "unknown_field"),
        ("[6].external_id", "too_long"),
        ("[7].priority", "invalid"),
        ("[8].data", "invalid"),
        ("[9].priority", "invalid"),
    ]
    assert Task.objects.count() == 0


def test_duplicates_within_one_request_name_both_indexes(project, manager):
    body = [*items(3), {"external_id": "ext-1", "data": {"text": "again"}}]

    response = manager.post(tasks_url(project), body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "[3].external_id", "message": "Duplicate external_id 'ext-1'; also at [1].", "code": "duplicate"}
    ]
    assert Task.objects.count() == 0


def test_oversized_task_data_is_rejected_by_index(project, manager, settings):
    settings.PROJECTS_TASK_DATA_MAX_BYTES = 100
    body = [{"external_id": "small", "data": {"t": "x"}}, {"external_id": "big", "data": {"t": "x" * 200}}]

    response = manager.post(tasks_url(project), body, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [("[1].data", "too_large")]
    assert Task.objects.count() == 0


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ANNOTATOR])
def test_below_manager_cannot_add_or_list_tasks(tenant, project, api_as, role):
    TaskFactory(project=project)
    client = api_as(tenant, role)

    assert client.post(tasks_url(project), items(1), format="json").status_code == 403
    assert client.get(tasks_url(project)).status_code == 403
    assert Task.objects.count() == 1


def test_tasks_of_an_unknown_project_are_404(manager):
    response = manager.post("/api/v1/projects/00000000-0000-0000-0000-000000000000/tasks/", items(1), format="json")

    assert response.status_code == 404
    assert Task.objects.count() == 0


# --- list, pagination, filters ---


def test_walking_every_page_returns_every_task_once_in_order(project, manager):
    tasks = TaskFactory.create_batch(25, project=project)
    TaskFactory.create_batch(3)  # another project's tasks stay out

    seen, url, pages = [], tasks_url(project) + "?page_size=10", 0
    while url:
        page = manager.get(url).json()
        seen += [t["id"] for t in page["results"]]
        url = page["next"]
        pages += 1

    assert pages == 3
    assert seen == [str(t.uuid) for t in tasks]


def test_the_default_page_is_100(project, manager):
    TaskFactory.create_batch(101, project=project)

    page = manager.get(tasks_url(project)).json()

    assert len(page["results"]) == 100
    assert page["next"] is not None
    assert page["previous"] is None


def test_page_size_is_capped_at_1000(project, manager):
    TaskFactory.create_batch(1001, project=project)

    page = manager.get(tasks_url(project), {"page_size": 5000}).json()

    assert len(page["results"]) == 1000
    assert page["next"] is not None


def test_a_list_item_shows_the_task(project, manager):
    task = TaskFactory(project=project, external_id="doc-1", data={"text": "Hello"}, priority=3)

    [item] = manager.get(tasks_url(project)).json()["results"]

    assert item == {
        "id": str(task.uuid),
        "external_id": "doc-1",
        "data": {"text": "Hello"},
        "priority": 3,
        "created_at": item["created_at"],
    }


def test_filter_by_external_id(project, manager):
    TaskFactory(project=project, external_id="a")
    wanted = TaskFactory(project=project, external_id="b")

    results = manager.get(tasks_url(project), {"external_id": "b"}).json()["results"]

    assert [t["id"] for t in results] == [str(wanted.uuid)]


def test_filter_by_priority_range(project, manager):
    by_priority = {p: TaskFactory(project=project, priority=p) for p in (-5, 0, 3, 7, 10)}

    results = manager.get(tasks_url(project), {"priority_min": 0, "priority_max": 7}).json()["results"]

    assert [t["id"] for t in results] == [str(by_priority[p].uuid) for p in (0, 3, 7)]


def test_filter_by_creation_time(project, manager):
    early = TaskFactory.create_batch(2, project=project)
    boundary = timezone.now()
    late = TaskFactory.create_batch(2, project=project)

    after = manager.get(tasks_url(project), {"created_after": boundary.isoformat()}).json()["results"]
    before = manager.get(tasks_url(project), {"created_before": boundary.isoformat()}).json()["results"]

    assert [t["id"] for t in after] == [str(t.uuid) for t in late]
    assert [t["id"] for t in before] == [str(t.uuid) for t in early]


def test_filters_combine(project, manager):
    TaskFactory(project=project, external_id="x", priority=1)
    hit = TaskFactory(project=project, external_id="y", priority=9)
    TaskFactory(project=project, external_id="z", priority=9)

    results = manager.get(tasks_url(project), {"priority_min": 5, "external_id": "y"}).json()["results"]

    assert [t["id"] for t in results] == [str(hit.uuid)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"priority_min": "high"}, "priority_min"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": (timezone.now() - timedelta(days=1)).date().isoformat() + "Tnot"}, "created_before"),
    ],
)
def test_bad_filter_values_name_the_filter(project, manager, params, field):
    response = manager.get(tasks_url(project), params)

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_bad_cursor_is_a_clean_404(project, manager):
    response = manager.get(tasks_url(project), {"cursor": "garbage"})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- detail ---


def test_task_detail(project, manager):
    task = TaskFactory(project=project, external_id="doc-9")

    response = manager.get(f"{tasks_url(project)}{task.uuid}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["external_id"]) == (str(task.uuid), "doc-9")


def test_a_task_is_only_found_under_its_own_project(tenant, project, manager):
    task = TaskFactory(project=ProjectFactory())

    response = manager.get(f"{tasks_url(project)}{task.uuid}")

    assert response.status_code == 404
