"""The label schema through the API: conversion from Label Studio, task data and gold answers checked on add."""

import pytest

from projects.models import Task
from tenancy.models import Role
from tests.factories import ProjectFactory

CONVERT_URL = "/api/v1/label-schemas/from-label-studio"
SPANS = {
    "fields": [
        {"name": "entities", "type": "spans", "source": "text", "labels": ["PER", "ORG"], "required": False},
        {"name": "topic", "type": "choices", "options": ["news", "sport"]},
    ]
}


@pytest.fixture
def manager(tenant, api_as):
    return api_as(tenant, Role.MANAGER)


def test_label_studio_config_converts_to_a_schema(manager):
    config = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="single"><Choice value="pos"/><Choice value="neg"/></Choices>
</View>"""

    response = manager.post(CONVERT_URL, {"label_studio_config": config}, format="json")

    assert response.status_code == 200
    (field,) = response.json()["label_schema"]["fields"]
    assert (field["name"], field["type"], field["options"], field["multiple"]) == (
        "sentiment",
        "choices",
        ["pos", "neg"],
        False,
    )


def test_an_unsupported_label_studio_tag_is_named_with_its_line(manager):
    config = '<View>\n<Text name="t" value="$t"/>\n<Video name="v" value="$v"/>\n</View>'

    response = manager.post(CONVERT_URL, {"label_studio_config": config}, format="json")

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["field"] == "label_studio_config"
    assert "Line 3" in error["message"]
    assert "Video" in error["message"]


def test_an_annotator_may_not_convert(tenant, api_as):
    response = api_as(tenant, Role.ANNOTATOR).post(CONVERT_URL, {"label_studio_config": "<View/>"}, format="json")

    assert response.status_code == 403


def test_tasks_whose_data_lacks_a_schema_source_are_refused_by_row(tenant, manager):
    project = ProjectFactory(label_schema=SPANS)
    items = [
        {"external_id": "ok", "data": {"text": "Ada Lovelace met Babbage."}},
        {"external_id": "no-text", "data": {"body": "wrong key"}},
        {"external_id": "not-a-string", "data": {"text": 42}},
    ]

    response = manager.post(f"/api/v1/projects/{project.uuid}/tasks/", items, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("[1].data.text", "required"),
        ("[2].data.text", "invalid_type"),
    ]
    assert Task.objects.count() == 0


def test_gold_answers_and_qualification_flags_are_checked_when_tasks_are_added(tenant, manager):
    project = ProjectFactory(label_schema=SPANS)
    text = "Ada Lovelace met Babbage."
    items = [
        {"external_id": "g1", "data": {"text": text}, "gold_answer": {"topic": "news", "entities": []}},
        {"external_id": "g2", "data": {"text": text}, "gold_answer": {"topic": "weather"}},
        {"external_id": "q1", "data": {"text": text}, "qualification": True},
        {"external_id": "s1", "data": {"text": text}, "required_skills": {"law": 9}, "language": "DE"},
    ]

    response = manager.post(f"/api/v1/projects/{project.uuid}/tasks/", items, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("[1].gold_answer.topic", "invalid_choice"),
        ("[2].qualification", "gold_answer_required"),
        ("[3].required_skills", "invalid"),
    ]


def test_routing_fields_of_tasks_are_stored(tenant, manager):
    project = ProjectFactory(label_schema=SPANS, overlap=2)
    text = "Ada Lovelace met Babbage."
    items = [
        {"external_id": "g1", "data": {"text": text}, "gold_answer": {"topic": "news"}, "qualification": True},
        {"external_id": "s1", "data": {"text": text}, "required_skills": {"law": 4}, "language": "DE"},
    ]

    response = manager.post(f"/api/v1/projects/{project.uuid}/tasks/", items, format="json")

    assert response.status_code == 201
    gold, skilled = Task.objects.order_by("external_id")
    assert (gold.is_gold, gold.qualification, gold.gold_answer, gold.overlap) == (True, True, {"topic": "news"}, 2)
    assert (skilled.is_gold, skilled.required_skills, skilled.language) == (False, {"law": 4}, "de")
