"""Process reward model data: JSON Lines, one line per review of a reasoning chain or agent trajectory (each
annotation's value of each `steps` field).

```json
{"prompt": "What is 2 + 2 * 3?",
 "steps": ["2 * 3 = 6", "2 + 6 = 9", "So 9."],
 "step_labels": [1, -1, null], "verdicts": ["correct", "incorrect", null], "comments": [null, "2 + 6 is 8.", null],
 "completions": ["2 * 3 = 6", "2 + 6 = 9"], "labels": [true, false],
 "first_error": 1, "overall": "incorrect",
 "task_id": "…", "external_id": "item-1", "field": "review", "annotation_id": "…", "annotator": "annotator-1f…",
 "schema_version": 1, "guidelines_version": 1, "time_spent_ms": 5400, "review_outcome": "accepted"}
```

- `prompt`: the task data key the field names as its `prompt` (a string, or the first user message of a chat);
  without one, the first user message among the steps; else "".
- `steps`: every step as text (steps.py `step_text`: a message's content and its tool calls, with who said it).
- `step_labels`: per step +1 (correct), -1 (incorrect), 0 (any other verdict: neutral), null where the review gave
  none (the steps after the first error, when the field stops there); `verdicts` and `comments` the same per step.
- `completions` / `labels`: the stepwise-supervision form (TRL's PRM trainer): the reviewed steps and whether each
  is free of error (a neutral step is not an error).
A line per review rather than per task: with overlap every reviewer's verdicts are an example of their own, named
by its pseudonymous annotator, and a consumer that wants one line per task picks or merges them knowingly.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from annotation.exports.base import TaskRecordWriter, has_field, json_line
from annotation.exports.chat import chat_messages
from annotation.exports.records import AnnotationRecord, TaskRecord
from projects.label_schema.fields import LabelSchema, StepsField
from projects.label_schema.steps import step_text

_LABELS = {"correct": 1, StepsField.incorrect: -1}


def _first_user_message(messages: Any) -> str | None:
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, Mapping) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return None


def step_prompt(field: StepsField, data: Mapping[str, Any]) -> str:
    """The question a chain answers: the field's `prompt` key, else the first user step, else ""."""
    if field.prompt is not None:
        value = data.get(field.prompt)
        if isinstance(value, str):
            return value
        return _first_user_message(chat_messages(value)) or ""
    return _first_user_message(data.get(field.source)) or ""


def prm_line(field: StepsField, data: Mapping[str, Any], value: Mapping[str, Any]) -> dict[str, Any] | None:
    """The training part of one review's line, or None when the task holds no steps to pair the verdicts with."""
    steps = data.get(field.source)
    if not isinstance(steps, list) or not steps:
        return None
    verdicts: list[str | None] = [None] * len(steps)
    comments: list[str | None] = [None] * len(steps)
    for item in value.get("steps") or ():
        index = item.get("index") if isinstance(item, Mapping) else None
        if isinstance(index, int) and 0 <= index < len(steps):
            verdicts[index] = item.get("verdict")
            comments[index] = item.get("comment")
    texts = [step_text(step) for step in steps]
    reviewed = [i for i, verdict in enumerate(verdicts) if verdict is not None]
    return {
        "prompt": step_prompt(field, data),
        "steps": texts,
        "step_labels": [None if v is None else _LABELS.get(v, 0) for v in verdicts],
        "verdicts": verdicts,
        "comments": comments,
        "completions": [texts[i] for i in reviewed],
        "labels": [verdicts[i] != StepsField.incorrect for i in reviewed],
        "first_error": value.get("first_error"),
        "overall": value.get("overall"),
    }


class PrmWriter(TaskRecordWriter):
    extension = "prm.jsonl"
    content_type = "application/x-ndjson"

    @classmethod
    def schema_refusal(cls, schemas: Sequence[LabelSchema]) -> str | None:
        if has_field(schemas, (StepsField,), lambda field: True):
            return None
        return "Process reward data is made from steps fields, and the project's label schema has none."

    def _provenance(self, record: TaskRecord, annotation: AnnotationRecord, field: str) -> dict[str, Any]:
        return {
            "task_id": record.id,
            "external_id": record.external_id,
            "field": field,
            "annotation_id": annotation.id,
            "annotator": annotation.annotator,
            "schema_version": annotation.schema_version,
            "guidelines_version": annotation.guidelines_version,
            "time_spent_ms": annotation.time_spent_ms,
            "review_outcome": annotation.review_outcome,
        }

    def write_task(self, record: TaskRecord) -> int:
        written = 0
        for annotation in record.annotations:
            for field in self.context.fields_of(annotation.schema_version, StepsField):
                value = annotation.result.get(field.name)
                line = prm_line(field, record.data, value) if isinstance(value, Mapping) else None
                if line is None:
                    continue
                self.out.write(json_line({**line, **self._provenance(record, annotation, field.name)}))
                written += 1
        return written
