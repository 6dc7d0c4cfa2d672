"""The project dashboard and the workforce report through the Django test client: who may open them, what they
show of the labelled world, the period in the query string, a fixed query count, and the CSV download with its
audit event."""

import csv
import io
import re
from typing import Any

import pytest
from django.urls import reverse

from annotation.services.quality import annotator_pseudonym
from audit.models import AuditEvent
from core.context import organization_context
from projects.models import Project
from tenancy.models import Role, User
from tests.annotation.analytics_support import World, _submit, dec
from tests.annotation.analytics_support import world as world  # a fixture: pytest finds it by this name
from tests.conftest import session_client
from tests.factories import MembershipFactory, ProjectFactory, TaskFactory

PERIOD_QUERY = {"since": "2026-12-01", "until": "2026-12-03"}
# What every page costs (the session, the user, the member, the tenant's settings and the transaction's savepoints:
# 13 statements), the project, then the dashboard's own eight reads: completion, live tasks, submissions, review
# outcomes, agreement, annotators, their members, the agreement report.
DASHBOARD_QUERIES = 22


def _dashboard(project: Project) -> str:
    return reverse("project-dashboard", args=[project.uuid])


def _cells(html: str, row_start: str) -> list[str]:
    """The text of the table row that begins with `row_start`, cell by cell (tags dropped)."""
    row = html[html.index(row_start) :]
    row = row[: row.index("</tr>")]
    return [re.sub(r"<[^>]+>", " ", c).split() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_the_dashboard_is_for_managers(world: World, tenant: Any, role: Role) -> None:
    client, _ = session_client(tenant, role)

    response = client.get(_dashboard(world.project), PERIOD_QUERY)

    assert response.status_code == 403


def test_the_dashboard_draws_the_period_and_each_annotators_record(world: World, tenant: Any) -> None:
    client, _ = session_client(tenant, Role.MANAGER)

    response = client.get(_dashboard(world.project), PERIOD_QUERY)

    assert response.status_code == 200
    html = response.content.decode()
    for chart in ("chart-completion", "chart-throughput", "chart-reviews", "chart-agreement"):
        assert f'<svg class="chart" id="{chart}"' in html
    assert "Live tasks done by the end of each day: 3 of 5 on Dec 3, 2 more than on Dec 1." in html
    assert "8 annotations submitted from Dec 1 to Dec 3, at most 3 in a day." in html
    assert "1 accepted, 1 rejected, 1 corrected from Dec 1 to Dec 3." in html
    assert _cells(html, '<th scope="row">a@lab.example') == [
        ["a@lab.example"],
        ["4"],
        ["4.0", "s"],
        ["100%", "of", "1", "gold"],
        ["60%", "over", "5", "shared"],
        ["50%", "1", "of", "2", "reviewed"],
        ["0"],
    ]
    assert _cells(html, '<th scope="row">c@lab.example') == [
        ["c@lab.example"],
        ["1"],
        ["8.0", "s"],
        ["\N{EN DASH}"],
        ["0%", "over", "1", "shared"],
        ["\N{EN DASH}"],
        ["1"],
    ]
    assert 'value="2026-12-01"' in html
    assert 'value="2026-12-03"' in html


def test_a_blind_projects_dashboard_shows_pseudonyms(world: World, tenant: Any) -> None:
    Project.objects.filter(pk=world.project.pk).update(blind=True)
    client, _ = session_client(tenant, Role.MANAGER)

    html = client.get(_dashboard(world.project), PERIOD_QUERY).content.decode()

    assert "Pseudonyms: this project is blind." in html
    for member in (world.a, world.b, world.c):
        assert annotator_pseudonym(project_uuid=world.project.uuid, member_uuid=member.uuid) in html
        assert member.user.email not in html


def test_the_period_defaults_to_the_last_30_days(world: World, tenant: Any) -> None:
    client, _ = session_client(tenant, Role.MANAGER)

    response = client.get(_dashboard(world.project))

    assert response.status_code == 200
    chart = response.content.decode().split('id="chart-throughput"')[1].split("</svg>")[0]
    assert chart.count('<line class="chart-tick-mark"') == 30


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ({"since": "2026-12-04", "until": "2026-12-03"}, "Must be on or before the end of the period."),
        ({"since": "2025-01-01", "until": "2026-12-03"}, "A period is at most 366 days."),
        ({"since": "yesterday"}, "Enter a valid date."),
    ],
)
def test_a_wrong_period_is_said_on_its_field(world: World, tenant: Any, query: dict[str, str], error: str) -> None:
    client, _ = session_client(tenant, Role.MANAGER)

    response = client.get(_dashboard(world.project), query)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert b'class="chart"' not in response.content


