"""The schema page's field builder in a real browser: start from a template, edit fields in the form and watch the
JSON and the preview follow, save and find the schema stored; a server refusal shown on the input it names; a
Label Studio config converted from the page."""

import json

import pytest
from playwright.sync_api import expect

from core.audit.context import ActorContext, actor_context
from core.context import organization_context
from projects.models import Project
from projects.services.projects import project_create
from tenancy.models import Role
from tests.browser.checks import PASSWORD, member, page_check
from tests.browser.conftest import ARTIFACTS
from tests.factories import OrganizationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "fields": [
        {"name": "finding", "type": "choices", "label": "Finding", "options": ["normal", "nodule"]},
        {"name": "confidence", "type": "rating", "label": "Confidence", "min": 1, "max": 5},
    ]
}
LABEL_STUDIO = """<View>
  <Text name="text" value="$text"/>
  <Labels name="ner" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
</View>"""


def _open(live_server, page, sign_in, schema: dict) -> Project:
    page.set_default_timeout(10_000)
    organization = OrganizationFactory(name="Northwind Lab")
    manager = member(organization, Role.MANAGER, "maria@northwind.example")
    with organization_context(organization.pk), actor_context(ActorContext(user_id=manager.user_id)):
        project = project_create(actor=manager, name="Support chats", label_schema=schema)
    sign_in(page, live_server.url, manager.user.email, PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.uuid}/schema")
    return project


def _editor_json(page) -> dict:
    return json.loads(page.get_by_label("Label schema (JSON)").input_value())


def _stored(project: Project) -> dict:
    with organization_context(project.organization_id):
        return Project.objects.get(pk=project.pk).label_schema


