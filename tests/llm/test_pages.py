"""The model pages: admins add, change, disable and delete model connections (managers only see them, never a key),
a project's model budget on its settings page (admins set it, managers read it), and a project's recent calls.
Every refusal lands on the input it names and writes nothing; every change is on the audit trail."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from llm.models import ModelBudget, ModelCall, ModelConnection
from llm.services.connections import model_budget_set, unseal_api_key
from tenancy.models import Role
from tests.conftest import session_client
from tests.factories import (
    MembershipFactory,
    ModelConnectionFactory,
    ProjectFactory,
    TaskFactory,
    UserFactory,
)
from tests.llm.calls_support import ModelCallFactory

MODELS = "/models/"
# A public address given literally: vetted without a DNS lookup, and never contacted here.
ENDPOINT = "http://93.184.216.34:8000/v1"
NEW = {
    "new-name": "Lab gateway",
    "new-base_url": ENDPOINT + "/",
    "new-model": "lab-70b",
    "new-api_key": "sk-page-secret-0042",
    "new-temperature": "0.2",
    "new-top_p": "",
    "new-max_tokens": "512",
    "new-timeout_seconds": "30",
}


def client_as(tenant: Any, role: Role) -> Any:
    client, _ = session_client(tenant, role)
    return client


def edit_prefix(connection: ModelConnection) -> str:
    return f"edit-{connection.uuid.hex[:12]}"


def edit_body(connection: ModelConnection, **changes: str) -> dict[str, str]:
    prefix = edit_prefix(connection)
    body = {
        "name": connection.name,
        "base_url": ENDPOINT,
        "model": connection.model,
        "api_key": "",
        "temperature": "",
        "top_p": "",
        "max_tokens": "",
        "timeout_seconds": str(connection.timeout_seconds),
        **changes,
    }
    return {"action": "edit", **{f"{prefix}-{key}": value for key, value in body.items()}}


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))


# --- the connections page ---


def test_the_page_lists_connections_with_their_use_and_never_a_key(tenant):
    used = ModelConnectionFactory(
        name="reviewer", model="rev-70b", base_url=ENDPOINT, parameters={"temperature": 0.3}, api_key="sk-hidden-1"
    )
    ModelConnectionFactory(name="spare", base_url="https://models.lab.example:8443/v1", api_key="", enabled=False)
    ModelCallFactory(connection=used, prompt_tokens=100, completion_tokens=50)
    ModelCallFactory(connection=used, prompt_tokens=7, completion_tokens=3)
    old = ModelCallFactory(connection=used, prompt_tokens=1000, completion_tokens=1000)
    ModelCall.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))

    response = client_as(tenant, Role.ADMIN).get(MODELS)

    html = response.content.decode()
    assert response.status_code == 200
    assert "sk-hidden-1" not in html
    row = html.split(f'data-connection="{used.uuid}"', 1)[1].split("</tr>", 1)[0]
    assert "<code>rev-70b</code>" in row
    assert "<code>93.184.216.34:8000</code>" in row
    assert "API key set" in row
    assert '<span class="badge badge-quiet">temperature 0.3</span>' in row
    assert "timeout 5 s" in row
    assert '<td class="num">2</td>' in row
    assert '<td class="num">160</td>' in row
    assert "badge-success" in row
    spare = html.split("spare<span", 1)[1].split("</tr>", 1)[0]
    assert "<code>models.lab.example:8443</code>" in spare
    assert "no API key" in spare
    assert '<td class="num">0</td>' in spare
    assert '<span class="badge badge-failure">disabled</span>' in spare
    assert '<input type="password" name="new-api_key"' in html


def test_a_manager_sees_the_connections_but_no_form_and_may_not_post(tenant):
    ModelConnectionFactory(name="reviewer")
    client = client_as(tenant, Role.MANAGER)

    page = client.get(MODELS).content.decode()
    posted = client.post(MODELS, NEW)

    assert "reviewer" in page
    assert "Add a model connection" not in page
    assert 'name="action" value="delete"' not in page
    assert "Admins add and change model connections." in page
    assert posted.status_code == 403
    assert ModelConnection.objects.count() == 1


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_below_manager_the_page_is_forbidden(tenant, role):
    response = client_as(tenant, role).get(MODELS)

    assert response.status_code == 403
    assert actions()[-1:] == ["access.forbidden"]


def test_an_admin_adds_a_connection(tenant):
    response = client_as(tenant, Role.ADMIN).post(MODELS, NEW)

    assert response.status_code == 302
    assert response["Location"] == MODELS
    connection = ModelConnection.objects.get()
    assert (connection.name, connection.base_url, connection.model) == ("Lab gateway", ENDPOINT, "lab-70b")
    assert connection.parameters == {"temperature": 0.2, "max_tokens": 512}
    assert connection.timeout_seconds == 30
    assert unseal_api_key(connection.api_key_sealed, organization_id=tenant.pk) == "sk-page-secret-0042"
    assert "sk-page-secret" not in connection.api_key_sealed
    assert actions() == ["model_connection.create"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("base_url", "http://169.254.169.254/v1", "metadata"),
        ("base_url", "ftp://93.184.216.34/v1", "must be an http:// or https:// URL"),
        ("temperature", "3", "Must be between 0 and 2."),
        ("top_p", "1.5", "Must be between 0 and 1."),
        ("max_tokens", "0", "Must be between 1 and 131072."),
        ("timeout_seconds", "900", "Must be a whole number of seconds from 1 to 600."),
    ],
)
def test_a_refused_connection_shows_the_error_on_its_field_and_writes_nothing(tenant, field, value, message):
    response = client_as(tenant, Role.ADMIN).post(MODELS, {**NEW, f"new-{field}": value})

    html = response.content.decode()
    assert response.status_code == 400
    error = html.split(f'id="id_new-{field}_error"', 1)[1].split("</p>", 1)[0]
    assert message in error
    assert not ModelConnection.objects.exists()
    assert actions() == []


def test_a_name_taken_is_said_on_the_name(tenant):
    ModelConnectionFactory(name="Lab gateway")

    response = client_as(tenant, Role.ADMIN).post(MODELS, NEW)

    html = response.content.decode()
    assert response.status_code == 400
    assert '<p class="field-error" id="id_new-name_error">A model connection named &#x27;Lab gateway&#x27;' in html
    assert ModelConnection.objects.count() == 1


def test_an_admin_edits_a_connection_keeping_its_key_and_other_parameters(tenant):
    connection = ModelConnectionFactory(name="reviewer", base_url=ENDPOINT, parameters={"seed": 7, "top_p": 0.5})
    sealed = connection.api_key_sealed

    response = client_as(tenant, Role.ADMIN).post(
        f"{MODELS}{connection.uuid}", edit_body(connection, model="rev-2", temperature="0.9")
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.model == "rev-2"
    assert connection.parameters == {"seed": 7, "temperature": 0.9}
    assert connection.api_key_sealed == sealed
    assert actions() == ["model_connection.update"]


def test_an_admin_removes_the_stored_key(tenant):
    connection = ModelConnectionFactory(base_url=ENDPOINT)

    client_as(tenant, Role.ADMIN).post(f"{MODELS}{connection.uuid}", edit_body(connection, remove_api_key="on"))

    connection.refresh_from_db()
    assert connection.api_key_sealed == ""


def test_a_refused_edit_opens_its_form_with_the_error_and_changes_nothing(tenant):
    connection = ModelConnectionFactory(name="reviewer", base_url=ENDPOINT, model="rev-1")

    response = client_as(tenant, Role.ADMIN).post(
        f"{MODELS}{connection.uuid}", edit_body(connection, model="rev-2", temperature="-1")
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert '<details class="disclosure" open>' in html
    error = html.split(f'id="id_{edit_prefix(connection)}-temperature_error"', 1)[1].split("</p>", 1)[0]
    assert "Must be between 0 and 2." in error
    connection.refresh_from_db()
    assert connection.model == "rev-1"
    assert actions() == []


def test_an_admin_disables_and_enables_a_connection(tenant):
    connection = ModelConnectionFactory()
    client = client_as(tenant, Role.ADMIN)

    client.post(f"{MODELS}{connection.uuid}", {"action": "disable"})
    connection.refresh_from_db()
    disabled = connection.enabled
    client.post(f"{MODELS}{connection.uuid}", {"action": "enable"})
    connection.refresh_from_db()

    assert (disabled, connection.enabled) == (False, True)
    assert actions() == ["model_connection.update", "model_connection.update"]


def test_an_unused_connection_is_deleted(tenant):
    connection = ModelConnectionFactory()

    response = client_as(tenant, Role.ADMIN).post(f"{MODELS}{connection.uuid}", {"action": "delete"}, follow=True)

    assert not ModelConnection.objects.exists()
    assert "deleted" in response.content.decode()
    assert actions() == ["model_connection.delete"]


def test_deleting_a_connection_with_calls_is_refused_with_the_services_message(tenant):
    call = ModelCallFactory()

    response = client_as(tenant, Role.ADMIN).post(f"{MODELS}{call.connection.uuid}", {"action": "delete"}, follow=True)

    assert "Calls were made through this connection; disable it instead of deleting it." in response.content.decode()
    assert ModelConnection.objects.filter(pk=call.connection_id).exists()
    assert actions() == []


def test_an_unknown_action_is_a_400_naming_it(tenant):
    connection = ModelConnectionFactory()

    response = client_as(tenant, Role.ADMIN).post(f"{MODELS}{connection.uuid}", {"action": "rename"})

    assert response.status_code == 400
    assert response.content.decode() == "action: must be one of edit, enable, disable, delete."


def test_a_manager_may_not_change_a_connection(tenant):
    connection = ModelConnectionFactory()

    response = client_as(tenant, Role.MANAGER).post(f"{MODELS}{connection.uuid}", {"action": "disable"})

    assert response.status_code == 403
    connection.refresh_from_db()
    assert connection.enabled is True


# --- the budget on the settings page ---


def settings_url(project: Any) -> str:
    return f"/projects/{project.uuid}/settings"


def budget_url(project: Any) -> str:
    return f"/projects/{project.uuid}/model-budget"


def test_the_settings_page_shows_the_budget_and_an_admin_form(tenant):
    project = ProjectFactory()
    owner = MembershipFactory(role=Role.OWNER)
    model_budget_set(actor=owner, project=project, token_limit=1000, max_concurrent=3)
    ModelBudget.objects.filter(project=project).update(tokens_used=250)
    ModelCallFactory(project=project, state="running", stale_after=timezone.now() + timedelta(minutes=1))

    html = client_as(tenant, Role.ADMIN).get(settings_url(project)).content.decode()

    assert "250 of 1000 tokens used (25%)" in html
    assert '<progress id="model-budget-used" class="progress" max="100" value="25">' in html
    assert "<dt>Calls running</dt><dd>1</dd>" in html
    assert "<dt>Most at once</dt><dd>3</dd>" in html
    assert f'action="/projects/{project.uuid}/model-budget"' in html
    assert f'href="/projects/{project.uuid}/model-calls"' in html


def test_a_manager_reads_the_budget_without_a_form(tenant):
    project = ProjectFactory()

    html = client_as(tenant, Role.MANAGER).get(settings_url(project)).content.decode()

    assert "tokens used · no limit" in html
    assert "Admins set the budget." in html
    panel = html.split('id="model-budget"', 1)[1].split("</section>", 1)[0]
    assert "<form" not in panel


def test_an_admin_sets_the_budget(tenant):
    project = ProjectFactory()

    response = client_as(tenant, Role.ADMIN).post(budget_url(project), {"token_limit": "5000", "max_concurrent": "4"})

    assert response.status_code == 302
    assert response["Location"] == settings_url(project) + "#model-budget"
    budget = ModelBudget.objects.get(project=project)
    assert (budget.token_limit, budget.max_concurrent) == (5000, 4)
    assert actions() == ["model_budget.update"]


def test_an_empty_limit_means_none(tenant):
    project = ProjectFactory()
    model_budget_set(actor=MembershipFactory(role=Role.OWNER), project=project, token_limit=10)

    client_as(tenant, Role.ADMIN).post(budget_url(project), {"token_limit": "", "max_concurrent": "8"})

    assert ModelBudget.objects.get(project=project).token_limit is None


def test_a_refused_budget_shows_the_settings_page_with_the_error_on_its_field(tenant):
    project = ProjectFactory()

    response = client_as(tenant, Role.ADMIN).post(budget_url(project), {"token_limit": "-5", "max_concurrent": "0"})

    html = response.content.decode()
    assert response.status_code == 400
    limit = html.split('id="id_token_limit_error"', 1)[1].split("</p>", 1)[0]
    concurrent = html.split('id="id_max_concurrent_error"', 1)[1].split("</p>", 1)[0]
    assert "Must be a number of tokens, 0 or more, or null for no limit." in limit
    assert "Must be from 1 to 1000." in concurrent
    assert "Save settings" in html
    assert not ModelBudget.objects.exists()
    assert actions() == []


def test_a_manager_may_not_set_the_budget(tenant):
    project = ProjectFactory()

    response = client_as(tenant, Role.MANAGER).post(budget_url(project), {"token_limit": "1", "max_concurrent": "1"})

    assert response.status_code == 403
    assert not ModelBudget.objects.exists()


# --- the project's model calls ---


def calls_url(project: Any) -> str:
    return f"/projects/{project.uuid}/model-calls"


def test_the_calls_page_lists_calls_newest_first_with_who_and_which_task(tenant):
    project = ProjectFactory()
    task = TaskFactory(project=project, external_id="doc-17")
    member = MembershipFactory(user=UserFactory(name="Dr. Ada Byron"))
    first = ModelCallFactory(project=project, task=task, member=member, purpose="suggestion")
    second = ModelCallFactory(
        project=project, state="failed", error_code="timeout", ttft_ms=None, prompt_tokens=5, completion_tokens=0
    )

    html = client_as(tenant, Role.MANAGER).get(calls_url(project)).content.decode()

    assert html.index(f'data-call="{second.uuid}"') < html.index(f'data-call="{first.uuid}"')
    row = html.split(f'data-call="{first.uuid}"', 1)[1].split("</tr>", 1)[0]
    assert "<td>Dr. Ada Byron</td>" in row
    assert "<td>suggestion</td>" in row
    assert f'<a href="/projects/{project.uuid}/tasks/{task.uuid}">doc-17</a>' in row
    assert '<td class="num">30<span class="subline">10 in · 20 out</span></td>' in row
    assert '<td class="num">120 ms</td>' in row
    assert '<td class="num">840 ms</td>' in row
    failed = html.split(f'data-call="{second.uuid}"', 1)[1].split("</tr>", 1)[0]
    assert '<span class="muted">system</span>' in failed
    assert '<span class="badge badge-failure">failed</span><span class="subline">timeout</span>' in failed


def test_the_calls_page_pages_by_fifty(tenant):
    project = ProjectFactory()
    connection = ModelConnectionFactory()
    calls = ModelCallFactory.create_batch(51, project=project, connection=connection)
    client = client_as(tenant, Role.MANAGER)

    first = client.get(calls_url(project)).content.decode()
    second = client.get(f"{calls_url(project)}?after={calls[1].uuid}").content.decode()

    assert first.count("data-call=") == 50
    assert f'data-call="{calls[0].uuid}"' not in first
    assert f'href="{calls_url(project)}?after={calls[1].uuid}"' in first
    assert second.count("data-call=") == 1
    assert f'data-call="{calls[0].uuid}"' in second
    assert 'rel="next"' not in second


def test_a_malformed_cursor_is_a_400_naming_it(tenant):
    project = ProjectFactory()

    response = client_as(tenant, Role.MANAGER).get(f"{calls_url(project)}?after=nope")

    assert response.status_code == 400
    assert response.content.decode() == "after: not a model call of this project."


def test_the_calls_page_is_for_managers(tenant):
    project = ProjectFactory()

    assert client_as(tenant, Role.REVIEWER).get(calls_url(project)).status_code == 403


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(db_connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_lists_cost_the_same_queries_for_more_rows(tenant):
    project = ProjectFactory()
    used = ModelConnectionFactory()
    ModelCallFactory(project=project, connection=used, task=TaskFactory(project=project), member=MembershipFactory())
    client = client_as(tenant, Role.ADMIN)
    calls_before, models_before = _queries(client, calls_url(project)), _queries(client, MODELS)

    for _ in range(4):
        ModelCallFactory(project=project, task=TaskFactory(project=project), member=MembershipFactory())

    assert _queries(client, calls_url(project)) == calls_before
    assert _queries(client, MODELS) == models_before
