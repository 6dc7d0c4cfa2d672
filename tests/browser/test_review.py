"""The reviewer's pages in a real browser: the queue, a rejection with a comment that comes back to its
annotator, an acceptance and a correction, each stored as the review API would store it."""

import pytest

from annotation.models import Annotation, Review, ReviewState
from annotation.services.quality import annotator_pseudonym
from core.context import organization_context
from tenancy.models import Role
from tests.browser.checks import member
from tests.browser.world import PASSWORD, make_lab, make_project, upload_image
from tests.factories import AnnotationFactory, TaskFactory
from tests.schemas import ALL_TYPES_RESULT, ALL_TYPES_SCHEMA, all_types_data

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
        # The annotator's answer, drawn for reading: the chosen option marked, no controls to mistake for a form.
        answer = reviewer.locator("#task-fields")
        chosen = answer.locator("[data-field=verdict] .ro-chosen")
        assert (chosen.get_attribute("data-value"), chosen.locator(".ro-mark").inner_text()) == ("irrelevant", "✓")
        assert answer.locator("[data-field=confidence] .ro-chosen").get_attribute("data-value") == "3"
        assert answer.locator("input").count() == 0
        axe(reviewer)
        screenshot(reviewer, "review-workspace")

        first = reviewer.locator("#workspace").get_attribute("data-annotation")
        reviewer.keyboard.press("r")  # no comment yet: the comment box is focused instead
        assert reviewer.evaluate("() => document.activeElement.id") == "review-comment"
        reviewer.locator("#review-comment").fill("The page answers the query: it is relevant.")
        reviewer.keyboard.press("Control+Enter")  # from the comment: reject with it
        reviewer.wait_for_function(
            "first => document.getElementById('workspace').dataset.annotation !== first", arg=first
        )

        # The second one: corrected (confidence 5 → 4), then the queue is empty.
        second = reviewer.locator("#workspace").get_attribute("data-annotation")
        reviewer.keyboard.press("c")
        # Correcting turns the answer into the labelling fields, filled with the annotator's values.
        assert reviewer.locator("#task-fields [data-field=confidence] input[value='5']").is_checked()
        screenshot(reviewer, "review-correcting")
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


# --- What the reviewer sees: the whole answer beside the task, drawn for reading, and the decision in view --------

WINDOW_HEIGHT = 800  # the page fixture's viewport: 1280 by 800
CRITERIA = [
    "Accuracy",
    "Completeness",
    "Clarity",
    "Tone",
    "Safety",
    "Concision",
    "Sources",
    "Formatting",
    "Helpfulness",
]
LLM_SCHEMA = {
    "fields": [
        {"name": "preference", "type": "pairwise", "source": "pair", "strength": True, "rationale": "optional"},
        {
            "name": "quality",
            "type": "rubric",
            "label": "Rubric for the better response",
            "criteria": [{"name": name.lower(), "label": name, "min": 1, "max": 5} for name in CRITERIA],
        },
        {
            "name": "flags",
            "type": "choices",
            "options": ["unsafe", "off-topic", "bug"],
            "multiple": True,
            "required": False,
        },
    ]
}
LLM_DATA = {
    "prompt": "Explain what a database index is to a new engineer.",
    "pair": [
        {"id": "a", "content": "An index is a sorted copy of some columns that lets the database find rows quickly."},
        {"id": "b", "content": "Indexes make things faster."},
    ],
}
UNDER_REVIEW = {
    "preference": {"preferred": "a", "strength": 3, "rationale": "A explains the idea; B only names it."},
    "quality": {name.lower(): 1 + i % 5 for i, name in enumerate(CRITERIA)},
    "flags": ["bug"],
}
OTHER = {"preference": {"preferred": "b", "strength": 1}, "quality": {n.lower(): 2 for n in CRITERIA}, "flags": []}


def _annotations(lab, project, task, results):
    """`results` stored as pending answers of `task` by new annotators (ann-0@…, ann-1@…), first one first."""
    stored = []
    with organization_context(lab.organization.pk):
        for index, result in enumerate(results):
            annotator = member(lab.organization, Role.ANNOTATOR, f"ann-{index}@{lab.organization.slug}.example")
            stored.append(
                AnnotationFactory(
                    project=project,
                    task=task,
                    annotator=annotator,
                    result=result,
                    review_state="pending",
                    review_level=1,
                )
            )
    return stored


