# ruff: noqa: F811 - `model_server` is the fixture of tests/llm, imported here and named by the test
"""Live chat in a real browser: an annotator holds a three-turn blind conversation with two models, edits a reply,
rates every turn and submits; a reviewer reads it (still blind) on the review page and accepts it."""

import pytest

from annotation.models import Annotation, ChatMessage, Review
from core.context import organization_context
from llm.services.connections import model_connection_create
from tenancy.models import Role
from tests.browser.world import PASSWORD, make_lab, make_project
from tests.llm.conftest import model_server  # noqa: F401 - the fixture
from tests.llm.model_server import MODEL_SERVER_API_KEY, ModelServer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "fields": [
        {
            "name": "talk",
            "type": "chat",
            "label": "Talk with the models",
            "connections": ["north", "south"],
            "max_turns": 3,
            "turn_fields": [{"name": "helpfulness", "type": "rating", "label": "Helpfulness", "min": 1, "max": 5}],
        }
    ]
}
SECRETS = ("north", "south", "model-a", "model-b")


def reply_of(model: str):
    return lambda messages: f"{'Northern' if model == 'model-a' else 'Southern'} answer {len(messages) // 2 + 1}."


def wait_for_turn(page, turn: int) -> None:
    """Until both replies of the turn have arrived whole and the widget takes input again."""
    page.wait_for_function(
        "n => { const t = document.querySelectorAll('.chat-turn')[n - 1]; if (!t) return false;"
        " const texts = [...t.querySelectorAll('.chat-reply .chat-text')];"
        " return texts.length === 2 && texts.every(p => /answer/.test(p.textContent))"
        " && t.querySelectorAll('.chat-actions').length === 2; }",
        arg=turn,
    )


# The browser tests' server is WSGI (pytest-django's live_server): Django warns that it must gather the streamed
# replies before sending them. Under the ASGI server the platform ships they stream (tests/bench covers that).
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators")
def test_a_blind_three_turn_conversation_is_labelled_and_reviewed(
    browser, page, live_server, sign_in, axe, screenshot, settings, model_server: ModelServer
):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    model_server.script("model-a", reply_of("model-a"))
    model_server.script("model-b", reply_of("model-b"))
    lab = make_lab(roles=(Role.OWNER, Role.ANNOTATOR, Role.REVIEWER))
    with organization_context(lab.organization.pk), lab.as_owner():
        for name, model in (("north", "model-a"), ("south", "model-b")):
            model_connection_create(
                actor=lab.member(Role.OWNER),
                name=name,
                base_url=model_server.base_url,
                model=model,
                api_key=MODEL_SERVER_API_KEY,
            )
    project = make_project(
        lab, name="Arena", label_schema=SCHEMA, review_mode="all", tasks=[{"text": "Chat with both models."}]
    )

    sign_in(page, live_server.url, lab.member(Role.ANNOTATOR).user.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.uuid}/label")
    page.locator("#workspace[data-state=labelling]").wait_for()
    prompt = page.get_by_label("Message to the models (Talk with the models)")

    for turn, text in enumerate(["Hello there.", "Tell me more.", "Thanks, bye."], start=1):
        prompt.fill(text)
        prompt.press("Control+Enter")
        wait_for_turn(page, turn)
        current = page.locator(".chat-turn").nth(turn - 1)
        assert current.locator(".chat-reply .chat-who").all_inner_texts() == ["Response A", "Response B"]
        if turn == 2:
            # Rewrite Response A of the second turn; the conversation goes on from the edit.
            current.get_by_role("button", name="Edit response A").click()
            current.get_by_label("Edit response A").fill("An edited answer, better than both.")
            current.get_by_role("button", name="Save edit").click()
            page.get_by_text("Edited by you").wait_for()
            current = page.locator(".chat-turn").nth(turn - 1)
        for slot, score in (("A", "5"), ("B", "2")):
            card = current.locator(f".chat-reply[data-slot={slot}]")
            card.locator(f"input[type=radio][value='{score}']").check()
        current.locator(".chat-reply[data-slot=A] .chat-best input").check()
        if turn == 2:
            screenshot(page, "chat-labelling")
            axe(page)

    html = page.content()
    for secret in SECRETS:
        assert secret not in html, secret
    page.keyboard.press("Control+Enter")
    page.locator("#workspace[data-state=idle]").wait_for()
    assert page.console_errors == []

    with organization_context(lab.organization.pk):
        annotation = Annotation.objects.get(task__project=project)
        answer = annotation.result["talk"]
        assert len(answer["turns"]) == 3
        for turn in answer["turns"]:
            chosen = ChatMessage.objects.get(uuid=turn["chosen"])
            assert (chosen.slot, turn["replies"][0]) == ("A", turn["chosen"])
            assert turn["ratings"] == {"A": {"helpfulness": 5}, "B": {"helpfulness": 2}}
        edited = ChatMessage.objects.get(uuid=answer["turns"][1]["chosen"])
        assert (edited.origin, edited.content) == ("edited", "An edited answer, better than both.")
        third_prompt = ChatMessage.objects.get(uuid=answer["turns"][2]["prompt"])
        assert third_prompt.parent_id == edited.pk

    reviewer_context = browser.new_context(viewport={"width": 1280, "height": 900})
    reviewer = reviewer_context.new_page()
    reviewer.console_errors = []
    reviewer.on("console", lambda msg: reviewer.console_errors.append(msg.text) if msg.type == "error" else None)
    try:
        sign_in(reviewer, live_server.url, lab.member(Role.REVIEWER).user.email, PASSWORD)
        reviewer.goto(f"{live_server.url}/projects/{project.uuid}/review")
        reviewer.locator("#workspace[data-state=reviewing]").wait_for()
        shown = reviewer.locator("#task-fields [data-field=talk]")
        shown.locator(".chat-turn").nth(2).wait_for()
        assert shown.locator(".chat-chosen .chat-who").all_inner_texts() == ["Response A · chosen"] * 3
        assert "An edited answer, better than both." in shown.inner_text()
        html = reviewer.content()
        for secret in SECRETS:
            assert secret not in html, secret
        screenshot(reviewer, "chat-review")
        axe(reviewer)
        reviewer.locator("#accept").click()
        reviewer.locator("#workspace[data-state=idle]").wait_for()
        assert reviewer.console_errors == []
    finally:
        reviewer_context.close()
    with organization_context(lab.organization.pk):
        assert Review.objects.get(annotation=annotation).decision == "accept"
