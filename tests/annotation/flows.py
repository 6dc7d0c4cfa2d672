"""Shared steps of the review and quality tests: labelling through the API, reviewing, and the counter check."""

from typing import Any

import pytest

from annotation.models import TAKEN_STATES, Annotation, Assignment, AssignmentState
from projects.models import Task
from tenancy.models import Role
from tests.annotation.conftest import act_url, next_url
from tests.conftest import member_client


@pytest.fixture
def reviewer(tenant: Any) -> Any:
    """`reviewer(role=Role.REVIEWER)` → an APIClient of a new member; `.membership` is the member."""

    def make(role: Role = Role.REVIEWER, **user_fields: Any) -> Any:
        client, _ = member_client(tenant, role, **user_fields)
        return client

    return make


def claim(client: Any, project: Any) -> dict[str, Any]:
    response = client.post(next_url(project))
    assert response.status_code in (200, 201), response.content
    body: dict[str, Any] = response.json()
    return body


def label(client: Any, project: Any, result: dict[str, Any]) -> dict[str, Any]:
    """Claim the next task and submit `result` for it; returns the created annotation's body plus its task id."""
    lease = claim(client, project)
    response = client.post(
        act_url(lease, "submit"), {"lease_token": lease["lease_token"], "result": result}, format="json"
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def review(client: Any, annotation_id: str, decision: str, comment: str = "", result: Any = None) -> Any:
    body: dict[str, Any] = {"decision": decision}
    if comment:
        body["comment"] = comment
    if result is not None:
        body["result"] = result
    return client.post(f"/api/v1/annotations/{annotation_id}/review", body, format="json")


def queue(client: Any, project: Any, level: int | str | None = None) -> Any:
    params = {} if level is None else {"level": level}
    return client.get(f"/api/v1/projects/{project.uuid}/reviews/queue", params)


def annotation_of(body: dict[str, Any]) -> Annotation:
    return Annotation.objects.select_related("assignment", "task").get(uuid=body["id"])


def counters(task: Task) -> tuple[int, int]:
    """The task's (taken, done) after checking both against its assignments: taken = queued + active + submitted,
    done = submitted."""
    task.refresh_from_db()
    taken = Assignment.objects.filter(task=task, state__in=TAKEN_STATES).count()
    done = Assignment.objects.filter(task=task, state=AssignmentState.SUBMITTED).count()
    assert (task.taken, task.done) == (taken, done)
    return task.taken, task.done
