"""Check a task's data against the keys a label schema reads (each field's `source`).

Task data shapes:
- text: a string;
- image: {"url": "https://…" | "key": "<storage key>", "width": int > 0, "height": int > 0};
- candidates: [{"id": str, "content": str}, …] with unique ids (pairwise: exactly 2, ranking: 2..20);
- chat: {"messages": [{"role": "system"|"user"|"assistant", "content": str}, …]} or that list alone;
- steps: a non-empty list of strings or agent messages (steps.py).
A field with an optional source (choices, rating, text, rubric) displays it: any of the shapes above.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from core.errors import ErrorList, FieldError
from projects.label_schema._json import describe, index_path, is_int, key_path
from projects.label_schema.fields import LabelSchema, PairwiseField, SourceKind, StepsField
from projects.label_schema.limits import (
    CANDIDATE_ID_MAX_LENGTH,
    CHAT_ROLES,
    IMAGE_MAX_SIDE,
    IMAGE_URL_SCHEMES,
    PAIRWISE_TIE,
)
from projects.label_schema.steps import check_steps_data

_ANY_SHAPE = (
    "text (a string), an image {url or key, width, height}, a chat {messages: [...]} "
    "or a list of candidates [{id, content}]"
)


@dataclass(frozen=True)
class SourceRequirement:
    """What the task data must hold under one key: its shape, and for candidates how many (inclusive)."""

    key: str
    kind: SourceKind
    fields: tuple[str, ...]  # the names of the fields that read the key
    candidate_count: tuple[int, int] | None = None
    tie_reserved: bool = False  # a pairwise field reads it: "tie" cannot be a candidate id

    @property
    def readers(self) -> str:
        """ "field 'a'" or "fields 'a', 'b' and 'c'", for messages."""
        names = [repr(name) for name in self.fields]
        if len(names) == 1:
            return f"field {names[0]}"
        return f"fields {', '.join(names[:-1])} and {names[-1]}"


def source_requirements(schema: LabelSchema) -> list[SourceRequirement]:
    """The task data keys the schema reads, in the order its fields first name them."""
    merged: dict[str, SourceRequirement] = {}
    for field in schema:
        if field.source is None:
            continue
        count = getattr(field, "candidate_count", None)
        previous = merged.get(field.source)
        if previous is None:
            merged[field.source] = SourceRequirement(
                field.source, field.source_kind, (field.name,), count, isinstance(field, PairwiseField)
            )
            continue
        kind = previous.kind if field.source_kind == "content" else field.source_kind
        if previous.candidate_count is not None and count is not None:
            count = (max(previous.candidate_count[0], count[0]), min(previous.candidate_count[1], count[1]))
        merged[field.source] = SourceRequirement(
            field.source,
            kind,
            (*previous.fields, field.name),
            count or previous.candidate_count,
            previous.tie_reserved or isinstance(field, PairwiseField),
        )
    return list(merged.values())


def validate_task_data(schema: LabelSchema, data: Any, *, path: str = "data") -> list[FieldError]:
    """Every problem with one task's `data` for this schema, each at a path under `path`; empty when it fits.

    Returns the problems rather than raising, so a bulk import can name each bad row: pass
    `path=f"[{row}].data"` and collect. Keys the schema does not read are the lab's own and are not checked.
    """
    errors = ErrorList()
    if not isinstance(data, Mapping):
        errors.add(path, f"Must be a JSON object, not {describe(data)}.", "not_an_object")
        return errors.items
    needs = source_requirements(schema)
    for need in needs:
        where = key_path(path, need.key)
        if need.key not in data:
            errors.add(where, f"Missing: this key is read by {need.readers}.", "required")
            continue
        value = data[need.key]
        if need.kind == "text":
            if not isinstance(value, str):
                errors.add(
                    where, f"Must be a string (the text read by {need.readers}), not {describe(value)}.", "invalid_type"
                )
        elif need.kind == "image":
            _check_image(value, where, errors)
        elif need.kind == "candidates":
            _check_candidates(value, where, errors, need)
        elif need.kind == "steps":
            check_steps_data(value, where, errors, need.readers)
        else:
            _check_content(value, where, errors, need)
    _check_step_prompts(schema, data, path, errors, {need.key for need in needs})
    return errors.items


def _check_step_prompts(
    schema: LabelSchema, data: Mapping[str, Any], path: str, errors: ErrorList, checked: set[str]
) -> None:
    """The question a steps field's chain answers (its `prompt` key): shown as content, exported with the labels."""
    for field in schema:
        if not isinstance(field, StepsField) or field.prompt is None or field.prompt in checked:
            continue
        checked.add(field.prompt)
        where = key_path(path, field.prompt)
        if field.prompt not in data:
            errors.add(where, f"Missing: this key holds the question of field {field.name!r}.", "required")
        else:
            _check_content(data[field.prompt], where, errors, SourceRequirement(field.prompt, "content", (field.name,)))


