"""Pinned query counts of the list endpoints, the same at any number of rows (an N+1 fails here).

Every count includes the fixed cost of a request inside the test's transaction: the savepoint the request's
transaction becomes (two statements), one statement resolving the token with its member, user and organization, and
the transaction-local tenant setting. Only the list query itself depends on the data.
"""

import pytest

from tenancy.models import Role
from tests.annotation.conftest import CHOICE_SCHEMA
from tests.conftest import member_client
from tests.factories import ApiTokenFactory, MembershipFactory, ProjectFactory, TaskFactory

PROJECT_LIST = 7
# One more: the project named in the URL; and one for the data_access.task_list event the page records (the
# counter and the event row are written by a single statement), whatever the page size.
TASK_LIST = 9
MEMBER_LIST = 7
TOKEN_LIST = 7
# The routing hot path, at any project size and any member history. Here, as in the list counts above, the request
# also leaves the test's tenant and restores it (two statements a server does not run): the fixed cost, the
# project, the claim's savepoint (two), its progress row, the member's live work, the member's skills with the
# exclusions in force, the claim statement, and both events of the serve in one statement.
NEXT = 14
# The fixed cost, the locked assignment with its task and project, the submit's savepoint (two), one statement
# closing the assignment with its counters, the annotation row and its event.
SUBMIT = 12


@pytest.fixture
def admin(tenant):
    client, _ = member_client(tenant, Role.ADMIN)
    # The first request refreshes the token's last_used_at; later ones within the interval do not write.
    assert client.get("/api/v1/me").status_code == 200
    return client


@pytest.mark.parametrize("rows", [1, 30])
def test_project_list(admin, django_assert_num_queries, rows):
    for _ in range(rows):
        ProjectFactory(created_by=MembershipFactory().user)

    with django_assert_num_queries(PROJECT_LIST):
        response = admin.get("/api/v1/projects/")

    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("rows", [1, 100])
def test_task_list_page_of_100(admin, django_assert_num_queries, rows):
    project = ProjectFactory()
    TaskFactory.create_batch(rows, project=project)

    with django_assert_num_queries(TASK_LIST):
        response = admin.get(f"/api/v1/projects/{project.uuid}/tasks/", {"page_size": 100})

    assert len(response.json()["results"]) == rows


def test_task_list_with_filters_costs_the_same(admin, django_assert_num_queries):
    project = ProjectFactory()
    TaskFactory.create_batch(150, project=project, priority=5)

    with django_assert_num_queries(TASK_LIST):
        response = admin.get(f"/api/v1/projects/{project.uuid}/tasks/", {"priority_min": 1, "page_size": 100})

    assert len(response.json()["results"]) == 100


@pytest.mark.parametrize("rows", [1, 40])
def test_member_list(admin, django_assert_num_queries, rows):
    MembershipFactory.create_batch(rows)

    with django_assert_num_queries(MEMBER_LIST):
        response = admin.get("/api/v1/members/")

    assert len(response.json()["results"]) == rows + 1


@pytest.mark.parametrize("rows", [1, 40])
def test_token_list(admin, django_assert_num_queries, rows):
    for _ in range(rows):
        ApiTokenFactory(membership=MembershipFactory(role=Role.MANAGER))

    with django_assert_num_queries(TOKEN_LIST):
        response = admin.get("/api/v1/tokens/")

    assert len(response.json()["results"]) == rows + 1
    assert all(item["member"] for item in response.json()["results"])


@pytest.mark.parametrize("tasks", [1, 50])
def test_next_and_submit(tenant, django_assert_num_queries, tasks):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1)
    TaskFactory.create_batch(tasks + 2, project=project)
    client, _ = member_client(tenant, Role.ANNOTATOR)
    # One pair first: the token's last_used_at is refreshed and the member's progress row created.
    lease = client.post(f"/api/v1/projects/{project.uuid}/next").json()
    body = {"lease_token": lease["lease_token"], "result": {"sentiment": "positive"}}
    assert client.post(f"/api/v1/assignments/{lease['id']}/submit", body, format="json").status_code == 201

    with django_assert_num_queries(NEXT):
        claimed = client.post(f"/api/v1/projects/{project.uuid}/next")
    lease = claimed.json()
    body = {"lease_token": lease["lease_token"], "result": {"sentiment": "negative"}}
    with django_assert_num_queries(SUBMIT):
        submitted = client.post(f"/api/v1/assignments/{lease['id']}/submit", body, format="json")

    assert (claimed.status_code, submitted.status_code) == (201, 201)
