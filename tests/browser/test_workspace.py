"""The labelling workspace in a real browser: every field type by keyboard and mouse, the answer the server
stores, the switch to the next task, drafts across a reload, a lost lease, and task data that tries to run."""

import json
import statistics

import pytest

from annotation.models import Annotation, Assignment, AssignmentState
from annotation.services.claim import assignment_claim
from annotation.services.leases import assignment_revoke
from annotation.services.review import annotation_review
from annotation.services.submit import annotation_submit
from core.context import organization_context
from tenancy.models import Role
from tests.browser.checks import page_check
from tests.browser.conftest import ARTIFACTS
from tests.browser.world import PASSWORD, add_tasks, make_lab, make_project, upload_image
from tests.schemas import ALL_TYPES_SCHEMA, ALL_TYPES_TEXT, all_types_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGE_W, IMAGE_H = 640, 480
SWITCH_TASKS = 12
# Where the measured switch times are written (beside the screenshots), for the record.
TIMINGS = ARTIFACTS.parent / "timings"


def _open_workspace(page, live_server, sign_in, lab, project):
    sign_in(page, live_server.url, lab.member(Role.ANNOTATOR).user.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.uuid}/label")
    page.locator("#workspace[data-state=labelling]").wait_for()


def _assignment_id(page) -> str:
    return page.locator("#workspace").get_attribute("data-assignment")


def _drag_select(page, container, start: int, end: int) -> None:
    """Select characters [start, end) of a text element with the mouse, as a person would: press, drag, release."""
    box = page.evaluate(
        """([selector, start, end]) => {
            const root = document.querySelector(selector);
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            const node = walker.nextNode();
            const range = document.createRange();
            range.setStart(node, start); range.setEnd(node, start + 1);
            const first = range.getBoundingClientRect();
            range.setStart(node, end - 1); range.setEnd(node, end);
            const last = range.getBoundingClientRect();
            return {x1: first.left + 1, y: first.top + first.height / 2, x2: last.right - 1};
        }""",
        [container, start, end],
    )
    page.mouse.move(box["x1"], box["y"])
    page.mouse.down()
    page.mouse.move(box["x2"], box["y"], steps=5)
    page.mouse.up()


