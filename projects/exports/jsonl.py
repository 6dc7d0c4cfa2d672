"""The native format: one JSON object per task, with every annotation that counts and its provenance.

```json
{"id": "<task uuid>", "external_id": "item-1", "data": {...}, "created_at": "…Z",
 "annotations": [{"id": "<annotation uuid>", "result": {...},
                  "provenance": {"schema_version": 2, "guidelines_version": 3, "annotator": "annotator-1f…",
                                 "time_spent_ms": 5400, "review_outcome": "accepted", "version": 1,
                                 "created_at": "…Z"}}]}
```
"""

from typing import Any

from projects.exports.base import ExportWriter, iso, json_line
from projects.exports.records import AnnotationRecord, TaskRecord


def provenance(annotation: AnnotationRecord) -> dict[str, Any]:
    """Where a label comes from: the schema and guidelines it was made under, who (pseudonymously), how long it
    took, and what review made of it."""
    return {
        "schema_version": annotation.schema_version,
        "guidelines_version": annotation.guidelines_version,
        "annotator": annotation.annotator,
        "time_spent_ms": annotation.time_spent_ms,
        "review_outcome": annotation.review_outcome,
        "version": annotation.version,
        "created_at": iso(annotation.created_at),
    }


def task_document(record: TaskRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "external_id": record.external_id,
        "data": record.data,
        "created_at": iso(record.created_at),
        "annotations": [{"id": a.id, "result": a.result, "provenance": provenance(a)} for a in record.annotations],
    }


class JsonlWriter(ExportWriter):
    extension = "jsonl"
    content_type = "application/x-ndjson"

    def write_task(self, record: TaskRecord) -> int:
        self.out.write(json_line(task_document(record)))
        return 1
