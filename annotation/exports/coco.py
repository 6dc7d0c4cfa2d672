"""COCO object detection JSON from the `boxes` fields.

- `categories`: one per (boxes field, label), ids from 1 in schema order (labels of the current schema first,
  then labels only older versions had); `name` is the label, `supercategory` the field's name.
- `images`: one per task and image key (`source`) that at least one counted annotation answered (an empty list
  of boxes still gives the image: it is a labelled negative). `file_name` is the image's URL or storage key,
  `width`/`height` come from the task data, and `task_id`/`external_id` name the task.
- `annotations`: one per box, `bbox` = [x, y, width, height] in pixels, `area` = width * height, `iscrowd` 0,
  with the pseudonymous `annotator` and the `annotation_id` it came from.

Images are written as tasks stream by; boxes are spooled to a temporary file and appended after the images.
"""

import json
import shutil
import tempfile
from collections.abc import Sequence
from typing import Any

from annotation.exports.base import TaskRecordWriter, has_field, iso
from annotation.exports.records import TaskRecord
from projects.label_schema.fields import BoxesField, LabelSchema


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class CocoWriter(TaskRecordWriter):
    extension = "coco.json"
    content_type = "application/json"

    @classmethod
    def schema_refusal(cls, schemas: Sequence[LabelSchema]) -> str | None:
        if has_field(schemas, (BoxesField,), lambda field: True):
            return None
        return "COCO is made from boxes fields, and the project's label schema has none."

    def begin(self) -> None:
        self.categories: dict[tuple[str, str], int] = {}
        for name, versions in self.context.union_of(BoxesField).items():
            for version in versions:
                for label in version.labels:
                    self.categories.setdefault((name, label), len(self.categories) + 1)
        self.boxes = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 - closed in end()
        self.image_count = 0
        self.box_count = 0
        info = {
            "description": f"Annotate export {self.context.export_id}",
            "date_created": iso(self.context.created_at),
        }
        categories = [
            {"id": number, "name": label, "supercategory": field} for (field, label), number in self.categories.items()
        ]
        self.out.write(f'{{"info":{_compact(info)},"licenses":[],"categories":{_compact(categories)},"images":[')

    def _image(self, record: TaskRecord, source: str) -> int:
        image = record.data.get(source)
        image = image if isinstance(image, dict) else {}
        self.image_count += 1
        document = {
            "id": self.image_count,
            "file_name": image.get("url") or image.get("key") or "",
            "width": image.get("width"),
            "height": image.get("height"),
            "task_id": record.id,
            "external_id": record.external_id,
        }
        self.out.write(("," if self.image_count > 1 else "") + _compact(document))
        return self.image_count

    def write_task(self, record: TaskRecord) -> int:
        images: dict[str, int] = {}
        written = 0
        for annotation in record.annotations:
            for field in self.context.fields_of(annotation.schema_version, BoxesField):
                boxes = annotation.result.get(field.name)
                if not isinstance(boxes, list):
                    continue
                if field.source not in images:
                    images[field.source] = self._image(record, field.source)
                for box in boxes:
                    category = self.categories.get((field.name, box.get("label")))
                    if category is None:
                        continue  # a label no schema version defines cannot be categorised
                    self.box_count += 1
                    written += 1
                    x, y, width, height = box["x"], box["y"], box["width"], box["height"]
                    document = {
                        "id": self.box_count,
                        "image_id": images[field.source],
                        "category_id": category,
                        "bbox": [x, y, width, height],
                        "area": width * height,
                        "iscrowd": 0,
                        "annotation_id": annotation.id,
                        "annotator": annotation.annotator,
                    }
                    self.boxes.write(("," if self.box_count > 1 else "") + _compact(document))
        return written

    def end(self) -> None:
        self.out.write('],"annotations":[')
        self.boxes.seek(0)
        shutil.copyfileobj(self.boxes, self.out)
        self.boxes.close()
        self.out.write("]}\n")