def test_an_annotator_labels_every_field_type_with_keyboard_and_mouse(page, live_server, sign_in, axe, screenshot):
    lab = make_lab()
    project = make_project(lab, name="Clinical notes", codename="Heron", label_schema=ALL_TYPES_SCHEMA, overlap=1)
    key = upload_image(lab, project, IMAGE_W, IMAGE_H)
    add_tasks(lab, project, [all_types_data({"key": key, "width": IMAGE_W, "height": IMAGE_H})])
    _open_workspace(page, live_server, sign_in, lab, project)

    # Blind project: the codename, never the name.
    assert page.locator("h1").inner_text() == "Heron"
    assert "Clinical notes" not in page.content()
    page.locator(".box-image[src]").wait_for()
    axe(page)
    screenshot(page, "workspace-all-types-empty")

    page.keyboard.press("1")  # the first open field: sentiment → pos
    page.locator("[data-field=topics] input[value=a]").check()  # topics, by mouse
    page.locator("[data-field=topics] input[value=c]").check()
    page.locator("h1").click()
    page.keyboard.press("4")  # the next open field that takes a digit: score → 4
    page.locator("#f-answer").fill("Looks right")

    # Spans: "Alice" by dragging the mouse, "Acme Corp" by keyboard as ORG.
    _drag_select(page, ".span-text", 0, 5)
    span_text = page.locator(".span-text")
    span_text.focus()
    page.keyboard.press("2")  # ORG
    for _ in range(17):
        page.keyboard.press("ArrowRight")
    for _ in range(9):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Enter")
    marked = page.locator(".field-spans .item")
    assert marked.locator(".badge").all_inner_texts() == ["PER", "ORG"]
    assert marked.locator(".item-text").all_inner_texts() == ["Alice", "Acme Corp"]

    # Boxes: drawn with the mouse, then nudged right by 10 px with Shift+Arrow.
    layer = page.locator(".box-layer").bounding_box()
    scale = layer["width"] / IMAGE_W
    page.mouse.move(layer["x"] + 100 * scale, layer["y"] + 100 * scale)
    page.mouse.down()
    page.mouse.move(layer["x"] + 300 * scale, layer["y"] + 250 * scale, steps=8)
    page.mouse.up()
    page.locator("rect.box").focus()
    page.keyboard.press("Shift+ArrowRight")

    page.locator("[data-field=preference] input[value=a]").check()
    page.get_by_label("Clearly").check()
    page.get_by_label("Why? (optional)").fill("More precise.")
    page.locator('.rank-item[data-id="r2"]').focus()
    page.keyboard.press("Alt+ArrowUp")
    page.locator("h1").click()
    page.keyboard.press("5")  # rubric: accuracy
    page.keyboard.press("0")  # rubric: tone & style
    screenshot(page, "workspace-all-types-answered")
    axe(page)

    first = _assignment_id(page)
    page.keyboard.press("Control+Enter")
    page.locator("#workspace[data-state=idle]").wait_for()  # one task only: nothing left
    assert "nothing for you to label" in page.locator("#notice").inner_text()
    screenshot(page, "workspace-no-more-work")

    with organization_context(lab.organization.pk):
        annotation = Annotation.objects.get(assignment__uuid=first)
    result = annotation.result
    box = result.pop("objects")[0]
    assert result == {
        "sentiment": "pos",
        "topics": ["a", "c"],
        "score": 4,
        "answer": "Looks right",
        "entities": [{"start": 0, "end": 5, "label": "PER"}, {"start": 17, "end": 26, "label": "ORG"}],
        "preference": {"preferred": "a", "strength": 2, "rationale": "More precise."},
        "order": {"r2": 1, "r1": 2, "r3": 3},
        "quality": {"accuracy": 5, "Tone & style": 0},
    }
    assert box["label"] == "car"
    assert (box["x"], box["y"]) == (pytest.approx(110, abs=3), pytest.approx(100, abs=3))
    assert (box["width"], box["height"]) == (pytest.approx(200, abs=3), pytest.approx(150, abs=3))
    assert annotation.time_spent_ms > 0
    assert ALL_TYPES_TEXT[17:26] == "Acme Corp"
    assert not page.console_errors


@pytest.mark.parametrize("max_active", [1, 2], ids=["claim-after-submit", "prefetched"])
def test_the_next_task_is_interactive_soon_after_submit(page, live_server, sign_in, max_active, record_property):
    schema = {"fields": [{"name": "label", "type": "choices", "options": ["yes", "no"]}]}
    lab = make_lab()
    project = make_project(
        lab,
        name="Quick yes/no",
        label_schema=schema,
        max_active_per_annotator=max_active,
        tasks=[{"text": f"Item {i}"} for i in range(SWITCH_TASKS + 2)],
    )
    _open_workspace(page, live_server, sign_in, lab, project)
    timings = []
    for _ in range(SWITCH_TASKS):
        before = _assignment_id(page)
        page.keyboard.press("1")
        page.keyboard.press("Control+Enter")
        page.wait_for_function(
            "before => { const w = document.getElementById('workspace');"
            " return w.dataset.assignment && w.dataset.assignment !== before && w.dataset.switchMs; }",
            arg=before,
        )
        timings.append(float(page.locator("#workspace").get_attribute("data-switch-ms")))
        page.evaluate("() => { delete document.getElementById('workspace').dataset.switchMs; }")
    median = statistics.median(timings)
    record_property("switch_ms", timings)
    mode = "prefetched" if max_active > 1 else "claimed after submit"
    TIMINGS.mkdir(parents=True, exist_ok=True)
    (TIMINGS / f"next-task-{max_active}.json").write_text(
        json.dumps({"mode": mode, "median_ms": median, "max_ms": max(timings), "samples_ms": timings}, indent=1)
    )
    # The product's figure is the prefetched one; without a second lease the page claims after the submit, which
    # costs one more round trip.
    assert median <= (300 if max_active > 1 else 600)
    with organization_context(lab.organization.pk):
        assert Annotation.objects.filter(project=project).count() == SWITCH_TASKS


