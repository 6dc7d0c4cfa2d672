"""Reads of task data through the API are data_access events, and "who saw task X" finds them."""

from audit.models import AuditEvent
from tenancy.models import Role
from tests.factories import ProjectFactory, TaskFactory, UserFactory


def data_access(organization) -> list[tuple[str, str, str, str, dict]]:
    return list(
        AuditEvent.objects.filter(category="data_access")
        .order_by("sequence")
        .values_list("action", "actor_label", "target_type", "target_id", "metadata")
    )


def test_task_detail_is_recorded_with_its_task_and_project(tenant, api_as):
    project = ProjectFactory(organization=tenant)
    task = TaskFactory(project=project)
    client = api_as(tenant, Role.MANAGER, user=UserFactory(email="mia@lab.example"))

    response = client.get(f"/api/v1/projects/{project.uuid}/tasks/{task.uuid}")

    assert response.status_code == 200
    assert data_access(tenant) == [
        ("data_access.task_view", "mia@lab.example", "projects.task", str(task.uuid), {"project": str(project.uuid)})
    ]


def test_task_list_is_recorded_with_the_ids_of_the_page_it_served(tenant, api_as):
    project = ProjectFactory(organization=tenant)
    tasks = [TaskFactory(project=project) for _ in range(3)]
    client = api_as(tenant, Role.MANAGER, user=UserFactory(email="mia@lab.example"))

    response = client.get(f"/api/v1/projects/{project.uuid}/tasks/", {"page_size": 2})

    assert response.status_code == 200
    served = [t["id"] for t in response.json()["results"]]
    assert len(served) == 2
    assert set(served) <= {str(t.uuid) for t in tasks}
    assert data_access(tenant) == [
        (
            "data_access.task_list",
            "mia@lab.example",
            "projects.project",
            str(project.uuid),
            {"count": 2, "task_ids": served},
        )
    ]


def test_a_refused_read_records_no_data_access(tenant, other_tenant, api_as):
    project = ProjectFactory(organization=tenant)
    task = TaskFactory(project=project)
    stranger = api_as(other_tenant, Role.OWNER)

    response = stranger.get(f"/api/v1/projects/{project.uuid}/tasks/{task.uuid}")

    assert response.status_code == 404
    assert data_access(tenant) == []


def test_an_admin_finds_who_saw_a_task(tenant, api_as):
    project = ProjectFactory(organization=tenant)
    task = TaskFactory(project=project)
    unseen = TaskFactory(project=project)
    reader = api_as(tenant, Role.MANAGER, user=UserFactory(email="mia@lab.example"))
    lister = api_as(tenant, Role.MANAGER, user=UserFactory(email="noah@lab.example"))
    admin = api_as(tenant, Role.ADMIN)
    assert reader.get(f"/api/v1/projects/{project.uuid}/tasks/{task.uuid}").status_code == 200
    assert lister.get(f"/api/v1/projects/{project.uuid}/tasks/").status_code == 200
    assert reader.get(f"/api/v1/projects/{project.uuid}/tasks/{unseen.uuid}").status_code == 200

    response = admin.get("/api/v1/audit/events/", {"q": f"target:{task.uuid}"})

    assert response.status_code == 200
    assert [(e["action"], e["actor"]) for e in response.json()["results"]] == [
        ("data_access.task_list", "noah@lab.example"),
        ("data_access.task_view", "mia@lab.example"),
    ]
