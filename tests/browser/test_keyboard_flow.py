"""The labelling page's keyboard model, field type by field type: a key sequence typed in the real page, the task
submitted with Ctrl + Enter, and the answer the server stored compared value by value (docs/web-ui.md,
"Keyboard")."""

from typing import Any

import pytest

from annotation.models import Annotation
from core.context import organization_context
from tests.browser.test_workspace import _open_workspace
from tests.browser.world import Lab, add_tasks, make_lab, make_project, upload_image
from tests.schemas import ALL_TYPES_TEXT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAIR = [{"id": "a", "content": "Paris is the capital of France."}, {"id": "b", "content": "Lyon, probably."}]
RESPONSES = [{"id": "r1", "content": "first"}, {"id": "r2", "content": "second"}, {"id": "r3", "content": "third"}]
PREFERENCE = {"name": "preference", "type": "pairwise", "source": "pair", "strength": True}
RUBRIC = {
    "name": "quality",
    "type": "rubric",
    "criteria": [{"name": "accuracy", "min": 1, "max": 5}, {"name": "Tone & style", "min": 0, "max": 3}],
}
YES_NO = {"name": "done", "type": "choices", "options": ["yes", "no"]}


def _start(page: Any, live_server: Any, sign_in: Any, fields: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> Lab:
    lab = make_lab()
    project = make_project(lab, name="Keyboard", label_schema={"fields": fields}, tasks=tasks)
    _open_workspace(page, live_server, sign_in, lab, project)
    return lab


def _type(page: Any, keys: str) -> None:
    """Press each key of a space-separated sequence, as a person types it."""
    for key in keys.split():
        page.keyboard.press(key)


def _submit(page: Any) -> str:
    """Submit with Ctrl + Enter and wait for the page to move on; returns the submitted task's external id."""
    task = page.locator("#task-ref").inner_text()
    assignment = page.locator("#workspace").get_attribute("data-assignment")
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        "before => document.getElementById('workspace').dataset.assignment !== before", arg=assignment
    )
    return task


def _stored(lab: Lab, task: str) -> dict[str, Any]:
    with organization_context(lab.organization.pk):
        return Annotation.objects.get(task__external_id=task).result


def _focused_field(page: Any) -> str | None:
    return page.evaluate("() => document.activeElement.closest('[data-field]')?.dataset.field ?? null")


def test_a_digit_answers_a_single_choice_and_moves_on(page, live_server, sign_in):
    fields = [{"name": "colour", "type": "choices", "options": ["red", "green", "blue"]}, YES_NO]
    lab = _start(page, live_server, sign_in, fields, [{"text": "grass"}])

    _type(page, "9")  # no ninth colour: nothing is chosen and focus stays
    assert _focused_field(page) == "colour"
    page.locator("h1").click()
    assert _focused_field(page) is None
    _type(page, "2")  # with focus outside every field: the first one still open
    assert _focused_field(page) == "done"
    _type(page, "1 3")  # "done" has two options: the 3 is dropped, "colour" keeps green

    assert _stored(lab, _submit(page)) == {"colour": "green", "done": "yes"}


def test_digits_toggle_a_multiple_choice_which_is_one_tab_stop(page, live_server, sign_in):
    fields = [
        {"name": "topics", "type": "choices", "options": ["a", "b", "c", "d"], "multiple": True},
        {"name": "score", "type": "rating", "min": 1, "max": 5},
    ]
    lab = _start(page, live_server, sign_in, fields, [{"text": "mixed"}])

    _type(page, "1 3 1 4")  # a on, c on, a off, d on: focus stays in the field
    assert _focused_field(page) == "topics"
    _type(page, "ArrowUp ArrowUp Space")  # from d up to b, ticked
    _type(page, "Tab 5")  # one Tab leaves the options whichever has focus

    assert _stored(lab, _submit(page)) == {"topics": ["b", "c", "d"], "score": 5}


def test_a_digit_picks_a_rating_point_by_its_value(page, live_server, sign_in):
    fields = [
        {"name": "risk", "type": "rating", "min": 0, "max": 5},
        {"name": "effort", "type": "rating", "min": 1, "max": 10},
    ]
    lab = _start(page, live_server, sign_in, fields, [{"text": "plan"}])

    _type(page, "9")  # neither a point of 0 to 5 nor one of its six positions
    assert _focused_field(page) == "risk"
    _type(page, "0 7")  # 0 is the point 0, not the first position
    assert _focused_field(page) == "effort"
    _type(page, "ArrowRight")  # a scale is a radio group: the arrow moves the answer on by one

    assert _stored(lab, _submit(page)) == {"risk": 0, "effort": 8}


def test_a_text_field_takes_digits_as_text(page, live_server, sign_in):
    fields = [YES_NO, {"name": "note", "type": "text"}]
    lab = _start(page, live_server, sign_in, fields, [{"text": "count"}])

    _type(page, "1")  # answered; a text field is not moved to, so the next digit cannot become text by surprise
    assert _focused_field(page) == "done"
    _type(page, "Tab 2 4 7 g")

    assert page.locator("#guidelines").get_attribute("open") is None
    assert _stored(lab, _submit(page)) == {"done": "yes", "note": "247g"}


