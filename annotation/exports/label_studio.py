"""Label Studio JSON: a JSON array of tasks, each with its annotations in Label Studio's result format, so a lab
can move a project to Label Studio (and back, with the config converter and an import).

Per result item: `from_name` is the field's name, `to_name` the task data key it reads (`source`; the field's
name when it has none), so the Label Studio config should name each object tag after its data key.
- choices → `choices` `{"choices": [...]}`; rating → `rating` `{"rating": n}`; text → `textarea` `{"text": [s]}`;
- spans → one `labels` region each `{"start", "end", "text", "labels": [label]}`;
- boxes → one `rectanglelabels` region each, in percent of the image (`x`, `y`, `width`, `height`, 0..100),
  with `original_width`/`original_height` and no rotation;
- pairwise → `pairwise` `{"selected": "left"|"right"}` (the first candidate is left); a tie has no Label Studio
  equivalent and is left out;
- ranking → `ranker` `{"ranker": {<field name>: [ids, best first]}}`; tied candidates keep the task's order;
- rubric fields have no Label Studio equivalent and are left out.
Task data is adapted to Label Studio's objects: an image `{url|key, width, height}` becomes its URL (or key)
string, and candidates gain Label Studio's `title` (the id) and `body` (the content) keys. Region ids are
derived from the annotation, so two exports of the same data are identical.
"""

import hashlib
from typing import Any

from annotation.exports.base import TaskRecordWriter, iso, json_line
from annotation.exports.records import AnnotationRecord, TaskRecord
from projects.label_schema.fields import (
    BoxesField,
    ChoicesField,
    Field,
    LabelSchema,
    PairwiseField,
    RankingField,
    RatingField,
    SpansField,
    TextField,
)


def region_id(annotation_id: str, field: str, index: int) -> str:
    return hashlib.sha256(f"{annotation_id}:{field}:{index}".encode()).hexdigest()[:10]


def _percent(value: float, whole: Any) -> float:
    return 100.0 * value / whole if isinstance(whole, int | float) and whole else 0.0


def _regions(annotation: AnnotationRecord, field: Field, value: Any, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The Label Studio result items of one field's value (empty when it has no Label Studio form)."""
    to_name = field.source or field.name
    base = {"from_name": field.name, "to_name": to_name}

    def item(index: int, kind: str, body: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"id": region_id(annotation.id, field.name, index), **base, "type": kind, "value": body, **extra}

    if isinstance(field, ChoicesField):
        return [item(0, "choices", {"choices": value if isinstance(value, list) else [value]})]
    if isinstance(field, RatingField):
        return [item(0, "rating", {"rating": value})]
    if isinstance(field, TextField):
        return [item(0, "textarea", {"text": [value]})]
    if isinstance(field, SpansField):
        text = data.get(field.source)
        text = text if isinstance(text, str) else ""
        return [
            item(
                i,
                "labels",
                {"start": s["start"], "end": s["end"], "text": text[s["start"] : s["end"]], "labels": [s["label"]]},
            )
            for i, s in enumerate(value)
        ]
    if isinstance(field, BoxesField):
        image = data.get(field.source)
        image = image if isinstance(image, dict) else {}
        width, height = image.get("width"), image.get("height")
        return [
            item(
                i,
                "rectanglelabels",
                {
                    "x": _percent(b["x"], width),
                    "y": _percent(b["y"], height),
                    "width": _percent(b["width"], width),
                    "height": _percent(b["height"], height),
                    "rotation": 0,
                    "rectanglelabels": [b["label"]],
                },
                original_width=width,
                original_height=height,
                image_rotation=0,
            )
            for i, b in enumerate(value)
        ]
    listed = data.get(field.source) if field.source else None
    ids = [c.get("id") for c in listed or [] if isinstance(c, dict)]
    if isinstance(field, PairwiseField):
        preferred = value.get("preferred")
        if preferred not in ids[:2]:
            return []  # a tie
        return [item(0, "pairwise", {"selected": "left" if preferred == ids[0] else "right"})]
    if isinstance(field, RankingField):
        order = sorted((c for c in ids if c in value), key=lambda c: (value[c], ids.index(c)))
        return [item(0, "ranker", {"ranker": {field.name: order}})]
    return []


def _task_data(data: dict[str, Any], schemas: list[LabelSchema]) -> dict[str, Any]:
    adapted = dict(data)
    for schema in schemas:
        for field in schema:
            value = adapted.get(field.source) if field.source else None
            if isinstance(field, BoxesField) and isinstance(value, dict):
                adapted[field.source] = value.get("url") or value.get("key") or ""
            elif isinstance(field, PairwiseField | RankingField) and isinstance(value, list):
                adapted[field.source] = [
                    {**c, "title": c.get("title", c.get("id")), "body": c.get("body", c.get("content"))}
                    if isinstance(c, dict)
                    else c
                    for c in value
                ]
    return adapted


class LabelStudioWriter(TaskRecordWriter):
    extension = "label_studio.json"
    content_type = "application/json"

    def begin(self) -> None:
        self.count = 0
        self.schemas = self.context.versions_newest_first()
        self.out.write("[")

    def write_task(self, record: TaskRecord) -> int:
        annotations = []
        for annotation in record.annotations:
            schema = self.context.schema(annotation.schema_version)
            result = []
            for field in [] if schema is None else schema:
                if field.name in annotation.result:
                    result.extend(_regions(annotation, field, annotation.result[field.name], record.data))
            annotations.append(
                {
                    "result": result,
                    "created_at": iso(annotation.created_at),
                    "lead_time": annotation.time_spent_ms / 1000,
                    "was_cancelled": False,
                    "ground_truth": False,
                }
            )
        document = {
            # Label Studio's own exports name each task; its converter needs the key, and its import ignores it.
            "id": record.id,
            "data": _task_data(record.data, self.schemas),
            "annotations": annotations,
            "meta": {"id": record.id, "external_id": record.external_id},
        }
        self.out.write(("," if self.count else "") + "\n" + json_line(document).rstrip("\n"))
        self.count += 1
        return 1

    def end(self) -> None:
        self.out.write("\n]\n")
