"""The data browser's pages: filters from the address, bad filters named, reads on the trail, changes to a selection."""

from typing import Any

import pytest
from django.contrib.messages import get_messages

from audit.models import AuditEvent
from core.context import organization_context
from projects.models import ExportJob, Task
from tenancy.models import Role
from tests.conftest import session_client
from tests.factories import AnnotationFactory, ProjectFactory, TaskFactory

SCHEMA = {"fields": [{"name": "label", "type": "choices", "options": ["cat", "dog"]}]}


@pytest.fixture
def browser(tenant: Any) -> dict[str, Any]:
    project = ProjectFactory(label_schema=SCHEMA)
    tasks = [TaskFactory(project=project, external_id=f"t{i}", data={"text": f"text {i}"}) for i in range(3)]
    AnnotationFactory(project=project, task=tasks[1], result={"label": "dog"}, review_state="rejected")
    client, manager = session_client(tenant, Role.MANAGER)
    return {"project": project, "tasks": tasks, "client": client, "manager": manager, "tenant": tenant}


def _url(project: Any, suffix: str = "") -> str:
    return f"/projects/{project.uuid}/tasks{suffix}"


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_the_rejected_items_are_a_url_and_the_page_read_is_recorded(browser):
    response = browser["client"].get(_url(browser["project"]), {"review": "rejected"})
    assert response.status_code == 200
    assert [row.task.external_id for row in response.context["page"].rows] == ["t1"]
    assert b"1 task match" in response.content
    with organization_context(browser["tenant"].pk):
        (event,) = AuditEvent.objects.filter(action="data_access.task_list")
    assert event.metadata["task_ids"] == [str(browser["tasks"][1].uuid)]


@pytest.mark.django_db
def test_a_bad_filter_is_a_400_naming_the_field(browser):
    response = browser["client"].get(_url(browser["project"]), {"agreement_below": "2", "value": "dog"})
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "agreement_below": ["Ensure this value is less than or equal to 1.0."],
        "field": ["Choose the field the value is an answer to."],
    }


@pytest.mark.django_db
def test_the_browser_page_has_a_fixed_number_of_queries(browser, django_assert_num_queries):
    client, project = browser["client"], browser["project"]
    # The session and membership (7), the project, the members to filter by, the page and its review outcomes (4),
    # and the audit event of the read (7); the same however many rows the page shows.
    for more in (0, 20):
        with organization_context(browser["tenant"].pk):
            for i in range(more):
                AnnotationFactory(project=project, task=TaskFactory(project=project, data={"text": f"text x{i}"}))
        with django_assert_num_queries(18):
            client.get(_url(project), {"q": "text"})


@pytest.mark.django_db
def test_the_task_page_shows_the_task_and_records_the_read(browser):
    task = browser["tasks"][1]
    response = browser["client"].get(_url(browser["project"], f"/{task.uuid}"), {"back": "https://evil.example/"})
    assert response.status_code == 200
    assert response.context["back"] == _url(browser["project"])
    assert [row["answers"] for row in response.context["annotations"]] == [[("label", "dog")]]
    assert [e.action for e in response.context["file"].seen_by] == ["data_access.task_view"]


@pytest.mark.django_db
def test_bulk_priority_changes_the_ticked_tasks_and_returns_to_the_same_view(browser):
    project, tasks = browser["project"], browser["tasks"]
    back = _url(project) + "?review=rejected"
    response = browser["client"].post(
        _url(project, "/bulk"),
        {"action": "priority", "priority": "9", "tasks": [str(tasks[0].uuid), str(tasks[2].uuid)], "back": back},
    )
    assert (response.status_code, response["Location"]) == (302, back)
    assert _messages(response) == ["2 task(s) now have priority 9."]
    with organization_context(browser["tenant"].pk):
        assert list(Task.objects.order_by("external_id").values_list("priority", flat=True)) == [9, 0, 9]


@pytest.mark.django_db
def test_bulk_refusal_is_shown_and_nothing_changes(browser):
    project, tasks = browser["project"], browser["tasks"]
    response = browser["client"].post(
        _url(project, "/bulk"), {"action": "adjudicate", "tasks": [str(t.uuid) for t in tasks], "back": "//evil"}
    )
    assert response["Location"] == _url(project)
    assert _messages(response) == [
        "Some of the chosen tasks cannot go to adjudication; nothing was changed. t0: Nobody has annotated it yet.; "
        "t1: Nobody has annotated it yet.; t2: Nobody has annotated it yet."
    ]


@pytest.mark.django_db
def test_another_projects_task_in_a_selection_is_left_out(browser, tenant):
    other = TaskFactory(project=ProjectFactory(label_schema=SCHEMA), external_id="other")
    response = browser["client"].post(
        _url(browser["project"], "/bulk"), {"action": "priority", "priority": "3", "tasks": [str(other.uuid)]}
    )
    assert _messages(response) == ["Nothing was changed: none of the ticked tasks is in this project."]
    with organization_context(tenant.pk):
        assert Task.objects.get(pk=other.pk).priority == 0


@pytest.mark.django_db
def test_export_the_selection_starts_an_export_of_those_tasks(browser):
    tasks = browser["tasks"][:2]
    browser["client"].post(
        _url(browser["project"], "/bulk"),
        {"action": "export", "format": "csv", "tasks": [str(t.uuid) for t in tasks]},
    )
    with organization_context(browser["tenant"].pk):
        (job,) = ExportJob.objects.all()
    assert (job.format, job.filters) == ("csv", {"task_ids": [str(t.uuid) for t in tasks]})
