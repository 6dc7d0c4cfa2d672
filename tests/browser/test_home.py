"""The annotator's home page in a real browser: their latest answers with the reviewers' decisions, and their
own numbers."""

import pytest

from annotation.models import Annotation
from annotation.services.claim import assignment_claim
from annotation.services.review import annotation_review
from annotation.services.submit import annotation_submit
from core.context import organization_context
from tenancy.models import Role
from tests.browser.checks import page_check
from tests.browser.world import PASSWORD, make_lab, make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {"fields": [{"name": "answer", "type": "choices", "options": ["yes", "no"], "source": "question"}]}
QUESTIONS = ["Is Paris in France?", "Is Lyon a river?"]


def _answer_all(lab, project, decisions):
    """The annotator answers what they are served three times, taking 40 s, 60 s, 90 s; a reviewer decides on each
    answer in turn (an empty decision leaves it waiting)."""
    annotator, reviewer = lab.member(Role.ANNOTATOR), lab.member(Role.REVIEWER)
    with organization_context(lab.organization.pk), lab.as_owner():
        for seconds, (decision, comment) in zip((40, 60, 90), decisions, strict=True):
            assignment = assignment_claim(actor=annotator, project=project).assignment
            submitted = annotation_submit(
                actor=annotator,
                assignment=assignment,
                lease_token=assignment.lease_token,
                result={"answer": "yes"},
                time_spent_ms=seconds * 1000,
            )
            if decision:
                annotation_review(actor=reviewer, annotation=submitted.annotation, decision=decision, comment=comment)


def test_an_annotator_sees_what_reviewers_made_of_their_answers(page, live_server, sign_in, axe, screenshot):
    # Given a blind project where a reviewer accepted one answer and rejected one with a comment, which came back to
    # the annotator and was answered again
    lab = make_lab(roles=(Role.OWNER, Role.ANNOTATOR, Role.REVIEWER))
    project = make_project(
        lab,
        name="Secret geography study",
        codename="Heron",
        blind=True,
        label_schema=SCHEMA,
        review_mode="all",
        tasks=[{"question": question} for question in QUESTIONS],
    )
    _answer_all(
        lab,
        project,
        [("accept", ""), ("reject", "Lyon is a city, not a river: <i>read the question twice</i>."), ("", "")],
    )
    with organization_context(lab.organization.pk):
        assert Annotation.objects.count() == 3

    # When the annotator signs in
    sign_in(page, live_server.url, lab.member(Role.ANNOTATOR).user.email, PASSWORD)

    # Then their numbers and their latest answers are on their home page, the project by its codename only
    numbers = page.get_by_role("region", name="Your numbers")
    assert [item.inner_text().splitlines() for item in numbers.get_by_role("listitem").all()] == [
        ["3", "submitted in the last 7 days"],
        ["3", "submitted in all"],
        ["50%", "accepted, of 2 reviewed"],
        ["60 s", "median time on a task"],
    ]
    items = page.get_by_role("region", name="Your recent items")
    rows = [[cell.strip() for cell in row.locator("td").all_inner_texts()] for row in items.locator("tbody tr").all()]
    assert [row[:2] + row[3:] for row in rows] == [
        ["Heron", "t-2\nversion 2", "Waiting for review", "—"],
        ["Heron", "t-2", "Rejected", "Lyon is a city, not a river: <i>read the question twice</i>."],
        ["Heron", "t-1", "Accepted", "—"],
    ]
    assert items.locator("i").count() == 0
    assert "Secret geography study" not in page.content()
    page_check(page, axe, screenshot, "home-annotator-history")