def _open_review(page, sign_in, base_url, lab, project):
    sign_in(page, base_url, lab.member(Role.REVIEWER).user.email, PASSWORD)
    page.console_errors.clear()  # from here on, only the review page's own errors count
    page.goto(f"{base_url}/projects/{project.uuid}/review")
    page.locator("#workspace[data-state=reviewing]").wait_for()


def _chosen(locator):
    return locator.locator(".ro-chosen").evaluate_all("items => items.map(i => i.dataset.value)")


def test_the_whole_answer_and_the_decision_fit_above_the_fold(page, live_server, sign_in, axe, screenshot):
    lab = make_lab(roles=(Role.OWNER, Role.REVIEWER))
    project = make_project(lab, name="Assistant answers", label_schema=LLM_SCHEMA, review_mode="all")
    with organization_context(lab.organization.pk):
        task = TaskFactory(project=project, external_id="chat-1", data=LLM_DATA)
    first, second = _annotations(lab, project, task, [UNDER_REVIEW, OTHER])

    _open_review(page, sign_in, live_server.url, lab, project)

    # The decision is within the 1280 by 800 window, and so is the start of the answer beside the task.
    for name in ("accept", "reject", "correct"):
        box = page.locator(f"#{name}").bounding_box()
        assert 0 <= box["y"] <= WINDOW_HEIGHT - box["height"], (name, box)
    assert page.locator("#review-comment").bounding_box()["y"] + 20 <= WINDOW_HEIGHT
    answer = page.locator("#task-fields")
    assert answer.bounding_box()["x"] > page.locator("#task-content").bounding_box()["x"] + 300
    # Nothing of the answer is clipped by an inner scroll box: every panel is as tall as its content.
    clipped = page.evaluate(
        "() => [...document.querySelectorAll('#task-content, #task-fields, #others, .review-side')]"
        ".filter(e => e.scrollHeight > e.clientHeight + 1).map(e => e.id || e.className)"
    )
    assert clipped == []
    # Every field is drawn, the chosen values marked: preference A, "Much", the rationale, all nine criteria, "bug".
    assert answer.locator(".ro-field").evaluate_all("f => f.map(e => e.dataset.field)") == [
        "preference",
        "quality",
        "flags",
    ]
    preference = answer.locator("[data-field=preference]")
    assert _chosen(preference) == ["a", "3"]
    assert preference.locator(".ro-chosen .ro-option-text").all_inner_texts() == ["Response A is better", "Much"]
    assert preference.locator(".ro-text").inner_text() == "A explains the idea; B only names it."
    assert _chosen(answer.locator("[data-field=quality]")) == [str(1 + i % 5) for i in range(len(CRITERIA))]
    assert answer.locator("[data-field=quality] .rubric-name").all_inner_texts() == CRITERIA
    assert _chosen(answer.locator("[data-field=flags]")) == ["bug"]
    assert answer.locator("input").count() == 0  # drawn for reading: no disabled controls
    # Chosen and unchosen look different: strong ink on the chosen option, muted ink on the others.
    styles = answer.locator("[data-field=flags] .ro-option").evaluate_all(
        "items => items.map(i => [i.dataset.value, getComputedStyle(i).color, getComputedStyle(i).fontWeight])"
    )
    assert styles == [
        ["unsafe", "rgb(89, 99, 110)", "400"],
        ["off-topic", "rgb(89, 99, 110)", "400"],
        ["bug", "rgb(27, 31, 36)", "700"],
    ]

    # Named the same way as the answer under review: by e-mail on a project that is not blind.
    heading = page.locator("#answer-heading").inner_text()
    assert heading == f"Answer by ann-0@{lab.organization.slug}.example"
    other = page.locator(f".review-other[data-annotation='{second.uuid}']")
    other.wait_for()
    assert other.locator(".review-other-title").inner_text().startswith(f"ann-1@{lab.organization.slug}.example")
    assert _chosen(other.locator("[data-field=preference]")) == ["b", "1"]
    assert _chosen(other.locator("[data-field=quality]")) == ["2"] * len(CRITERIA)
    assert other.locator("[data-field=flags] .ro-chosen").count() == 0
    assert "[" not in page.locator("#others").inner_text()  # no raw JSON
    assert page.locator("#gold").is_hidden()
    axe(page)
    screenshot(page, "review-rubric-pairwise")
    assert page.console_errors == []

    # Scrolled to the end of a long answer, the decision is still in view.
    page.mouse.wheel(0, 2000)
    page.wait_for_function("() => window.scrollY > 0")
    box = page.locator("#accept").bounding_box()
    assert 0 <= box["y"] <= WINDOW_HEIGHT - box["height"]

    # Letters typed in the comment are text, not decisions; Esc leaves the comment and A accepts.
    page.locator("#review-comment").click()
    page.keyboard.type("Rare case: accept")
    assert page.locator("#review-comment").input_value() == "Rare case: accept"
    assert page.locator("#workspace").get_attribute("data-annotation") == str(first.uuid)
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    page.locator(f"#workspace[data-annotation='{second.uuid}']").wait_for()
    page.locator(f".review-other[data-annotation='{first.uuid}']").wait_for()  # settled: its requests are done
    with organization_context(lab.organization.pk):
        review = Review.objects.get(annotation=first)
        assert (review.decision, review.comment) == ("accept", "Rare case: accept")


