"""The schema page beyond saving JSON: templates and Label Studio configs fill the editor without storing anything,
and every refusal of a schema names the field and the setting it concerns."""

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from audit.models import AuditEvent
from core.context import organization_context
from core.errors import Conflict, DomainError, FieldError, InvalidInput
from projects.forms import ProjectSchemaForm
from projects.label_schema.templates import SCHEMA_TEMPLATES, schema_template_find
from projects.models import LabelSchemaVersion, Project
from projects.pages import schema_errors_place
from tenancy.models import Role
from tests.conftest import session_client
from tests.factories import OrganizationFactory, ProjectFactory

pytestmark = pytest.mark.django_db

STORED = {"fields": [{"name": "finding", "type": "choices", "options": ["normal", "nodule"]}]}
LABEL_STUDIO = """<View>
  <Text name="text" value="$text"/>
  <Choices name="Sentiment" toName="text" choice="single" required="true">
    <Choice value="Positive"/><Choice value="Negative"/>
  </Choices>
  <TextArea name="why" toName="text"/>
</View>"""


@pytest.fixture
def lab() -> Any:
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        project = ProjectFactory(name="Radiology batch", label_schema=STORED, guidelines="Old text.")
    client, _ = session_client(organization, Role.MANAGER)
    return organization, project, client


def _url(project: Project) -> str:
    return reverse("project-schema", args=[project.uuid])


def _editor(response: Any) -> Any:
    return json.loads(response.context["form"]["label_schema"].value())


def _nothing_stored(organization: Any, project: Project) -> None:
    with organization_context(organization.pk):
        project.refresh_from_db()
        assert project.label_schema["fields"][0]["name"] == "finding"
        assert (project.schema_version, project.guidelines_version) == (1, 1)
        assert not AuditEvent.objects.filter(action="project.update").exists()


def test_a_template_fills_the_editor_and_keeps_the_unsaved_guidelines(lab):
    organization, project, client = lab

    response = client.post(_url(project), {"template": "rubric", "guidelines": "New text.", "new_schema_version": "on"})

    assert response.status_code == 200
    assert _editor(response) == schema_template_find(key="rubric").document
    assert response.context["form"]["guidelines"].value() == "New text."
    assert response.context["form"]["new_schema_version"].value() is True
    assert "Filled from the “Rubric grading” template. Nothing is saved yet" in response.text
    assert 'data-unsaved="true"' in response.text
    _nothing_stored(organization, project)


def test_an_unknown_template_is_refused(lab):
    organization, project, client = lab

    response = client.post(_url(project), {"template": "poetry", "label_schema": json.dumps(STORED)})

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["No such template: choose one of those listed."]
    _nothing_stored(organization, project)


def test_every_template_is_offered_as_a_button(lab):
    _, project, client = lab

    page = client.get(_url(project)).text

    assert page.count('name="template"') == len(SCHEMA_TEMPLATES)
    # The field builder needs its script: without it the page is the JSON and nothing offers a dead form.
    assert '<section class="card" aria-labelledby="builder-heading" hidden>' in page
    assert 'value="pairwise_preference" data-replaces-schema><strong>Pairwise preference</strong>' in page


@pytest.mark.parametrize("as_file", [False, True], ids=["pasted", "file"])
def test_a_label_studio_config_becomes_the_editors_fields(lab, as_file):
    organization, project, client = lab
    body: dict[str, Any] = {"action": "label-studio", "label_schema": json.dumps(STORED), "guidelines": "Kept."}
    if as_file:
        body["label_studio_file"] = SimpleUploadedFile("config.xml", LABEL_STUDIO.encode(), "application/xml")
    else:
        body["label_studio_config"] = LABEL_STUDIO

    response = client.post(_url(project), body)

    assert response.status_code == 200
    assert _editor(response) == {
        "fields": [
            {
                "name": "sentiment",
                "type": "choices",
                "required": True,
                "source": "text",
                "options": ["Positive", "Negative"],
                "multiple": False,
            },
            {"name": "why", "type": "text", "required": False, "source": "text"},
        ]
    }
    assert response.context["form"]["guidelines"].value() == "Kept."
    assert "Filled from the Label Studio config." in response.text
    _nothing_stored(organization, project)