@pytest.mark.parametrize("more", [0, 1])
def test_the_dashboard_costs_the_same_however_much_work_it_shows(
    world: World, tenant: Any, django_assert_num_queries: Any, more: int
) -> None:
    for n in range(more * 5):
        annotator = MembershipFactory()
        _submit(TaskFactory(project=world.project), annotator, dec(1 + n % 3), ms=1000 * (n + 1))
    client, _ = session_client(tenant, Role.MANAGER)

    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get(_dashboard(world.project), PERIOD_QUERY)

    assert response.status_code == 200
    assert response.content.decode().count('<th scope="row">person') == more * 5


# --- the workforce report ---


def test_the_workforce_report_is_for_admins(world: World, tenant: Any) -> None:
    client, _ = session_client(tenant, Role.MANAGER)

    assert client.get(reverse("workforce"), PERIOD_QUERY).status_code == 403
    assert client.get(reverse("workforce-export"), PERIOD_QUERY).status_code == 403
    assert not AuditEvent.objects.filter(action="data_access.workforce_export").exists()


def test_the_workforce_report_lists_hours_and_items(world: World, tenant: Any) -> None:
    client, _ = session_client(tenant, Role.ADMIN)

    response = client.get(reverse("workforce"), PERIOD_QUERY)

    assert response.status_code == 200
    html = response.content.decode()
    assert _cells(html, '<th scope="row">a@lab.example')[1:] == [["5"], ["1.00"], ["0.50"], ["1"], ["0"], ["2"]]
    assert _cells(html, '<th scope="row">c@lab.example')[1:] == [["1"], ["0.00"], ["0.25"], ["1"], ["1"], ["1"]]
    assert "export.csv?since=2026-12-01&amp;until=2026-12-03" in html


def test_the_csv_is_formula_safe_and_its_download_is_on_record(world: World, tenant: Any) -> None:
    User.objects.filter(pk=world.a.user_id).update(name='=HYPERLINK("http://evil.example","x")')
    client, admin = session_client(tenant, Role.ADMIN)

    response = client.get(reverse("workforce-export"), PERIOD_QUERY)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="workforce-2026-12-01-2026-12-03.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "member_id", "email", "name", "items", "hours_on_task", "hours_leased", "leases", "skipped", "projects",
        "since", "until", "project",
    ]  # fmt: skip
    assert rows[1] == [
        str(world.a.uuid), "a@lab.example", '\'=HYPERLINK("http://evil.example","x")', "5", "1.003", "0.5", "1", "0",
        "2", "2026-12-01", "2026-12-03", "",
    ]  # fmt: skip
    assert [row[1] for row in rows[1:]] == ["a@lab.example", "b@lab.example", "c@lab.example"]
    event = AuditEvent.objects.get(action="data_access.workforce_export")
    assert (event.category, event.outcome, event.actor_user_id, event.target_id, event.metadata) == (
        "data_access",
        "success",
        admin.user_id,
        "",
        {"since": "2026-12-01", "until": "2026-12-03", "project": None, "rows": 3},
    )


def test_the_csv_of_one_project(world: World, tenant: Any) -> None:
    client, _ = session_client(tenant, Role.OWNER)

    response = client.get(reverse("workforce-export"), {**PERIOD_QUERY, "project": str(world.other.uuid)})

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [row[1:] for row in rows[1:]] == [
        ["a@lab.example", world.a.user.name, "1", "1.0", "0.0", "0", "0", "1", "2026-12-01", "2026-12-03", "Other"]
    ]
    event = AuditEvent.objects.get(action="data_access.workforce_export")
    assert (event.target_type, event.target_id, event.metadata["project"], event.metadata["rows"]) == (
        "projects.project",
        str(world.other.uuid),
        str(world.other.uuid),
        1,
    )


def test_a_project_of_another_organization_is_refused_on_its_field(
    world: World, tenant: Any, other_tenant: Any
) -> None:
    with organization_context(other_tenant.pk):
        theirs = ProjectFactory(name="Theirs")
    client, _ = session_client(tenant, Role.ADMIN)

    response = client.get(reverse("workforce-export"), {**PERIOD_QUERY, "project": str(theirs.uuid)})

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not AuditEvent.objects.filter(action="data_access.workforce_export").exists()
