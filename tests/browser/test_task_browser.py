"""The data browser in a real browser: a manager finds the rejected item of a labelled project, opens it with its
annotation, review comment, timeline and readers, and sends it back for one more annotation; then the disputed
items, a search, and a change to several ticked tasks at once."""

import re

import pytest

from annotation.services.claim import assignment_claim
from annotation.services.review import annotation_review
from annotation.services.submit import annotation_submit
from core.audit.context import ActorContext, actor_context
from core.context import organization_context
from projects.models import Project, Task
from projects.services.projects import project_create
from projects.services.tasks import task_bulk_create
from tenancy.models import Membership, Organization, Role
from tests.browser.checks import PASSWORD, member, page_check
from tests.factories import OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {"fields": [{"name": "finding", "type": "choices", "label": "Finding", "options": ["normal", "nodule"]}]}
TEXTS = {
    "cxr-1": "Clear lungs, no effusion.",
    "cxr-2": "Small nodule in the right upper lobe.",
    "cxr-3": "Normal heart size; lungs clear.",
    "cxr-4": "Possible nodule, follow up in six months.",
}


def _labelled_project(organization: Organization, manager: Membership) -> Project:
    """Four reports, each answered by one annotator and reviewed: one rejected with a comment, the rest accepted."""
    annotator = member(organization, Role.ANNOTATOR, "ana@northwind.example")
    reviewer = member(organization, Role.REVIEWER, "rui@northwind.example")
    actor = ActorContext(user_id=manager.user_id, user_label=manager.user.email, ip="127.0.0.1")
    with organization_context(organization.pk), actor_context(actor):
        project = project_create(
            actor=manager, name="Chest X-ray reports", label_schema=SCHEMA, review_mode="all", reject_returns_to="pool"
        )
        items = [{"external_id": key, "data": {"text": text}} for key, text in TEXTS.items()]
        task_bulk_create(actor=manager, project=project, items=items)
        for _ in TEXTS:
            claim = assignment_claim(actor=annotator, project=project)
            assert claim.assignment is not None
            external_id = claim.assignment.task.external_id
            submitted = annotation_submit(
                actor=annotator,
                assignment=claim.assignment,
                lease_token=claim.assignment.lease_token,
                result={"finding": "normal"},
            )
            if external_id == "cxr-2":
                comment = "The report names a nodule; the finding is not normal."
                annotation_review(actor=reviewer, annotation=submitted.annotation, decision="reject", comment=comment)
            else:
                annotation_review(actor=reviewer, annotation=submitted.annotation, decision="accept")
    return project


def test_a_manager_finds_the_rejected_item_opens_it_and_acts_on_it(live_server, page, screenshot, axe, sign_in):
    page.set_default_timeout(10_000)
    organization = OrganizationFactory(name="Northwind Lab")
    manager = member(organization, Role.MANAGER, "maria@northwind.example")
    project = _labelled_project(organization, manager)
    sign_in(page, live_server.url, manager.user.email, PASSWORD)

    page.goto(f"{live_server.url}/projects/{project.uuid}/")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Tasks").click()
    page.get_by_role("heading", name="4 tasks").wait_for()
    page_check(page, axe, screenshot, "manager-task-browser")

    # The rejected items: a filter, kept in the address.
    page.get_by_label("Review outcome").select_option("rejected")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="1 task matches").wait_for()
    assert "review=rejected" in page.url
    rows = page.locator("table.table-browser tbody tr")
    assert rows.count() == 1
    assert "Small nodule in the right upper lobe." in rows.first.inner_text()

    # Open it: the data, the annotation, the reviewer's comment, the timeline and who saw it.
    page.get_by_role("link", name="cxr-2").click()
    page.get_by_role("heading", name="Annotations").wait_for()
    assert "The report names a nodule; the finding is not normal." in page.locator("article").inner_text()
    timeline = page.locator("section", has=page.get_by_role("heading", name="Timeline")).inner_text()
    steps = r"claimed · ana@northwind.example.*submitted · ana@northwind.example.*review: reject"
    assert re.search(steps, timeline, re.S)
    readers = page.locator("section", has=page.get_by_role("heading", name="Who saw or changed it")).inner_text()
    assert "maria@northwind.example data_access.task_view" in readers
    # (The fixture's work was recorded under the manager's request context, so the serve names her too.)
    assert "data_access.task_serve" in readers
    assert "data_access.task_list" in readers
    page_check(page, axe, screenshot, "manager-task-file")

    # Act on it: one more annotation, and back on the same task with the change said.
    page.get_by_label("Change", exact=True).select_option("requeue")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("1 task(s) re-queued for one more annotation each.").wait_for()
    assert "/tasks/" in page.url
    with organization_context(organization.pk):
        assert Task.objects.get(project=project, external_id="cxr-2").overlap == 2

    # Back to the same filtered view, then several tasks at once from the full list.
    page.get_by_role("link", name="← Back to the tasks").click()
    assert "review=rejected" in page.url
    page.get_by_role("link", name="Clear filters").click()
    page.get_by_role("heading", name="4 tasks").wait_for()
    page.get_by_label("Tick cxr-1").check()
    page.get_by_label("Tick cxr-3").check()
    assert page.locator("#selected-count").inner_text() == "2 ticked"
    page.get_by_label("Change", exact=True).select_option("priority")
    page.get_by_label("New priority").fill("5")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("2 task(s) now have priority 5.").wait_for()
    with organization_context(organization.pk):
        priorities = dict(Task.objects.filter(project=project).values_list("external_id", "priority"))
    assert priorities == {"cxr-1": 5, "cxr-2": 0, "cxr-3": 5, "cxr-4": 0}

    # A search over the task data, by the start of a word.
    page.get_by_label("Search the data").fill("nodu")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="2 tasks match").wait_for()
    assert page.locator("table.table-browser tbody th").all_inner_texts() == ["cxr-2", "cxr-4"]
    page_check(page, axe, screenshot, "manager-task-browser-search")