def test_a_label_studio_config_that_cannot_convert_names_its_line_and_keeps_the_editor(lab):
    organization, project, client = lab
    config = (
        '<View>\n  <Text name="text" value="$text"/>\n'
        '  <Choices name="topic" toName="text">\n    <Choice value="a"/>\n  </Choices>\n</View>'
    )
    edited = json.dumps({"fields": [{"name": "draft", "type": "text"}]})

    response = client.post(
        _url(project), {"action": "label-studio", "label_studio_config": config, "label_schema": edited}
    )

    assert response.status_code == 400
    assert response.context["import_errors"] == ['Line 3, <Choices name="topic"> (options): Give at least 2 options.']
    assert f'<li class="field-error">{escape(response.context["import_errors"][0])}</li>' in response.text
    assert 'id="id_label_studio_config" name="label_studio_config"' in response.text
    assert escape(config) in response.text  # the config stays in its box, to be corrected
    assert _editor(response) == json.loads(edited)
    assert '<details class="card schema-start" open>' in response.text
    _nothing_stored(organization, project)


def test_converting_without_a_config_says_what_is_missing(lab):
    organization, project, client = lab

    response = client.post(_url(project), {"action": "label-studio", "label_studio_config": "  "})

    assert response.status_code == 400
    assert response.context["import_errors"] == ["Label Studio config: paste the XML or choose its file."]
    _nothing_stored(organization, project)


def test_schema_errors_name_their_field_and_setting_on_the_page(lab):
    organization, project, client = lab
    schema = {
        "fields": [
            {"name": "finding", "type": "choices", "options": ["normal", "nodule"]},
            {"name": "confidence", "type": "rating", "min": 5, "max": 3},
            {"name": "grades", "type": "rubric", "criteria": [{"name": "tone", "min": 2, "max": 2}]},
        ]
    }

    response = client.post(_url(project), {"label_schema": json.dumps(schema), "guidelines": "Old text."})

    assert response.status_code == 400
    assert response.context["form"].errors["label_schema"] == [
        "fields[1].max (“confidence”): Must be greater than min (5).",
        "fields[2].criteria[0].max (“grades”): Must be greater than min (2).",
    ]
    assert response.context["schema_errors"] == [
        {"path": "fields[1].max", "index": 1, "setting": "max", "message": "Must be greater than min (5)."},
        {
            "path": "fields[2].criteria[0].max",
            "index": 2,
            "setting": "criteria[0].max",
            "message": "Must be greater than min (2).",
        },
    ]
    assert '<script id="schema-errors" type="application/json">' in response.text
    assert escape("fields[1].max (“confidence”): Must be greater than min (5).") in response.text
    _nothing_stored(organization, project)


def test_a_schema_that_saves_records_its_version_and_audit_event(lab):
    organization, project, client = lab
    schema = {"fields": [*STORED["fields"], {"name": "note", "type": "text", "required": False}]}

    response = client.post(_url(project), {"label_schema": json.dumps(schema), "guidelines": "Old text."})

    assert response.status_code == 302
    with organization_context(organization.pk):
        project.refresh_from_db()
        assert [field["name"] for field in project.label_schema["fields"]] == ["finding", "note"]
        assert LabelSchemaVersion.objects.get(version=1).document == project.label_schema
        assert AuditEvent.objects.filter(action="project.update").count() == 1


def _form(document: Any) -> ProjectSchemaForm:
    form = ProjectSchemaForm({"label_schema": json.dumps(document)})
    assert form.is_valid()
    return form


def test_an_incompatible_change_is_placed_on_the_field_it_names():
    document = {"fields": [{"name": "finding", "type": "choices"}, {"name": "size", "type": "rating"}]}
    form = _form(document)
    refusal = Conflict(
        "This change would orphan annotations.",
        errors=[
            FieldError("label_schema", "Field 'size': its scale narrowed from 1..5 to 1..3.", "incompatible"),
            FieldError("label_schema", "Field 'gone' was removed.", "incompatible"),
        ],
    )

    placed = schema_errors_place(form, refusal, document=document)

    assert placed == [
        {"path": "", "index": 1, "setting": "", "message": "Field 'size': its scale narrowed from 1..5 to 1..3."},
        {"path": "", "index": None, "setting": "", "message": "Field 'gone' was removed."},
    ]
    assert form.errors["label_schema"] == [
        "schema, field “size”: Field 'size': its scale narrowed from 1..5 to 1..3.",
        "schema: Field 'gone' was removed.",
    ]


def test_errors_outside_the_schema_stay_on_their_own_inputs():
    document = {"fields": [{"name": "finding", "type": "text"}]}
    form = _form(document)
    refusal = InvalidInput("Invalid.", errors=[FieldError("guidelines", "Too long.", "too_long")])

    placed = schema_errors_place(form, refusal, document=document)

    assert placed == []
    assert form.errors == {"guidelines": ["Too long."]}


def test_a_refusal_without_errors_is_said_above_the_form():
    form = _form({"fields": []})

    placed = schema_errors_place(form, DomainError("The project is archived."), document={"fields": []})

    assert placed == []
    assert form.non_field_errors() == ["The project is archived."]