def test_digits_in_a_spans_field_choose_the_label_of_the_next_span(page, live_server, sign_in):
    fields = [YES_NO, {"name": "entities", "type": "spans", "source": "text", "labels": ["PER", "ORG"]}]
    lab = _start(page, live_server, sign_in, fields, [{"text": ALL_TYPES_TEXT}])

    _type(page, "2")  # done: no
    page.locator(".span-text").focus()
    _type(page, "ArrowRight ArrowLeft 1" + " Shift+ArrowRight" * 5 + " Enter")  # "Alice" as PER
    _type(page, "2" + " ArrowRight" * 12 + " Shift+ArrowRight" * 9 + " Enter")  # "Acme Corp" as ORG

    assert page.locator("[data-field=done] input[value=no]").is_checked()
    assert _stored(lab, _submit(page)) == {
        "done": "no",
        "entities": [{"start": 0, "end": 5, "label": "PER"}, {"start": 17, "end": 26, "label": "ORG"}],
    }


def test_digits_in_a_boxes_field_choose_the_label_of_the_next_box(page, live_server, sign_in):
    lab = make_lab()
    project = make_project(
        lab,
        name="Keyboard",
        label_schema={"fields": [{"name": "vehicles", "type": "boxes", "source": "image", "labels": ["car", "bus"]}]},
    )
    key = upload_image(lab, project, 640, 480)
    add_tasks(lab, project, [{"image": {"key": key, "width": 640, "height": 480}}])
    _open_workspace(page, live_server, sign_in, lab, project)

    _type(page, "2 Tab Enter")  # bus, then "Add a box": a 160 by 120 box in the middle, focused
    _type(page, "Shift+ArrowRight Alt+ArrowDown")  # 10 px to the right, 1 px taller
    _type(page, "1")  # car for the next box; the focused box stays a bus
    assert page.locator("rect.box").get_attribute("aria-label") == "bus box at 250, 180, 160 by 121"
    _type(page, "Tab Tab Enter")  # past the labels to "Add a box" again

    assert _stored(lab, _submit(page)) == {
        "vehicles": [
            {"x": 250, "y": 180, "width": 160, "height": 121, "label": "bus"},
            {"x": 240, "y": 180, "width": 160, "height": 120, "label": "car"},
        ]
    }


def test_a_pairwise_strength_follows_its_preference_and_a_tie_hides_it(page, live_server, sign_in, axe, screenshot):
    lab = _start(page, live_server, sign_in, [PREFERENCE], [{"pair": PAIR}, {"pair": PAIR}])
    strength = page.get_by_role("radiogroup", name="How much better")

    _type(page, "2 3")  # B is better, much better
    assert _focused_field(page) == "preference"
    _type(page, "Tab")  # from the strength to the rationale, where digits are text
    page.keyboard.type("B 2x")
    first = _submit(page)

    _type(page, "3")  # about the same: no strength to give
    assert strength.is_hidden()
    axe(page)
    screenshot(page, "workspace-keyboard-pairwise-tie")
    _type(page, "Tab")  # straight to the rationale
    page.keyboard.type("same 1")
    second = _submit(page)

    assert _stored(lab, first) == {"preference": {"preferred": "b", "strength": 3, "rationale": "B 2x"}}
    assert _stored(lab, second) == {"preference": {"preferred": "tie", "rationale": "same 1"}}


def test_digits_never_change_a_ranking_which_keeps_its_keys(page, live_server, sign_in):
    fields = [{"name": "order", "type": "ranking", "source": "responses"}, YES_NO]
    lab = _start(page, live_server, sign_in, fields, [{"responses": RESPONSES}])

    _type(page, "2")  # a ranking has focus: the digit is dropped, not passed on to "done"
    assert not page.locator("[data-field=done] input:checked").count()
    _type(page, "Tab Alt+ArrowUp 3")  # r2 moves to the top; the 3 is dropped again
    _type(page, "Tab Tab Tab Tab 1")  # r1, r3, "This order is right", then "done"

    assert _stored(lab, _submit(page)) == {"order": {"r2": 1, "r1": 2, "r3": 3}, "done": "yes"}


def test_a_rubric_fills_criterion_by_criterion(page, live_server, sign_in):
    rubric = RUBRIC | {"criteria": [*RUBRIC["criteria"], {"name": "clarity", "min": 1, "max": 5}]}
    lab = _start(page, live_server, sign_in, [rubric], [{"text": "essay"}])

    _type(page, "4 0 5")
    _type(page, "Shift+Tab 2")  # back one criterion: only tone changes

    assert _stored(lab, _submit(page)) == {"quality": {"accuracy": 4, "Tone & style": 2, "clarity": 5}}


def test_a_run_of_digits_fills_a_pairwise_and_rubric_form(page, live_server, sign_in, axe, screenshot):
    lab = _start(page, live_server, sign_in, [PREFERENCE, RUBRIC], [{"pair": PAIR}])

    _type(page, "1 2 4 2")  # A, clearly; accuracy 4, tone 2
    axe(page)
    screenshot(page, "workspace-keyboard-pairwise-rubric")

    assert _stored(lab, _submit(page)) == {
        "preference": {"preferred": "a", "strength": 2},
        "quality": {"accuracy": 4, "Tone & style": 2},
    }


@pytest.mark.parametrize(("chosen", "tabs"), [(None, 3), ("a", 3), ("b", 3), ("tie", 2)])
def test_the_rubric_is_as_many_tabs_away_whatever_the_preference(page, live_server, sign_in, chosen, tabs):
    _start(page, live_server, sign_in, [PREFERENCE, RUBRIC], [{"pair": PAIR}])
    if chosen:
        page.locator(f"[data-field=preference] input[value={chosen}]").check()  # focus follows the click
    assert page.evaluate("() => document.activeElement.name") == "f-preference"

    steps = 0
    while page.evaluate("() => !document.activeElement.closest('.rubric-row')") and steps < 10:
        _type(page, "Tab")
        steps += 1

    # The strength and the rationale are one stop each; a tie has no strength to stop at.
    assert steps == tabs
    assert page.evaluate("() => document.activeElement.name") == "f-quality-accuracy"
