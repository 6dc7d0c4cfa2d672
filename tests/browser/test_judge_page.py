"""A manager starts a judge run from the quality page in a real browser; the run judges the answered tasks against
the loopback model server, and the page reads how far the judge agrees with the experts."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from core.context import organization_context
from llm.models import JudgeRun
from tenancy.models import Role
from tests.browser.checks import PASSWORD, member, page_check
from tests.factories import (
    AnnotationFactory,
    MembershipFactory,
    ModelConnectionFactory,
    OrganizationFactory,
    ProjectFactory,
    TaskFactory,
)
from tests.llm.model_server import MODEL_SERVER_API_KEY, ModelServer, running_model_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "fields": [
        {"name": "sentiment", "type": "choices", "label": "Sentiment", "options": ["positive", "negative"]},
        {"name": "quality", "type": "rating", "label": "Quality", "min": 1, "max": 5},
    ]
}
# Review text -> the three experts' answers (sentiment, quality).
REVIEWS = {
    "Battery lasts two days, love it.": [("positive", 5), ("positive", 4), ("negative", 4)],
    "Broke after a week.": [("negative", 1), ("negative", 2), ("positive", 1)],
    "Does what it says.": [("positive", 4), ("positive", 4), ("positive", 3)],
    "Arrived late and scratched.": [("negative", 2), ("negative", 1), ("negative", 2)],
}
# The judge gives the experts' majority sentiment, and a quality one point off theirs on half the items.
JUDGE = {
    "Battery lasts two days, love it.": ("positive", 3),
    "Broke after a week.": ("negative", 1),
    "Does what it says.": ("positive", 2),
    "Arrived late and scratched.": ("negative", 2),
}


@pytest.fixture
def model_server(settings: Any) -> Iterator[ModelServer]:
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with running_model_server(api_key=MODEL_SERVER_API_KEY) as server:
        yield server


def judge_reply(messages: list[dict[str, Any]]) -> str:
    text = next(review for review in JUDGE if review in messages[-1]["content"])
    sentiment, quality = JUDGE[text]
    return json.dumps({"sentiment": sentiment, "quality": quality}, separators=(",", ":"))


def test_a_manager_runs_the_judge_and_reads_it_against_the_experts(
    live_server, page, screenshot, axe, sign_in, model_server
):
    page.set_default_timeout(15_000)
    organization = OrganizationFactory(name="Northwind Lab")
    manager = member(organization, Role.MANAGER, "maria@northwind.example")
    with organization_context(organization.pk):
        project = ProjectFactory(
            name="Product reviews", label_schema=SCHEMA, guidelines="Positive: the buyer would recommend it."
        )
        experts = [MembershipFactory(role=Role.ANNOTATOR) for _ in range(3)]
        for text, answers in REVIEWS.items():
            task = TaskFactory(project=project, data={"text": text}, overlap=3, done=3, taken=3)
            for expert, (sentiment, quality) in zip(experts, answers, strict=True):
                AnnotationFactory(
                    project=project, task=task, annotator=expert, result={"sentiment": sentiment, "quality": quality}
                )
        ModelConnectionFactory(name="Judge 8B", base_url=model_server.base_url, model="model-a")
    model_server.script("model-a", judge_reply)
    sign_in(page, live_server.url, manager.user.email, PASSWORD)

    page.goto(f"{live_server.url}/projects/{project.uuid}/quality")
    panel = page.get_by_role("region", name="Judge vs experts")
    panel.get_by_text("No model has judged this project yet.").wait_for()
    panel.get_by_label("Model").select_option(label="Judge 8B (model-a)")
    panel.get_by_label("Instruction").fill("Judge as a careful buyer would.")
    # Committing the start queues the run; the suite's Celery runs it at once, against the loopback server.
    panel.get_by_role("button", name="Start judge run").click()
    page.get_by_text("The judge run started").wait_for()

    table = panel.locator("[data-judge-agreement]")
    table.wait_for()
    assert panel.locator("[data-judge-state]").inner_text() == "succeeded"
    sentiment = table.locator('tr[data-field="sentiment"]')
    assert sentiment.locator("td").nth(1).inner_text() == "4"
    assert sentiment.locator("td").nth(4).inner_text() == "1.00"
    assert panel.locator('[data-judge-readings] li[data-field="sentiment"]').inner_text() == (
        "sentiment: The judge agrees with the experts about as well as experts agree with each other."
    )
    assert len(model_server.completions) == 4
    with organization_context(organization.pk):
        run = JudgeRun.objects.get()
        assert (run.state, run.judged, run.invalid, run.instruction) == (
            "succeeded",
            4,
            0,
            "Judge as a careful buyer would.",
        )
    assert model_server.completions[0].messages[1]["content"].startswith("Judge as a careful buyer would.")
    page_check(page, axe, screenshot, "quality-judge-vs-experts")
