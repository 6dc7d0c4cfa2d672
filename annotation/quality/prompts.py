"""Prompt templates for suggestion jobs: text with `{{ key }}` placeholders filled from a task's data, and what a
model's reply must be to count as suggestions.

Task data is untrusted (a lab's dataset, or whatever a row carried), so the template language is no language: a
placeholder names a key of the data (dotted for nested objects), nothing is evaluated, and the text is filled in one
pass, so a value that itself holds `{{ other }}` is put in as it is and never expanded. A string goes in as it is;
any other value as compact JSON.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import FieldError
from projects.label_schema.fields import LabelSchema
from projects.label_schema.suggestions import suggestion_errors

PROMPT_MAX_LENGTH = 20_000
_KEY = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*"
PLACEHOLDER = re.compile(r"\{\{\s*(" + _KEY + r")\s*\}\}")


class MissingData(Exception):
    """The task's data has no value where the template asks for one."""

    def __init__(self, key: str) -> None:
        super().__init__(f"The task's data has no {key!r} for the prompt.")
        self.key = key


def prompt_errors(template: Any, *, path: str = "prompt") -> list[FieldError]:
    """What is wrong with a prompt template: not text, empty, too long, or braces that are not a placeholder."""
    if not isinstance(template, str) or not template.strip():
        return [FieldError(path, "Must be a non-empty text.", "invalid")]
    if len(template) > PROMPT_MAX_LENGTH:
        return [FieldError(path, f"At most {PROMPT_MAX_LENGTH} characters.", "too_long")]
    rest = PLACEHOLDER.sub("", template)
    if "{{" in rest or "}}" in rest:
        return [
            FieldError(
                path,
                "Placeholders are written {{ key }}, the key made of letters, digits and underscores (with dots "
                "for nested keys).",
                "invalid_placeholder",
            )
        ]
    return []


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    node: Any = data
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise MissingData(key)
        node = node[part]
    return node


def prompt_render(template: str, data: Mapping[str, Any]) -> str:
    """The template with each placeholder replaced by the task's value; MissingData names the first key missing."""

    def fill(match: re.Match[str]) -> str:
        value = _lookup(data, match.group(1))
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    return PLACEHOLDER.sub(fill, template)


def instructions(schema: LabelSchema | None, fields: Sequence[str]) -> str:
    """The system message: answer with one JSON object holding a value for each field, as the schema defines it."""
    text = (
        "You pre-annotate data for expert annotators, who check your answer. Reply with one JSON object and nothing "
        f"else. Its keys are exactly: {', '.join(fields)}."
    )
    if schema is None:
        return text
    definitions = [field.to_document() for field in schema if field.name in fields]
    return (
        f"{text} Each value must be a valid answer for the field of that name, defined here: "
        f"{json.dumps(definitions, ensure_ascii=False)}"
    )


_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*)\n```\s*$", re.DOTALL)


def reply_suggestions(
    schema: LabelSchema | None, fields: Sequence[str], text: str, task_data: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The values a reply gives the fields, and every problem with it (empty when it is usable). A reply wrapped in
    a Markdown code fence is taken from inside it; keys beyond the fields asked for are ignored."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return {}, ["The reply is not JSON."]
    if not isinstance(parsed, dict):
        return {}, ["The reply is not a JSON object."]
    values = {name: parsed[name] for name in fields if name in parsed}
    problems = [f"{name}: missing." for name in fields if name not in parsed]
    prefix = "suggestions."
    for error in suggestion_errors(schema, {name: {"value": value} for name, value in values.items()}, task_data):
        where = error.field.removeprefix(prefix).replace(".value", "", 1)
        problems.append(f"{where}: {error.message}")
    return values, problems
