"""Label Studio JSON: tasks with annotations in Label Studio's result format, data adapted to its objects."""

import json

from projects.exports.label_studio import region_id
from tests.projects import exports_support
from tests.projects.exports_support import (
    CANDIDATES,
    build_world,
    iso,
    run_export,
)

object_root = exports_support.object_root


def _data(task, image):
    data = dict(task.data)
    data["image"] = image
    data["responses"] = [{**c, "title": c["id"], "body": c["content"]} for c in task.data["responses"]]
    data["candidates"] = [{**c, "title": c["id"], "body": c["content"]} for c in CANDIDATES]
    return data


def _item(annotation, field, index, to_name, kind, value, **extra):
    return {
        "id": region_id(str(annotation.uuid), field, index),
        "from_name": field,
        "to_name": to_name,
        "type": kind,
        "value": value,
        **extra,
    }


def _box(annotation, index, x, y, width, height, label):
    value = {"x": x, "y": y, "width": width, "height": height, "rotation": 0, "rectanglelabels": [label]}
    return _item(
        annotation, "vehicles", index, "image", "rectanglelabels", value,
        original_width=200, original_height=100, image_rotation=0,
    )  # fmt: skip


def _annotation(annotation, result):
    return {
        "result": result,
        "created_at": iso(annotation.created_at),
        "lead_time": annotation.time_spent_ms / 1000,
        "was_cancelled": False,
        "ground_truth": False,
    }


def test_tasks_and_results_exactly(tenant, object_root):
    w = build_world()

    job, body = run_export(w, "label_studio")

    a1, b1 = w.a1, w.b1
    expected = [
        {
            "data": _data(w.t1, "https://media.example.org/1.jpg"),
            "annotations": [
                _annotation(
                    a1,
                    [
                        _item(a1, "sentiment", 0, "prompt", "choices", {"choices": ["positive"]}),
                        _item(a1, "topics", 0, "topics", "choices", {"choices": ["bug", "billing"]}),
                        _item(a1, "helpfulness", 0, "helpfulness", "rating", {"rating": 4}),
                        _item(a1, "answer", 0, "chat", "textarea", {"text": ["DNS translates names."]}),
                        _item(a1, "note", 0, "note", "textarea", {"text": ['=HYPERLINK("http://evil.example")']}),
                        _item(
                            a1,
                            "entities",
                            0,
                            "text",
                            "labels",
                            {"start": 0, "end": 5, "text": "Alice", "labels": ["PER"]},
                        ),
                        _item(
                            a1,
                            "entities",
                            1,
                            "text",
                            "labels",
                            {"start": 15, "end": 24, "text": "Acme Corp", "labels": ["ORG"]},
                        ),
                        _item(
                            a1,
                            "entities",
                            2,
                            "text",
                            "labels",
                            {"start": 39, "end": 44, "text": "Paris", "labels": ["LOC"]},
                        ),
                        # Percent of the 200 x 100 image.
                        _box(a1, 0, 10.0, 10.0, 25.0, 40.0, "car"),
                        _box(a1, 1, 50.0, 50.0, 50.0, 50.0, "bus"),
                        # b is the second candidate: right.
                        _item(a1, "preference", 0, "responses", "pairwise", {"selected": "right"}),
                        _item(a1, "order", 0, "candidates", "ranker", {"ranker": {"order": ["y", "x", "z"]}}),
                        # The rubric has no Label Studio form: left out.
                    ],
                ),
                _annotation(
                    b1,
                    [
                        _item(b1, "sentiment", 0, "prompt", "choices", {"choices": ["negative"]}),
                        _item(b1, "helpfulness", 0, "helpfulness", "rating", {"rating": 2}),
                        _item(b1, "answer", 0, "chat", "textarea", {"text": ["-1 is not an answer"]}),
                        # A tie has no Label Studio form: left out; no spans and no boxes give no region.
                        _item(b1, "order", 0, "candidates", "ranker", {"ranker": {"order": ["x", "y", "z"]}}),
                    ],
                ),
            ],
            "meta": {"id": str(w.t1.uuid), "external_id": "t1"},
        },
        {
            "data": _data(w.t2, "orgs/x/media/p/1.png"),
            "annotations": [
                _annotation(
                    w.a2,
                    [
                        _item(w.a2, "sentiment", 0, "prompt", "choices", {"choices": ["positive"]}),
                        _item(w.a2, "answer", 0, "chat", "textarea", {"text": ["Hi!"]}),
                        _item(w.a2, "preference", 0, "responses", "pairwise", {"selected": "left"}),
                    ],
                )
            ],
            "meta": {"id": str(w.t2.uuid), "external_id": "t2"},
        },
        {
            "data": _data(w.t3, "https://media.example.org/1.jpg"),
            "annotations": [
                _annotation(
                    w.r3,
                    [
                        _item(w.r3, "sentiment", 0, "prompt", "choices", {"choices": ["negative"]}),
                        _item(w.r3, "helpfulness", 0, "helpfulness", "rating", {"rating": 1}),
                    ],
                )
            ],
            "meta": {"id": str(w.t3.uuid), "external_id": "t3"},
        },
    ]
    assert json.loads(body) == expected
    assert body.startswith(b"[\n{")
    assert body.endswith(b"}\n]\n")
    assert job.rows == 3


def test_region_ids_are_stable_and_distinct():
    assert region_id("a", "f", 0) == region_id("a", "f", 0)
    assert len({region_id("a", "f", 0), region_id("a", "f", 1), region_id("b", "f", 0), region_id("a", "g", 0)}) == 4
    assert len(region_id("a", "f", 0)) == 10
