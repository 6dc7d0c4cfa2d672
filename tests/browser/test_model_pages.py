"""The model pages in a real browser: an admin adds a model connection (a refused endpoint said on its input first),
edits and disables it; sets a project's model budget on its settings page; reads the project's recent model calls.
A manager sees the connections and the budget without a way to change them."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from core.context import organization_context
from llm.models import ModelBudget, ModelConnection
from projects.services.projects import project_create
from tenancy.models import Role
from tests.browser.checks import PASSWORD, member, page_check
from tests.factories import ModelConnectionFactory, OrganizationFactory, TaskFactory
from tests.llm.calls_support import ModelCallFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A public address given literally: vetted without a DNS lookup, and never contacted by this test.
ENDPOINT = "http://93.184.216.34:8000/v1"


def test_admin_manages_model_connections_and_a_projects_budget(live_server, page, screenshot, axe, sign_in):
    page.set_default_timeout(10_000)
    organization = OrganizationFactory(name="Northwind Lab")
    admin = member(organization, Role.ADMIN, "adam@northwind.example")
    manager = member(organization, Role.MANAGER, "mia@northwind.example")
    with organization_context(organization.pk):
        project = project_create(actor=admin, name="Radiology notes")
        task = TaskFactory(project=project, external_id="note-7", data={"text": "x"})
        ModelConnectionFactory(name="judge-small", base_url=ENDPOINT, model="judge-8b", parameters={"top_p": 0.9})
    sign_in(page, live_server.url, admin.user.email, PASSWORD)

    page.goto(f"{live_server.url}/members/")
    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Models").click()
    page.get_by_role("heading", level=1, name="Models").wait_for()

    # A metadata address is refused on the base URL's input; nothing is added.
    form = page.get_by_role("region", name="Add a model connection")
    form.get_by_label("Name", exact=True).fill("reviewer-70b")
    form.get_by_label("Base URL").fill("http://169.254.169.254/v1")
    form.get_by_label("Model", exact=True).fill("lab-70b-rc3")
    form.get_by_label("API key").fill("sk-browser-secret-9")
    form.get_by_label("Temperature").fill("0.2")
    form.get_by_label("Max tokens").fill("512")
    page.get_by_role("button", name="Add connection").click()
    error = page.locator("#id_new-base_url_error")
    error.wait_for()
    assert "metadata" in error.inner_text()
    form = page.get_by_role("region", name="Add a model connection")
    assert form.get_by_label("Base URL").get_attribute("aria-invalid") == "true"
    # The key is never sent back, even to the form that posted it.
    assert "sk-browser-secret-9" not in page.content()
    # The refused form's 400, logged by the browser, was the point.
    assert [e for e in page.console_errors if "400" not in e] == []
    page.console_errors.clear()
    page_check(page, axe, screenshot, "models-refused")

    form.get_by_label("Base URL").fill(ENDPOINT)
    form.get_by_label("API key").fill("sk-browser-secret-9")
    page.get_by_role("button", name="Add connection").click()
    page.get_by_text("Model connection “reviewer-70b” added.").wait_for()
    row = page.get_by_role("row", name=re.compile("^reviewer-70b"))
    assert re.search(r"93\.184\.216\.34:8000\s*API key set", row.inner_text())
    assert "max_tokens 512" in row.inner_text()
    assert "sk-browser-secret-9" not in page.content()

    # Edit: an out-of-range value is said on its input, inside the reopened form; then a valid change is saved.
    page.get_by_text("Edit reviewer-70b").click()
    editor = page.locator("details", has_text="Edit reviewer-70b")
    editor.get_by_label("Top p").fill("1.5")
    editor.get_by_role("button", name="Save reviewer-70b").click()
    editor = page.locator("details[open]", has_text="Edit reviewer-70b")
    assert "Must be between 0 and 1." in editor.locator(".field-error").inner_text()
    page.console_errors.clear()  # the refused edit's 400
    editor.get_by_label("Top p").fill("0.8")
    editor.get_by_role("button", name="Save reviewer-70b").click()
    page.get_by_text("Model connection “reviewer-70b” saved.").wait_for()
    page.get_by_role("button", name="Disable judge-small").click()
    page.get_by_text("“judge-small” is disabled").wait_for()
    with organization_context(organization.pk):
        added = ModelConnection.objects.get(name="reviewer-70b")
        assert added.parameters == {"temperature": 0.2, "top_p": 0.8, "max_tokens": 512}
        assert ModelConnection.objects.get(name="judge-small").enabled is False
        for extra in range(3):
            ModelCallFactory(
                connection=added,
                project=project,
                task=task,
                member=admin,
                purpose="suggestion",
                prompt_tokens=400,
                completion_tokens=120 + extra,
                ttft_ms=180.0,
                latency_ms=2300.0,
            )
        ModelCallFactory(
            connection=added,
            project=project,
            purpose="judge",
            state="failed",
            error_code="timeout",
            prompt_tokens=380,
            completion_tokens=0,
            ttft_ms=None,
            latency_ms=30000.0,
            finished_at=timezone.now() + timedelta(seconds=1),
        )
    page.reload()
    page_check(page, axe, screenshot, "models-admin")

    # The budget, on the project's settings page.
    page.goto(f"{live_server.url}/projects/{project.uuid}/settings")
    budget = page.get_by_role("region", name="Model budget")
    budget.get_by_label("Token limit").fill("-1")
    budget.get_by_role("button", name="Save budget").click()
    page.locator("#id_token_limit_error").wait_for()
    assert "0 or more" in page.locator("#id_token_limit_error").inner_text()
    page.console_errors.clear()  # the refused budget's 400
    budget = page.get_by_role("region", name="Model budget")
    budget.get_by_label("Token limit").fill("5000")
    budget.get_by_label("Calls at once").fill("4")
    budget.get_by_role("button", name="Save budget").click()
    page.get_by_text("Model budget saved.").wait_for()
    with organization_context(organization.pk):
        ModelBudget.objects.filter(project=project).update(tokens_used=1941)
    page.reload()
    assert "1941 of 5000 tokens used (39%)" in page.get_by_role("region", name="Model budget").inner_text()
    page_check(page, axe, screenshot, "project-settings-model-budget")

    page.get_by_role("link", name="Recent model calls →").click()
    page.get_by_role("heading", level=2, name="Model calls").wait_for()
    rows = page.locator("tbody tr")
    assert rows.count() == 4
    assert re.search(r"judge\s+reviewer-70b", rows.nth(0).inner_text())
    assert "timeout" in rows.nth(0).inner_text()
    rows.nth(1).get_by_role("link", name="note-7").wait_for()
    page_check(page, axe, screenshot, "project-model-calls")

    # A manager sees the connections and the budget, and can change neither.
    page.context.clear_cookies()
    sign_in(page, live_server.url, manager.user.email, PASSWORD)
    page.goto(f"{live_server.url}/models/")
    assert page.get_by_role("row", name=re.compile("^reviewer-70b")).count() == 1
    assert page.get_by_role("button").filter(has_text=re.compile("Delete|Disable|Add")).count() == 0
    page_check(page, axe, screenshot, "models-manager")
    page.goto(f"{live_server.url}/projects/{project.uuid}/settings")
    assert page.get_by_role("region", name="Model budget").get_by_text("Admins set the budget.").count() == 1
