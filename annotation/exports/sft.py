"""Supervised fine-tuning examples: JSON Lines of `{"messages": [..., {"role": "assistant", "content": answer}]}`.

From each `text` field whose `source` holds a chat (`{"messages": [...]}` or the list) or a prompt string: the
chat's messages (or one user message with the prompt), then the annotator's answer as the assistant's turn. A
text field without a source (a comment, a rationale) answers no prompt and gives no example; nor does a blank
answer. Each line also names the task, the field, the annotation and its pseudonymous annotator. A `chat` field
gives one example per answer: the conversation along the replies kept (annotation.exports.chat_fields).
"""

from collections.abc import Sequence
from typing import Any

from annotation.exports.base import TaskRecordWriter, has_field, json_line
from annotation.exports.chat import chat_messages
from annotation.exports.chat_fields import chat_sft_messages, chat_tree
from annotation.exports.records import AnnotationRecord, TaskRecord
from projects.label_schema.fields import ChatField, LabelSchema, TextField


def conversation(source_value: Any) -> list[dict[str, str]] | None:
    """The turns before the answer: a chat's messages, or a prompt string as one user message."""
    if isinstance(source_value, str):
        return [{"role": "user", "content": source_value}] if source_value.strip() else None
    return chat_messages(source_value)


class SftWriter(TaskRecordWriter):
    extension = "sft.jsonl"
    content_type = "application/x-ndjson"

    @classmethod
    def schema_refusal(cls, schemas: Sequence[LabelSchema]) -> str | None:
        if has_field(schemas, (TextField,), lambda field: field.source is not None):
            return None
        if has_field(schemas, (ChatField,), lambda field: True):
            return None
        return (
            "SFT examples are made from text fields with a source (the prompt or chat they answer), and the "
            "project's label schema has none."
        )

    def write_task(self, record: TaskRecord) -> int:
        written = 0
        for annotation in record.annotations:
            for field in self.context.fields_of(annotation.schema_version, TextField):
                answer = annotation.result.get(field.name)
                turns = None if field.source is None else conversation(record.data.get(field.source))
                if turns is None or not isinstance(answer, str) or not answer.strip():
                    continue
                document = {
                    "messages": [*turns, {"role": "assistant", "content": answer}],
                    "task_id": record.id,
                    "external_id": record.external_id,
                    "field": field.name,
                    "annotation_id": annotation.id,
                    "annotator": annotation.annotator,
                }
                self.out.write(json_line(document))
                written += 1
            written += self._chats(record, annotation)
        return written

    def _chats(self, record: TaskRecord, annotation: AnnotationRecord) -> int:
        """A chat field gives one example: the path the annotator chose through the conversation, edits and all."""
        written = 0
        for field in self.context.fields_of(annotation.schema_version, ChatField):
            value = annotation.result.get(field.name)
            tree = chat_tree(value)
            messages = None if tree is None else chat_sft_messages(field, value, tree)
            if tree is None or messages is None:
                continue
            document = {
                "messages": messages,
                "task_id": record.id,
                "external_id": record.external_id,
                "field": field.name,
                "annotation_id": annotation.id,
                "annotator": annotation.annotator,
                "conversation": tree["conversation"],
            }
            self.out.write(json_line(document))
            written += 1
        return written
