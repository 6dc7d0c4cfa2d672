"""Step-by-step review in a real browser: an annotator reviews a six-step agent trace by keyboard alone, the stored
answer is checked value by value, and a reviewer sees the verdicts drawn for reading."""

import pytest

from annotation.models import Annotation
from core.context import organization_context
from tenancy.models import Role
from tests.browser.world import PASSWORD, make_lab, make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "fields": [
        {
            "name": "review",
            "type": "steps",
            "label": "Review each step",
            "source": "trace",
            "prompt": "question",
            "comment": "required_on_incorrect",
        }
    ]
}
TRACE = [
    {"role": "system", "content": "You book restaurants. Today is 2026-12-07."},
    {"role": "user", "content": "Book a table for two tonight at <b>Chez Nous</b>."},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"type": "function", "function": {"name": "find_slots", "arguments": '{"venue": "Chez Nous", "party": 2}'}}
        ],
    },
    {"role": "tool", "name": "find_slots", "content": '{"slots": ["19:00", "21:30"], "date": "2026-12-07"}'},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"name": "book", "arguments": {"slot": "19:00", "date": "2024-12-07"}}],
    },
    {"role": "assistant", "content": "Done: a table for two at 19:00 tonight."},
]


def _focused_step(page) -> int | None:
    return page.evaluate(
        "() => { const s = document.activeElement.closest('.step'); return s ? Number(s.dataset.index) : null; }"
    )


def _press(page, keys: str) -> None:
    for key in keys.split():
        page.keyboard.press(key)


def test_an_agent_trace_is_reviewed_by_keyboard_and_shown_to_the_reviewer(
    browser, page, live_server, sign_in, axe, screenshot
):
    lab = make_lab(roles=(Role.OWNER, Role.ANNOTATOR, Role.REVIEWER))
    project = make_project(
        lab,
        name="Agent traces",
        label_schema=SCHEMA,
        review_mode="all",
        tasks=[{"question": "Book a table for two tonight.", "trace": TRACE}],
    )
    sign_in(page, live_server.url, lab.member(Role.ANNOTATOR).user.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.uuid}/label")
    page.locator("#workspace[data-state=labelling]").wait_for()
    steps = page.locator(".step")

    # Task text is text: the markup in the user's message is shown, not rendered.
    assert steps.nth(1).locator(".step-text").inner_text() == "Book a table for two tonight at <b>Chez Nous</b>."
    assert steps.nth(1).locator("b").count() == 0
    # Tool calls as a name and arguments in a code block; the tool's result set apart.
    assert steps.nth(2).locator(".step-call-name code").inner_text() == "find_slots"
    assert steps.nth(2).locator(".step-call-args code").inner_text() == '{\n  "venue": "Chez Nous",\n  "party": 2\n}'
    assert steps.nth(3).get_attribute("class") == "step step-tool"
    assert steps.nth(3).locator(".step-role").inner_text() == "Tool result · find_slots"
    assert page.locator(".step[tabindex='0']").count() == 1  # the list is one tab stop

    assert _focused_step(page) == 0
    _press(page, "1 1 3")  # system, user: correct; the first call: neutral
    assert _focused_step(page) == 3
    _press(page, "j")  # past the tool's result without judging it yet
    _press(page, "2")  # the booking uses the wrong year: incorrect, and the comment it needs takes focus
    assert page.evaluate("() => document.activeElement.id") == "f-review-step-4-comment"
    page.keyboard.type("Books 2024-12-07, not tonight; 2 slots were offered.")
    _press(page, "Escape")  # back to the step
    assert _focused_step(page) == 4
    _press(page, "k k k")  # three steps up
    assert _focused_step(page) == 1
    _press(page, "ArrowDown ArrowDown 1")  # the tool's result (step 3) is correct; on to the next step still open
    assert _focused_step(page) == 5
    _press(page, "2")  # the final message claims success: incorrect, with its comment
    page.keyboard.type("Claims a booking that was wrong.")
    _press(page, "Escape Tab")  # one Tab leaves the steps for the next part of the form
    assert (
        page.evaluate("() => document.activeElement.closest('[role=radiogroup]')?.getAttribute('aria-label')")
        == "Overall verdict"
    )
    _press(page, "2")  # overall: incorrect
    assert page.locator(".steps-summary").inner_text() == "6 of 6 steps reviewed · first error: step 5"
    assert page.locator(".step-first-error").get_attribute("data-index") == "4"
    axe(page)
    screenshot(page, "steps-labelling")
    page.locator(".task-panel").evaluate("panel => { panel.scrollTop = 0; }")
    screenshot(page, "steps-labelling-top")

    page.keyboard.press("Control+Enter")
    page.locator("#workspace[data-state=idle]").wait_for()

    with organization_context(lab.organization.pk):
        stored = Annotation.objects.get(task__project=project).result
    assert stored == {
        "review": {
            "steps": [
                {"index": 0, "verdict": "correct"},
                {"index": 1, "verdict": "correct"},
                {"index": 2, "verdict": "neutral"},
                {"index": 3, "verdict": "correct"},
                {"index": 4, "verdict": "incorrect", "comment": "Books 2024-12-07, not tonight; 2 slots were offered."},
                {"index": 5, "verdict": "incorrect", "comment": "Claims a booking that was wrong."},
            ],
            "first_error": 4,
            "overall": "incorrect",
        }
    }

    reviewer_context = browser.new_context(viewport={"width": 1280, "height": 800})
    reviewer = reviewer_context.new_page()
    try:
        sign_in(reviewer, live_server.url, lab.member(Role.REVIEWER).user.email, PASSWORD)
        reviewer.goto(f"{live_server.url}/review/")
        reviewer.locator("tr", has_text="Agent traces").get_by_role("link", name="Review 1").click()
        reviewer.locator("#workspace[data-state=reviewing]").wait_for()
        answer = reviewer.locator("#task-fields [data-field=review]")
        chosen = answer.locator(".ro-step .ro-chosen")
        assert chosen.evaluate_all("nodes => nodes.map(n => n.dataset.value)") == [
            "correct",
            "correct",
            "neutral",
            "correct",
            "incorrect",
            "incorrect",
        ]
        assert answer.locator(".ro-step-comment").all_inner_texts() == [
            "Books 2024-12-07, not tonight; 2 slots were offered.",
            "Claims a booking that was wrong.",
        ]
        assert answer.locator(".ro-first-error strong").inner_text() == "Step 5"
        assert (
            answer.locator(".ro-options[aria-label='Overall verdict'] .ro-chosen").get_attribute("data-value")
            == "incorrect"
        )
        assert answer.locator("input").count() == 0
        # The task panel's steps show the same verdicts, and cannot be changed there.
        assert reviewer.locator(".step input:checked").evaluate_all("nodes => nodes.map(n => n.value)") == [
            "correct",
            "correct",
            "neutral",
            "correct",
            "incorrect",
            "incorrect",
        ]
        assert reviewer.locator(".step input:not([disabled])").count() == 0
        axe(reviewer)
        screenshot(reviewer, "steps-review")
    finally:
        reviewer_context.close()


