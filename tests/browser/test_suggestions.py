"""Suggestions in the labelling workspace, in a real browser: pre-filled and marked with their agent and score,
accepted by submitting, the mark gone once the annotator changes the value, and what the server recorded."""

import pytest

from annotation.models import Annotation
from core.context import organization_context
from projects.services.tasks import task_bulk_create
from tenancy.models import Role
from tests.browser.checks import page_check
from tests.browser.world import PASSWORD, make_lab, make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "fields": [
        {"name": "sentiment", "type": "choices", "options": ["positive", "negative", "neutral"], "source": "text"},
        {"name": "topics", "type": "choices", "options": ["bug", "billing", "ux"], "multiple": True},
        {"name": "stars", "type": "rating", "min": 1, "max": 5},
        {"name": "summary", "type": "text", "required": False},
    ]
}
SUGGESTIONS = {
    "sentiment": {"value": "negative", "agent": "model-x@v3", "score": 0.83},
    "topics": {"value": ["billing"], "agent": "model-x@v3", "score": 0.61},
    "stars": {"value": 2, "agent": "rater@v1"},
}


def _project_with_suggestions(lab, **fields):
    project = make_project(lab, name="Support tickets", label_schema=SCHEMA, overlap=1, **fields)
    item = {"external_id": "ticket-1", "data": {"text": "I was charged twice this month."}, "suggestions": SUGGESTIONS}
    with organization_context(lab.organization.pk), lab.as_owner():
        task_bulk_create(actor=lab.member(Role.OWNER), project=project, items=[item])
    return project


def _open(page, live_server, sign_in, lab, project):
    sign_in(page, live_server.url, lab.member(Role.ANNOTATOR).user.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.uuid}/label")
    page.locator("#workspace[data-state=labelling]").wait_for()


def _marks(page):
    return {m.get_attribute("data-suggestion"): m.inner_text() for m in page.locator(".suggestion-mark").all()}


def test_suggestions_are_prefilled_and_marked_and_changing_one_clears_its_mark(
    page, live_server, sign_in, axe, screenshot
):
    lab = make_lab()
    project = _project_with_suggestions(lab)
    _open(page, live_server, sign_in, lab, project)

    assert page.locator("[data-field=sentiment] input[value=negative]").is_checked()
    assert page.locator("[data-field=topics] input[value=billing]").is_checked()
    assert not page.locator("[data-field=topics] input[value=bug]").is_checked()
    assert page.locator("[data-field=stars] input[value='2']").is_checked()
    assert _marks(page) == {
        "sentiment": "Suggested by model-x@v3 (0.83)",
        "topics": "Suggested by model-x@v3 (0.61)",
        "stars": "Suggested by rater@v1",
    }
    page_check(page, axe, screenshot, "workspace-suggestions-prefilled")

    page.locator("[data-field=topics] input[value=bug]").check()
    assert set(_marks(page)) == {"sentiment", "stars"}
    # Back to the suggested value: the mark stays gone, the answer is the annotator's now.
    page.locator("[data-field=topics] input[value=bug]").uncheck()
    assert set(_marks(page)) == {"sentiment", "stars"}
    page.locator("[data-field=stars] .scale-point").nth(3).click()
    assert set(_marks(page)) == {"sentiment"}
    screenshot(page, "workspace-suggestions-changed")

    page.locator("#submit").click()
    page.locator("#workspace[data-state=idle]").wait_for()

    with organization_context(lab.organization.pk):
        annotation = Annotation.objects.get()
    assert annotation.result == {"sentiment": "negative", "topics": ["billing"], "stars": 4}
    assert annotation.suggestions == {
        "sentiment": {"shown": True, "kept": True, "agent": "model-x@v3", "score": 0.83},
        # Put back as suggested after a change: the server, comparing values, counts it kept.
        "topics": {"shown": True, "kept": True, "agent": "model-x@v3", "score": 0.61},
        "stars": {"shown": True, "kept": False, "agent": "rater@v1", "score": None},
    }


def test_a_blind_project_marks_suggestions_without_their_agent(page, live_server, sign_in, axe, screenshot):
    lab = make_lab()
    project = _project_with_suggestions(lab, blind=True, codename="Heron")
    _open(page, live_server, sign_in, lab, project)

    assert _marks(page) == {
        "sentiment": "Suggested (0.83)",
        "topics": "Suggested (0.61)",
        "stars": "Suggested",
    }
    assert "model-x" not in page.content()
    page_check(page, axe, screenshot, "workspace-suggestions-blind")


def test_a_project_that_shows_no_suggestions_leaves_the_form_empty(page, live_server, sign_in):
    lab = make_lab()
    project = _project_with_suggestions(lab, show_suggestions=False)
    _open(page, live_server, sign_in, lab, project)

    assert _marks(page) == {}
    assert page.locator("#task-fields input:checked").count() == 0


def test_the_quality_page_shows_how_often_suggestions_were_kept(page, live_server, sign_in, axe, screenshot):
    lab = make_lab(roles=(Role.OWNER, Role.MANAGER, Role.ANNOTATOR))
    project = _project_with_suggestions(lab)
    _open(page, live_server, sign_in, lab, project)
    page.locator("#submit").click()  # every suggestion accepted as it is
    page.locator("#workspace[data-state=idle]").wait_for()
    page.context.clear_cookies()

    sign_in(page, live_server.url, lab.member(Role.MANAGER).user.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.uuid}/quality")

    rows = page.locator("#suggestion-acceptance tbody tr").all_inner_texts()
    assert [" ".join(r.split()) for r in rows] == [
        "sentiment 1 1 100%",
        "stars 1 1 100%",
        "topics 1 1 100%",
        "model-x@v3 2 2 100%",
        "rater@v1 1 1 100%",
    ]
    page.locator("#suggestion-acceptance").scroll_into_view_if_needed()
    page_check(page, axe, screenshot, "quality-suggestion-acceptance")