def test_a_reload_keeps_the_lease_and_the_draft(page, live_server, sign_in):
    schema = {
        "fields": [{"name": "label", "type": "choices", "options": ["yes", "no"]}, {"name": "note", "type": "text"}]
    }
    lab = make_lab()
    project = make_project(lab, name="Drafts", label_schema=schema, tasks=[{"text": "one"}, {"text": "two"}])
    _open_workspace(page, live_server, sign_in, lab, project)
    held = _assignment_id(page)
    page.keyboard.press("2")
    page.locator("#f-note").fill("half written")
    page.wait_for_timeout(500)  # the draft is saved a moment after the last change
    page.reload()
    page.locator("#workspace[data-state=labelling]").wait_for()
    assert _assignment_id(page) == held
    assert page.locator("[data-field=label] input[value=no]").is_checked()
    assert page.locator("#f-note").input_value() == "half written"


def test_a_lost_lease_is_said_plainly_and_nothing_is_stored(page, live_server, sign_in, screenshot):
    schema = {"fields": [{"name": "label", "type": "choices", "options": ["yes", "no"]}]}
    lab = make_lab()
    project = make_project(lab, name="Leases", label_schema=schema, tasks=[{"text": "one"}])
    _open_workspace(page, live_server, sign_in, lab, project)
    with organization_context(lab.organization.pk), lab.as_owner():
        assignment = Assignment.objects.get(uuid=_assignment_id(page))
        assignment_revoke(actor=lab.member(Role.OWNER), assignment=assignment, reason="reassigned")
    page.keyboard.press("1")
    page.keyboard.press("Control+Enter")
    page.locator("#workspace[data-state=idle]").wait_for()
    assert "no longer yours" in page.locator("#notice").inner_text()
    screenshot(page, "workspace-lease-lost")
    with organization_context(lab.organization.pk):
        assert not Annotation.objects.filter(project=project).exists()
        assert Assignment.objects.get(pk=assignment.pk).state == AssignmentState.REVOKED


XSS = '<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script>'


def test_task_data_is_shown_as_text_and_never_runs(page, live_server, sign_in):
    schema = {
        "fields": [
            {"name": "spans", "type": "spans", "source": "text", "labels": [XSS]},
            {"name": "better", "type": "pairwise", "source": "pair"},
            {"name": "tone", "type": "choices", "options": [XSS, "plain"], "source": "chat"},
        ]
    }
    data = {
        "text": f"Before {XSS} after",
        "pair": [{"id": "a", "content": XSS}, {"id": "b", "content": "<b>bold?</b>"}],
        "chat": [{"role": "user", "content": XSS}],
        "note": {"html": XSS},
    }
    lab = make_lab()
    project = make_project(lab, name=f"Project {XSS}", guidelines=XSS, label_schema=schema, tasks=[data])
    _open_workspace(page, live_server, sign_in, lab, project)
    page.keyboard.press("g")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("b").count() == 0
    assert XSS in page.locator(".span-text").inner_text()
    assert XSS in page.locator(".guidelines-text").inner_text()
    assert "<b>bold?</b>" in page.locator(".candidate-content").nth(1).inner_text()


def test_an_annotator_starts_from_their_home_page(page, live_server, sign_in, axe, screenshot):
    schema = {"fields": [{"name": "label", "type": "choices", "options": ["yes", "no"]}]}
    lab = make_lab()
    make_project(lab, name="Secret trial", codename="Heron", label_schema=schema, tasks=[{"text": "one"}])
    make_project(lab, name="Dermatology", label_schema=schema, required_skills={"dermatology": 4})
    make_project(lab, name="Not set up")
    sign_in(page, live_server.url, lab.member(Role.ANNOTATOR).user.email, PASSWORD)
    work = page.get_by_role("region", name="Your work")
    rows = work.locator("tbody tr")
    assert rows.count() == 2
    assert "Secret trial" not in page.content()
    assert "The project requires dermatology ≥ 4." in rows.nth(0).inner_text()
    assert rows.nth(0).get_by_role("link").count() == 0
    axe(page)
    screenshot(page, "home-annotator")
    rows.nth(1).get_by_role("link", name="Start labelling").click()
    page.locator("#workspace[data-state=labelling]").wait_for()
    assert page.locator("h1").inner_text() == "Heron"