def test_the_schema_page_builds_and_previews_a_steps_field(live_server, page, sign_in, axe, screenshot):
    lab = make_lab(roles=(Role.OWNER, Role.MANAGER))
    project = make_project(lab, name="Agent traces", label_schema={"fields": []})
    sign_in(page, live_server.url, lab.member(Role.MANAGER).user.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.uuid}/schema")
    preview = page.locator("#schema-preview")

    page.get_by_role("button", name="Step-by-step review", exact=False).click()
    field = page.get_by_role("group", name="Field 1: step_review")
    field.get_by_label("Comments on steps").select_option("required_on_incorrect")
    drawn = preview.locator(".steps").element_handle()
    field.get_by_label("Stop at the first incorrect step").check()
    page.wait_for_function("list => !list.isConnected", arg=drawn)  # the preview is drawn again, settings and all
    # The preview draws a sample trace with the workspace's own widget, to be tried out.
    steps = preview.locator(".step")
    assert steps.count() == 4
    steps.nth(0).locator(".step-verdict[data-verdict=correct]").click()
    steps.nth(1).locator(".step-verdict[data-verdict=incorrect]").click()
    assert preview.locator(".step-first-error").get_attribute("data-index") == "1"
    assert preview.locator(".step-after-stop").count() == 2
    assert preview.locator(".steps-summary").inner_text() == "2 of 2 steps reviewed · first error: step 2"
    axe(page)
    screenshot(page, "steps-schema-page")
    assert page.console_errors == []

    page.get_by_role("button", name="Save schema and guidelines").click()
    page.get_by_text("Saved: schema version 1, guidelines version 1.").wait_for()
    with organization_context(lab.organization.pk):
        project.refresh_from_db()
    assert project.label_schema["fields"] == [
        {
            "name": "step_review",
            "type": "steps",
            "label": "Review each step",
            "required": True,
            "source": "steps",
            "prompt": "question",
            "verdicts": ["correct", "incorrect", "neutral"],
            "comment": "required_on_incorrect",
            "overall": ["correct", "incorrect"],
            "stop_at_first_error": True,
        }
    ]
