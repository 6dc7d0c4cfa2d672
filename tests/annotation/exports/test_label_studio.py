"""Label Studio JSON: tasks with annotations in Label Studio's result format, data adapted to its objects."""

import json

from annotation.exports.label_studio import region_id
from tests.annotation import exports_support
from tests.annotation.exports_support import (
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
            "id": str(w.t1.uuid),
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
            "id": str(w.t2.uuid),
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
            "id": str(w.t3.uuid),
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


# A Label Studio config for the world's schema: each object tag named after the data key a field reads.
LABEL_STUDIO_CONFIG = """<View>
  <Text name="prompt" value="$prompt"/>
  <Text name="text" value="$text"/>
  <Image name="image" value="$image"/>
  <Paragraphs name="chat" value="$chat.messages" nameKey="role" textKey="content"/>
  <List name="candidates" value="$candidates" title="Candidates"/>
  <Choices name="sentiment" toName="prompt">
    <Choice value="positive"/><Choice value="negative"/><Choice value="mixed"/>
  </Choices>
  <Choices name="topics" toName="prompt" choice="multiple">
    <Choice value="billing"/><Choice value="bug"/><Choice value="feature"/>
  </Choices>
  <Rating name="helpfulness" toName="prompt" maxRating="5"/>
  <TextArea name="answer" toName="chat"/>
  <TextArea name="note" toName="prompt"/>
  <Labels name="entities" toName="text"><Label value="PER"/><Label value="ORG"/><Label value="LOC"/></Labels>
  <RectangleLabels name="vehicles" toName="image"><Label value="car"/><Label value="bus"/></RectangleLabels>
  <Pairwise name="preference" toName="prompt"/>
  <Ranker name="order" toName="candidates"/>
</View>"""


def test_label_studio_s_converter_reads_every_task_and_result(tenant, object_root, tmp_path):
    from label_studio_sdk.converter import Converter

    w = build_world()
    _, body = run_export(w, "label_studio")
    path = tmp_path / "export.label_studio.json"
    path.write_bytes(body)
    converter = Converter(config=LABEL_STUDIO_CONFIG, project_dir=None, download_resources=False)

    items = list(converter.iter_from_json_file(str(path)))

    # The converter puts each task's newest annotation first: B's before A's on t1.
    assert [(item["id"], sorted(item["output"])) for item in items] == [
        (str(w.t1.uuid), ["answer", "helpfulness", "order", "sentiment"]),
        (str(w.t1.uuid), sorted(["sentiment", "topics", "helpfulness", "answer", "note", "entities", "vehicles",
                                 "preference", "order"])),
        (str(w.t2.uuid), ["answer", "preference", "sentiment"]),
        (str(w.t3.uuid), ["helpfulness", "sentiment"]),
    ]  # fmt: skip
    a1 = items[1]["output"]
    assert a1["sentiment"] == [{"choices": ["positive"], "type": "Choices"}]
    assert a1["topics"] == [{"choices": ["bug", "billing"], "type": "Choices"}]
    assert a1["entities"][1] == {"start": 15, "end": 24, "text": "Acme Corp", "labels": ["ORG"], "type": "Labels"}
    assert a1["vehicles"] == [
        {"x": 10.0, "y": 10.0, "width": 25.0, "height": 40.0, "rotation": 0, "rectanglelabels": ["car"],
         "type": "RectangleLabels", "original_width": 200, "original_height": 100},
        {"x": 50.0, "y": 50.0, "width": 50.0, "height": 50.0, "rotation": 0, "rectanglelabels": ["bus"],
         "type": "RectangleLabels", "original_width": 200, "original_height": 100},
    ]  # fmt: skip
    assert a1["preference"] == [{"selected": "right", "type": "Pairwise"}]
    assert a1["order"] == [{"ranker": {"order": ["y", "x", "z"]}, "type": "Ranker"}]
    assert items[3]["output"]["helpfulness"] == [{"rating": 1, "type": "Rating"}]

    # Its JSON-MIN conversion writes one flat record per annotation.
    converter.convert_to_json_min(str(path), str(tmp_path / "min"), is_dir=False)
    records = json.loads((tmp_path / "min" / "result.json").read_text())
    assert [(r["id"], r["prompt"], r.get("sentiment")) for r in records] == [
        (str(w.t1.uuid), "Explain DNS.", "negative"),
        (str(w.t1.uuid), "Explain DNS.", "positive"),
        (str(w.t2.uuid), "Say hi.", "positive"),
        (str(w.t3.uuid), "Name a colour.", "negative"),
    ]
