"""Guidelines written in Markdown, as an annotator reads them beside the task: formatted, and nothing in them runs."""

import pytest

from tenancy.models import Role
from tests.browser.checks import page_check
from tests.browser.world import PASSWORD, make_lab, make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GUIDELINES = """# Answering

Read the **whole** question before you answer. When unsure, see [the atlas](https://atlas.example/europe).

## Edge cases

1. A city named after a river is still a city.
2. Answer *no* when the question is false.

| Question | Answer |
|---|---|
| Is Paris in France? | yes |

<script>window.__pwned = 1</script>
<img src=x onerror="window.__pwned = 2">
[Do not click](javascript:window.__pwned=3)
"""


def test_markdown_guidelines_are_formatted_and_nothing_in_them_runs(page, live_server, sign_in, axe, screenshot):
    schema = {"fields": [{"name": "answer", "type": "choices", "options": ["yes", "no"], "source": "question"}]}
    lab = make_lab()
    project = make_project(
        lab, name="Geography quiz", guidelines=GUIDELINES, label_schema=schema, tasks=[{"question": "Is Lyon a river?"}]
    )
    sign_in(page, live_server.url, lab.member(Role.ANNOTATOR).user.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.uuid}/label")
    page.locator("#workspace[data-state=labelling]").wait_for()

    page.keyboard.press("g")

    dialog = page.get_by_role("dialog", name="Guidelines")
    dialog.wait_for()
    text = dialog.locator(".guidelines-text")
    assert text.locator("h3").all_inner_texts() == ["Answering"]
    assert text.locator("h4").all_inner_texts() == ["Edge cases"]
    assert text.locator("ol > li").all_inner_texts() == [
        "A city named after a river is still a city.",
        "Answer no when the question is false.",
    ]
    assert text.locator("td").all_inner_texts() == ["Is Paris in France?", "yes"]
    atlas = text.get_by_role("link", name="the atlas")
    assert (atlas.get_attribute("href"), atlas.get_attribute("rel")) == (
        "https://atlas.example/europe",
        "noopener noreferrer nofollow",
    )
    assert text.locator("a", has_text="Do not click").get_attribute("href") is None
    assert text.locator("script, img").count() == 0
    assert "<script>window.__pwned = 1</script>" in text.inner_text()
    assert page.evaluate("() => window.__pwned") is None
    page_check(page, axe, screenshot, "workspace-guidelines-markdown")