def test_a_gold_task_shows_its_known_answer_and_a_blind_project_names_everyone_by_pseudonym(
    page, live_server, sign_in, axe, screenshot
):
    lab = make_lab(roles=(Role.OWNER, Role.REVIEWER))
    project = make_project(
        lab, name="Every field", codename="Heron", blind=True, label_schema=ALL_TYPES_SCHEMA, review_mode="all"
    )
    image = {"key": upload_image(lab, project, 320, 240), "width": 320, "height": 240}
    with organization_context(lab.organization.pk):
        task = TaskFactory(
            project=project,
            external_id="gold-1",
            data=all_types_data(image),
            is_gold=True,
            gold_answer=ALL_TYPES_RESULT,
        )
    under_review = {
        **ALL_TYPES_RESULT,
        "sentiment": "mixed",
        "topics": [],
        "preference": {"preferred": "tie", "rationale": "Both are short."},
        "order": {"r3": 1, "r1": 2, "r2": 2},
    }
    first, second = _annotations(lab, project, task, [under_review, ALL_TYPES_RESULT])

    _open_review(page, sign_in, live_server.url, lab, project)

    # Blind: the answer under review and the other answer are both named by their pseudonym, nobody by e-mail.
    names = [annotator_pseudonym(project_uuid=project.uuid, member_uuid=a.annotator.uuid) for a in (first, second)]
    assert page.locator("#answer-heading").inner_text() == f"Answer by {names[0]}"
    other = page.locator(f".review-other[data-annotation='{second.uuid}']")
    other.wait_for()
    assert other.locator(".review-other-title").inner_text().startswith(names[1])
    assert "@" not in page.locator("#workspace").inner_text()

    # The answer under review, every type drawn for reading.
    answer = page.locator("#task-fields")
    assert _chosen(answer.locator("[data-field=sentiment]")) == ["mixed"]
    assert _chosen(answer.locator("[data-field=topics]")) == []
    assert _chosen(answer.locator("[data-field=score]")) == ["4"]
    assert answer.locator("[data-field=answer] .ro-text").inner_text() == "Looks right"
    assert answer.locator("[data-field=entities] .ro-quote").all_inner_texts() == ["Alice", "Acme Corp"]
    assert _chosen(answer.locator("[data-field=preference]")) == ["tie"]  # a tie has no strength to show
    assert answer.locator("[data-field=preference] .ro-text").inner_text() == "Both are short."
    assert answer.locator("[data-field=order] .ro-rank").evaluate_all("r => r.map(i => i.dataset.id)") == [
        "r3",
        "r1",
        "r2",
    ]
    assert answer.locator("[data-field=order] .rank-label").all_inner_texts() == [
        "Response r3",
        "Response r1 (tie)",
        "Response r2 (tie)",
    ]
    assert _chosen(answer.locator("[data-field=quality]")) == ["5", "0"]
    # The spans are marked in the task's text and the box drawn on its image, as the annotator left them.
    assert page.locator("#task-content .span-mark").all_inner_texts() == ["Alice", "Acme Corp"]
    assert page.locator("#task-content .box").count() == 1

    # The gold answer, in the same rendering, with its box on the image.
    gold = page.locator("#gold")
    assert gold.is_visible()
    assert _chosen(gold.locator("[data-field=sentiment]")) == ["pos"]
    assert _chosen(gold.locator("[data-field=topics]")) == ["a", "c"]
    assert _chosen(gold.locator("[data-field=preference]")) == ["a", "2"]
    assert gold.locator("[data-field=order] .ro-rank").evaluate_all("r => r.map(i => i.dataset.id)") == [
        "r2",
        "r1",
        "r3",
    ]
    assert gold.locator("[data-field=objects] .box").count() == 1
    page.wait_for_function("() => document.querySelector('#gold .box-image').complete")
    axe(page)
    screenshot(page, "review-gold-every-field")
    assert page.console_errors == []
