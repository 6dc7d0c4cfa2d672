"""Suggestions (pre-annotations) a task may carry: per field, a value someone or something proposes, who proposed
it, and how sure it was. `{"<field>": {"value": ..., "agent": "model-x@v3", "score": 0.83}}`.

A suggested value obeys the rules of an answer for its field, checked against the task it would answer, so that
pre-filling it never puts in front of an annotator a value they could not submit. Conditions (`when`) are not
checked: a suggestion for a field shown only under a condition is kept, and offered once the condition holds.
"""

from collections.abc import Mapping
from typing import Any

from core.errors import ErrorList, FieldError
from projects.label_schema._json import describe, is_non_finite, is_number, key_path, non_finite_paths
from projects.label_schema.fields import LabelSchema
from projects.label_schema.values import ValueCheck

AGENT_MAX_LENGTH = 200
_ENTRY_KEYS = ("value", "agent", "score")


def suggestion_errors(
    schema: LabelSchema | None, suggestions: Any, task_data: Mapping[str, Any], *, path: str = "suggestions"
) -> list[FieldError]:
    """Every problem with a task's suggestions; empty when they are valid. Without a schema (a project whose
    results are free-form) any field name and JSON value is accepted, as a result would be."""
    errors = ErrorList()
    if not isinstance(suggestions, dict):
        errors.add(
            path, 'Must be a JSON object {field name: {"value": ..., "agent": ..., "score": ...}}.', "not_an_object"
        )
        return errors.items
    # Naming every place costs a path per node; only a document that has such a number pays for it.
    if _has_non_finite(suggestions):
        for where in non_finite_paths(suggestions, path):
            errors.add(where, "NaN and Infinity are not numbers; send a finite number.", "not_finite")
    check = ValueCheck(errors, task_data if isinstance(task_data, Mapping) else {})
    for name, entry in suggestions.items():
        where = key_path(path, str(name))
        field = None if schema is None else schema.get(str(name))
        if schema is not None and field is None:
            errors.add(where, f"The schema has no field {name!r}.", "unknown_field")
            continue
        if not isinstance(entry, dict):
            errors.add(where, 'Must be a JSON object {"value": ..., "agent": ..., "score": ...}.', "not_an_object")
            continue
        for key in sorted(set(entry) - set(_ENTRY_KEYS)):
            errors.add(
                key_path(where, str(key)), "Unknown key; a suggestion has value, agent and score.", "unknown_field"
            )
        if "value" not in entry:
            errors.add(key_path(where, "value"), "This field is required.", "required")
        elif field is not None:
            check.check(field, entry["value"], key_path(where, "value"))
        agent = entry.get("agent", "")
        if not isinstance(agent, str):
            errors.add(key_path(where, "agent"), f"Must be a string, not {describe(agent)}.", "invalid_type")
        elif len(agent) > AGENT_MAX_LENGTH:
            errors.add(key_path(where, "agent"), f"At most {AGENT_MAX_LENGTH} characters.", "too_long")
        score = entry.get("score")
        # NaN and Infinity were reported above, with every other non-finite number of the suggestions.
        if score is not None and not is_number(score) and not is_non_finite(score):
            errors.add(key_path(where, "score"), f"Must be a number or null, not {describe(score)}.", "invalid_type")
    return errors.items


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return is_non_finite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False


def suggestions_normalised(suggestions: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Valid suggestions with every key present (agent "" and score null when left out), as a task stores them."""
    return {
        str(name): {"value": entry["value"], "agent": entry.get("agent", ""), "score": entry.get("score")}
        for name, entry in suggestions.items()
    }