def test_a_template_edited_in_the_form_is_saved_and_stored(live_server, page, screenshot, axe, sign_in):
    project = _open(live_server, page, sign_in, {"fields": []})
    preview = page.locator("#schema-preview")

    # A template fills the builder, the JSON and the preview; nothing is stored yet.
    page.get_by_role("button", name="Chat evaluation", exact=False).click()
    page.get_by_text("Filled from the “Chat evaluation” template. Nothing is saved yet").wait_for()
    overall = page.get_by_role("group", name="Field 1: overall")
    assert overall.get_by_label("Label", exact=True).input_value() == "Overall quality of the assistant"
    assert [f["name"] for f in _editor_json(page)["fields"]] == ["overall", "problems", "feedback"]
    assert _stored(project) == {"fields": []}

    # Editing a field in the form rewrites the JSON and redraws the preview.
    overall.get_by_label("Label", exact=True).fill("Assistant quality")
    overall.get_by_label("Highest point").fill("7")
    preview.get_by_role("group", name="Assistant quality").wait_for()
    assert preview.get_by_role("group", name="Assistant quality").get_by_role("radio").count() == 7
    assert _editor_json(page)["fields"][0] == {
        "name": "overall",
        "type": "rating",
        "label": "Assistant quality",
        "source": "conversation",
        "min": 1,
        "max": 7,
        "labels": {"1": "poor", "3": "acceptable", "5": "excellent"},
    }

    # Add a field, name it, change its type, move it up; the JSON keeps the order and the new type's settings.
    page.get_by_role("button", name="Add a field").click()
    added = page.get_by_role("group", name="Field 4: field_4")
    added.get_by_label("Name").fill("urgent")
    added = page.get_by_role("group", name="Field 4: urgent")
    added.get_by_label("Type").select_option("pairwise")
    added.get_by_label("Rationale").select_option("required")
    page.get_by_role("button", name="Move field 4 up").click()
    assert page.evaluate("document.activeElement.id") == "sb-2-up"
    fields = _editor_json(page)["fields"]
    assert [f["name"] for f in fields] == ["overall", "problems", "urgent", "feedback"]
    assert fields[2] == {"name": "urgent", "type": "pairwise", "source": "responses", "rationale": "required"}
    preview.get_by_role("group", name="urgent").wait_for()

    # The JSON edited by hand is followed by the form.
    edited = _editor_json(page)
    edited["fields"][3]["label"] = "Written feedback"
    page.get_by_label("Label schema (JSON)").fill(json.dumps(edited, indent=2))
    expect(page.get_by_role("group", name="Field 4: feedback").get_by_label("Label", exact=True)).to_have_value(
        "Written feedback"
    )
    page_check(page, axe, screenshot, "schema-builder-template")
    # What the window shows while the form is scrolled: the preview stays beside the field being edited.
    page.get_by_role("group", name="Field 3: urgent").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "schema-builder-window.png"))

    page.get_by_role("button", name="Save schema and guidelines").click()
    page.get_by_text("Saved: schema version 1, guidelines version 1.").wait_for()
    stored = _stored(project)
    assert [f["name"] for f in stored["fields"]] == ["overall", "problems", "urgent", "feedback"]
    assert (stored["fields"][0]["label"], stored["fields"][0]["max"]) == ("Assistant quality", 7)
    assert stored["fields"][3]["label"] == "Written feedback"

    # After a reload the form shows what is stored; replacing unsaved work with a template asks first.
    page.reload()
    overall = page.get_by_role("group", name="Field 1: overall")
    assert overall.get_by_label("Highest point").input_value() == "7"
    overall.get_by_label("Label", exact=True).fill("Changed, not saved")
    asked: list[str] = []

    def decline(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    page.get_by_text("Start from a template or a Label Studio config").click()
    page.get_by_role("button", name="Ranking", exact=False).click()
    assert asked == ["Replace the fields in the editor? The changes you have not saved will be lost."]
    assert overall.get_by_label("Label", exact=True).input_value() == "Changed, not saved"
    assert _editor_json(page)["fields"][0]["label"] == "Changed, not saved"


def test_an_invalid_max_is_shown_on_its_field_and_a_label_studio_config_converts(
    live_server, page, screenshot, axe, sign_in
):
    project = _open(live_server, page, sign_in, SCHEMA)
    confidence = page.get_by_role("group", name="Field 2: confidence")

    confidence.get_by_label("Highest point").fill("0")
    page.get_by_role("button", name="Save schema and guidelines").click()
    page.get_by_role("alert").filter(has_text="Please correct the fields marked below.").wait_for()

    # The server's refusal, on the input it names in the form, and with its path and field in the JSON view.
    confidence = page.get_by_role("group", name="Field 2: confidence")
    highest = confidence.get_by_label("Highest point")
    assert highest.input_value() == "0"
    assert highest.get_attribute("aria-invalid") == "true"
    assert confidence.locator(".field-error").all_inner_texts() == ["Must be greater than min (1)."]
    described = highest.get_attribute("aria-describedby")
    assert page.locator(f"#{described}").inner_text() == "Must be greater than min (1)."
    assert page.get_by_role("group", name="Field 1: finding").locator(".field-error").count() == 0
    assert page.locator("#id_label_schema_error").inner_text() == (
        "fields[1].max (“confidence”): Must be greater than min (1)."
    )
    assert [error for error in page.console_errors if "status of 400" not in error] == []
    page.console_errors.clear()  # the refused save's 400, logged by the browser, was the point
    page_check(page, axe, screenshot, "schema-builder-error")
    # Correcting the input takes its message away.
    highest.fill("4")
    assert confidence.locator(".field-error").count() == 0
    assert highest.get_attribute("aria-invalid") is None
    assert _stored(project)["fields"][1]["max"] == 5

    # A key the form has no input for is named on its field's group, with the key.
    edited = _editor_json(page)
    edited["fields"][0]["colour"] = "red"
    page.get_by_label("Label schema (JSON)").fill(json.dumps(edited))
    page.get_by_role("button", name="Save schema and guidelines").click()
    finding = page.get_by_role("group", name="Field 1: finding")
    expect(finding.locator(".field-error")).to_have_text(["colour: Unknown key for a choices field."])
    page.console_errors.clear()
    edited["fields"][0].pop("colour")
    page.get_by_label("Label schema (JSON)").fill(json.dumps(edited))

    # A Label Studio config pasted on the page becomes the builder's fields (after confirming the replacement).
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_text("Start from a template or a Label Studio config").click()
    page.get_by_label("Label Studio config (XML)").fill(LABEL_STUDIO)
    page.get_by_role("button", name="Convert into fields").click()
    page.get_by_text("Filled from the Label Studio config.").wait_for()
    entities = page.get_by_role("group", name="Field 1: ner")
    assert entities.get_by_label("Type").input_value() == "spans"
    assert entities.get_by_label("Span labels").input_value() == "PER\nORG"
    page.locator("#schema-preview").get_by_text("Dr. Alice Moreau").wait_for()
    page_check(page, axe, screenshot, "schema-builder-label-studio")

    # A rubric's criteria are rows of their own: add one, name it, and the JSON and the preview follow.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_text("Start from a template or a Label Studio config").click()
    page.get_by_role("button", name="Rubric grading", exact=False).click()
    grades = page.get_by_role("group", name="Field 1: grades")
    grades.get_by_role("button", name="Add a criterion").click()
    fourth = grades.get_by_role("group", name="Criterion 4")
    assert page.evaluate("document.activeElement.id") == "sb-0-criteria-3-name"
    fourth.get_by_label("Name").fill("tone")
    fourth.get_by_label("Highest").fill("3")
    assert _editor_json(page)["fields"][0]["criteria"][3] == {"name": "tone", "min": 1, "max": 3}
    page.locator("#schema-preview").get_by_text("tone", exact=True).wait_for()
    page_check(page, axe, screenshot, "schema-builder-rubric")
