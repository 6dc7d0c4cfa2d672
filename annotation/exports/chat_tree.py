"""Live chat conversations as JSON Lines: one line per chat answer, with the whole tree of its conversation.

```json
{"conversation": "<uuid>", "field": "arena", "answer": {"conversation": "…", "turns": [...]},
 "messages": [{"id", "parent", "role", "content", "turn", "origin", "edited_from", "regenerated_from", "state",
               "created_at", "slot_order" (prompts) | "slot", "connection", "model", "parameters", "error_code",
               "ttft_ms", "latency_ms", "prompt_tokens", "completion_tokens" (replies)}, …],
 "task_id": "…", "external_id": "item-1", "annotation_id": "…", "annotator": "annotator-1f…",
 "schema_version": 1, "guidelines_version": 1, "time_spent_ms": 5400, "review_outcome": "accepted"}
```

Every message is there, the regenerations and edits next to what they replaced, and each reply names the model
that wrote it: the blind comparison is undone here, for the lab's own analysis.
"""

from collections.abc import Sequence

from annotation.exports.base import TaskRecordWriter, has_field, json_line
from annotation.exports.chat_fields import chat_tree
from annotation.exports.records import TaskRecord
from projects.label_schema.fields import ChatField, LabelSchema


class ChatTreeWriter(TaskRecordWriter):
    extension = "chat.jsonl"
    content_type = "application/x-ndjson"

    @classmethod
    def schema_refusal(cls, schemas: Sequence[LabelSchema]) -> str | None:
        if has_field(schemas, (ChatField,), lambda field: True):
            return None
        return "Conversation trees are made from chat fields, and the project's label schema has none."

    def write_task(self, record: TaskRecord) -> int:
        written = 0
        for annotation in record.annotations:
            for field in self.context.fields_of(annotation.schema_version, ChatField):
                value = annotation.result.get(field.name)
                tree = chat_tree(value)
                if tree is None:
                    continue
                document = {
                    **tree,
                    "answer": value,
                    "task_id": record.id,
                    "external_id": record.external_id,
                    "annotation_id": annotation.id,
                    "annotator": annotation.annotator,
                    "schema_version": annotation.schema_version,
                    "guidelines_version": annotation.guidelines_version,
                    "time_spent_ms": annotation.time_spent_ms,
                    "review_outcome": annotation.review_outcome,
                }
                self.out.write(json_line(document))
                written += 1
        return written