def test_a_chat_and_two_responses_are_laid_out_for_reading(page, live_server, sign_in, axe, screenshot):
    schema = {
        "fields": [
            {
                "name": "context_ok",
                "type": "rating",
                "min": 1,
                "max": 5,
                "source": "conversation",
                "labels": {"1": "off-topic", "5": "on point"},
            },
            {"name": "better", "type": "pairwise", "source": "responses", "strength": True, "rationale": "required"},
        ]
    }
    conversation = {
        "messages": [
            {"role": "system", "content": "You are a careful clinical assistant."},
            {"role": "user", "content": "My father takes warfarin. Can he take ibuprofen for back pain?"},
            {"role": "assistant", "content": "Let me check the interaction before answering."},
        ]
    }
    responses = [
        {"id": "m1", "content": "Ibuprofen raises the bleeding risk with warfarin; ask his doctor about paracetamol."},
        {"id": "m2", "content": "Yes, ibuprofen is fine with warfarin.\nTake it with food."},
    ]
    lab = make_lab()
    project = make_project(
        lab,
        name="Clinical chat preferences",
        label_schema=schema,
        guidelines="Prefer the response that is safe first, then helpful.\n\nNever reward a confident error.",
        tasks=[
            {
                "prompt": "Compare the two answers to the last user turn.",
                "conversation": conversation,
                "responses": responses,
            }
        ],
    )
    _open_workspace(page, live_server, sign_in, lab, project)
    turns = page.locator(".transcript .turn")
    assert turns.count() == 3
    assert page.locator(".candidate-title").all_inner_texts() == ["Response A", "Response B"]
    page.keyboard.press("5")
    page.keyboard.press("1")  # Response A is better
    page.get_by_role("radio", name="Much").check()
    page.get_by_label("Why?").fill("B is dangerous.")
    axe(page)
    screenshot(page, "workspace-chat-pairwise")
    page.locator("h1").click()  # out of the text box, where "g" is just a letter
    page.keyboard.press("g")
    page.get_by_role("dialog").wait_for()
    axe(page)
    screenshot(page, "workspace-guidelines")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Enter")
    page.locator("#workspace[data-state=idle]").wait_for()
    with organization_context(lab.organization.pk):
        assert Annotation.objects.get(project=project).result == {
            "context_ok": 5,
            "better": {"preferred": "m1", "strength": 3, "rationale": "B is dangerous."},
        }


def _returned_by_review(lab, project, *, result, comment):
    """The annotator answers the project's next task and a reviewer rejects it with `comment`, through the services."""
    annotator, reviewer = lab.member(Role.ANNOTATOR), lab.member(Role.REVIEWER)
    with organization_context(lab.organization.pk), lab.as_owner():
        assignment = assignment_claim(actor=annotator, project=project).assignment
        submitted = annotation_submit(
            actor=annotator, assignment=assignment, lease_token=assignment.lease_token, result=result
        )
        annotation_review(actor=reviewer, annotation=submitted.annotation, decision="reject", comment=comment)


def test_work_sent_back_by_a_reviewer_comes_with_the_comment_above_the_task(
    page, live_server, sign_in, axe, screenshot
):
    # Given a project left at its default, and an answer of the annotator's that a reviewer rejected
    schema = {"fields": [{"name": "answer", "type": "choices", "options": ["yes", "no"], "source": "question"}]}
    lab = make_lab(roles=(Role.OWNER, Role.ANNOTATOR, Role.REVIEWER))
    project = make_project(
        lab, name="Geography quiz", label_schema=schema, review_mode="all", tasks=[{"question": "Is Paris in France?"}]
    )
    assert project.reject_returns_to == "annotator"
    _returned_by_review(
        lab, project, result={"answer": "no"}, comment="Paris <b>is</b> in France: the answer is yes.\nSee rule 2."
    )

    # When the annotator opens the labelling page
    _open_workspace(page, live_server, sign_in, lab, project)

    # Then the same task is back, with the reviewer's comment above it, as text
    note = page.locator(".task-body .alert")
    assert note.inner_text() == "Sent back by a reviewer. Paris <b>is</b> in France: the answer is yes.\nSee rule 2."
    assert note.locator("b").count() == 0
    assert "Is Paris in France?" in page.locator(".task-body").inner_text()
    page_check(page, axe, screenshot, "workspace-sent-back-with-comment")