def _check_image(value: Any, where: str, errors: ErrorList) -> None:
    if not isinstance(value, dict):
        errors.add(
            where, f"Must be an image object {{url or key, width, height}}, not {describe(value)}.", "invalid_type"
        )
        return
    has_url, has_key = "url" in value, "key" in value
    if has_url and has_key:
        errors.add(where, 'Give the image as either "url" or "key", not both.', "invalid")
    elif not (has_url or has_key):
        errors.add(key_path(where, "url"), 'An image needs a "url" or a storage "key".', "required")
    elif has_url:
        url = value["url"]
        if not isinstance(url, str) or not url.strip():
            errors.add(key_path(where, "url"), f"Must be a URL string, not {describe(url)}.", "invalid_type")
        elif urlsplit(url).scheme.lower() not in IMAGE_URL_SCHEMES or not urlsplit(url).netloc:
            errors.add(
                key_path(where, "url"), f"Must be an absolute {', '.join(IMAGE_URL_SCHEMES)} URL.", "invalid_url"
            )
    else:
        key = value["key"]
        if not isinstance(key, str) or not key.strip():
            errors.add(key_path(where, "key"), f"Must be a storage key string, not {describe(key)}.", "invalid_type")
        elif key.startswith("/") or ".." in key.split("/"):
            errors.add(key_path(where, "key"), "Must be a relative storage key without '..' segments.", "invalid")
    for side in ("width", "height"):
        size = value.get(side)
        if side not in value:
            errors.add(key_path(where, side), f"The image {side} in pixels is required.", "required")
        elif not is_int(size):
            errors.add(
                key_path(where, side), f"Must be an integer number of pixels, not {describe(size)}.", "invalid_type"
            )
        elif not 1 <= size <= IMAGE_MAX_SIDE:
            errors.add(key_path(where, side), f"Must be between 1 and {IMAGE_MAX_SIDE} pixels.", "out_of_range")


def _check_candidates(value: Any, where: str, errors: ErrorList, need: SourceRequirement) -> None:
    if not isinstance(value, list):
        errors.add(where, f"Must be a list of candidates [{{id, content}}], not {describe(value)}.", "invalid_type")
        return
    if need.candidate_count is not None:
        low, high = need.candidate_count
        if not low <= len(value) <= high:
            wanted = f"exactly {low}" if low == high else f"between {low} and {high}"
            errors.add(where, f"Needs {wanted} candidates (read by {need.readers}); {len(value)} given.", "wrong_count")
    first: dict[str, int] = {}
    for i, item in enumerate(value):
        item_path = index_path(where, i)
        if not isinstance(item, dict):
            errors.add(
                item_path, f"Each candidate must be an object {{id, content}}, not {describe(item)}.", "not_an_object"
            )
            continue
        id_path = key_path(item_path, "id")
        candidate_id = item.get("id")
        if "id" not in item:
            errors.add(id_path, "Each candidate needs an id.", "required")
        elif not isinstance(candidate_id, str):
            errors.add(id_path, f"Must be a string, not {describe(candidate_id)}.", "invalid_type")
        elif not candidate_id.strip():
            errors.add(id_path, "May not be blank.", "blank")
        elif len(candidate_id) > CANDIDATE_ID_MAX_LENGTH:
            errors.add(id_path, f"At most {CANDIDATE_ID_MAX_LENGTH} characters.", "too_long")
        elif candidate_id in first:
            errors.add(
                id_path, f"Id {candidate_id!r} is also used by {index_path(where, first[candidate_id])}.", "duplicate"
            )
        elif need.tie_reserved and candidate_id == PAIRWISE_TIE:
            errors.add(id_path, f'"{PAIRWISE_TIE}" is how a comparison records a tie; use another id.', "reserved")
        else:
            first[candidate_id] = i
        content_path = key_path(item_path, "content")
        if "content" not in item:
            errors.add(content_path, "Each candidate needs its content.", "required")
        elif not isinstance(item["content"], str):
            errors.add(content_path, f"Must be a string, not {describe(item['content'])}.", "invalid_type")


def _check_chat(value: Any, where: str, errors: ErrorList) -> None:
    messages_path = where
    if isinstance(value, dict):
        messages_path = key_path(where, "messages")
        value = value.get("messages")
    if not isinstance(value, list) or not value:
        errors.add(messages_path, "A chat needs a non-empty list of messages {role, content}.", "invalid_type")
        return
    for i, message in enumerate(value):
        item_path = index_path(messages_path, i)
        if not isinstance(message, dict):
            errors.add(
                item_path,
                f"Each message must be an object {{role, content}}, not {describe(message)}.",
                "not_an_object",
            )
            continue
        if message.get("role") not in CHAT_ROLES:
            errors.add(key_path(item_path, "role"), f"Must be one of {', '.join(CHAT_ROLES)}.", "invalid_choice")
        if not isinstance(message.get("content"), str):
            errors.add(
                key_path(item_path, "content"),
                f"Must be a string, not {describe(message.get('content'))}.",
                "invalid_type",
            )


def _check_content(value: Any, where: str, errors: ErrorList, need: SourceRequirement) -> None:
    """Displayed content: the shape is recognised from the value, then checked in full."""
    if isinstance(value, str):
        return
    if isinstance(value, dict) and "messages" in value:
        _check_chat(value, where, errors)
    elif isinstance(value, dict) and ("url" in value or "key" in value):
        _check_image(value, where, errors)
    elif isinstance(value, list) and value and isinstance(value[0], dict) and "role" in value[0]:
        _check_chat(value, where, errors)
    elif isinstance(value, list) and value and isinstance(value[0], dict) and "id" in value[0]:
        _check_candidates(value, where, errors, need)
    else:
        errors.add(where, f"Must be {_ANY_SHAPE}; got {describe(value)}.", "invalid_type")
