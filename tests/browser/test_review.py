"""The reviewer's pages in a real browser: the queue, a rejection with a comment that comes back to its
annotator, an acceptance and a correction, each stored as the review API would store it."""

import pytest

from annotation.models import Annotation, Review, ReviewState
from core.context import organization_context
from tenancy.models import Role
from tests.browser.world import PASSWORD, make_lab, make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "fields": [
        {"name": "verdict", "type": "choices", "options": ["relevant", "irrelevant"]},
        {"name": "confidence", "type": "rating", "min": 1, "max": 5, "labels": {"1": "guess", "5": "certain"}},
    ]
}


def _label_one(page, base_url, project, digits):
    page.goto(f"{base_url}/projects/{project.uuid}/label")
    page.locator("#workspace[data-state=labelling]").wait_for()
    for digit in digits:
        page.keyboard.press(digit)
    page.keyboard.press("Control+Enter")
    page.locator("#workspace[data-state=idle], #workspace[data-switch-ms]").first.wait_for()


def test_a_rejection_comes_back_to_its_annotator_with_the_comment(browser, page, live_server, sign_in, axe, screenshot):
    lab = make_lab(roles=(Role.OWNER, Role.ANNOTATOR, Role.REVIEWER))
    project = make_project(
        lab,
        name="Search relevance",
        label_schema=SCHEMA,
        review_mode="all",
        reject_returns_to="annotator",
        guidelines="Relevant means the page answers the query.",
        tasks=[
            {"query": "capital of France", "page": "Paris is the capital of France."},
            {"query": "q2", "page": "p2"},
        ],
    )
    annotator = lab.member(Role.ANNOTATOR)
    sign_in(page, live_server.url, annotator.user.email, PASSWORD)
    _label_one(page, live_server.url, project, ["2", "3"])  # irrelevant, 3
    _label_one(page, live_server.url, project, ["1", "5"])  # relevant, 5

    reviewer_context = browser.new_context(viewport={"width": 1280, "height": 800})
    reviewer = reviewer_context.new_page()
    try:
        sign_in(reviewer, live_server.url, lab.member(Role.REVIEWER).user.email, PASSWORD)
        reviewer.goto(f"{live_server.url}/review/")
        row = reviewer.locator("tr", has_text="Search relevance")
        assert row.locator("td").nth(1).inner_text() == "2"
        axe(reviewer)
        screenshot(reviewer, "review-queue")
        row.get_by_role("link", name="Review 2").click()
        reviewer.locator("#workspace[data-state=reviewing]").wait_for()
        # The annotator's answer, read-only, in the same fields they filled in.
        answer = reviewer.locator("[data-field=verdict] input[value=irrelevant]")
        assert answer.is_checked()
        assert answer.is_disabled()
        axe(reviewer)
        screenshot(reviewer, "review-workspace")

        first = reviewer.locator("#workspace").get_attribute("data-annotation")
        reviewer.keyboard.press("r")  # no comment yet: the comment box is focused instead
        assert reviewer.evaluate("() => document.activeElement.id") == "review-comment"
        reviewer.locator("#review-comment").fill("The page answers the query: it is relevant.")
        reviewer.get_by_role("button", name="Reject").click()
        reviewer.wait_for_function(
            "first => document.getElementById('workspace').dataset.annotation !== first", arg=first
        )

        # The second one: corrected (confidence 5 → 4), then the queue is empty.
        second = reviewer.locator("#workspace").get_attribute("data-annotation")
        reviewer.keyboard.press("c")
        reviewer.locator("[data-field=confidence] input[value='4']").check()
        reviewer.keyboard.press("c")
        reviewer.locator("#workspace[data-state=idle]").wait_for()
        assert "Nothing waiting for review" in reviewer.locator("#notice").inner_text()
    finally:
        reviewer_context.close()

    with organization_context(lab.organization.pk):
        rejected = Annotation.objects.get(uuid=first)
        assert rejected.review_state == ReviewState.REJECTED
        review = Review.objects.get(annotation=rejected)
        assert review.comment == "The page answers the query: it is relevant."
        corrected = Annotation.objects.get(uuid=second)
        correction = Review.objects.get(annotation=corrected).correction
        assert correction.result == {"verdict": "relevant", "confidence": 4}

    # The annotator asks for work again and gets the rejected task back, with the reviewer's comment.
    page.get_by_role("button", name="Check again").click()
    page.locator("#workspace[data-state=labelling]").wait_for()
    assert page.locator(".task-body .alert").inner_text().endswith("The page answers the query: it is relevant.")
    assert "capital of France" in page.locator(".task-body").inner_text()
    screenshot(page, "workspace-returned-after-review")
    page.keyboard.press("1")
    page.keyboard.press("4")
    page.keyboard.press("Control+Enter")
    page.locator("#workspace[data-state=idle]").wait_for()
    with organization_context(lab.organization.pk):
        versions = Annotation.objects.filter(task=rejected.task).order_by("version")
        assert [(a.version, a.result["verdict"]) for a in versions] == [(1, "irrelevant"), (2, "relevant")]
