"""Suggestions at the two ends of a labelling: what the annotator is offered with a task, and what their answer
did with each offer (kept it or changed it), decided by the server from the task and the submitted result.

Annotation.suggestions records, per field the task carried a suggestion for,
`{"shown": bool, "kept": bool, "agent": str, "score": float | None}`: shown when the project showed suggestions
as the answer was made, kept when the submitted value equals the suggested one. A suggestion that was not shown
is never counted as kept: an answer that happens to match it owes nothing to it.
"""

import json
from typing import Any

from projects.label_schema.fields import LabelSchema
from projects.models import Project, Task
from projects.services.schema_versions import project_schema

# Field types whose value is a list where order carries no meaning: the same marks in another order are the same
# answer. A ranking's order is its answer; a multiple choice's is not.
_UNORDERED_LISTS = frozenset({"spans", "boxes"})


def _canonical(value: Any) -> str:
    # Sorted keys, and JSON's own types: true never equals 1 here, as it would for Python's ==.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def suggestion_matches(schema: LabelSchema | None, name: str, suggested: Any, submitted: Any) -> bool:
    """Whether a submitted value is the suggested one: equal as JSON, lists of marks (spans, boxes, options of a
    multiple choice) compared without regard to their order."""
    field = None if schema is None else schema.get(name)
    unordered = field is not None and (
        field.type in _UNORDERED_LISTS or (field.type == "choices" and getattr(field, "multiple", False))
    )
    if unordered and isinstance(suggested, list) and isinstance(submitted, list):
        return sorted(map(_canonical, suggested)) == sorted(map(_canonical, submitted))
    return _canonical(suggested) == _canonical(submitted)


def suggestions_shown(project: Project, task: Task) -> bool:
    """Whether this task's suggestions are put in front of its annotators."""
    return bool(project.show_suggestions and task.suggestions)


def suggestions_offered(*, project: Project, task: Task) -> dict[str, dict[str, Any]]:
    """The suggestions the labelling page pre-fills, per field: value, agent and score. Empty when the project does
    not show them. On a blind project the agent is left out (None): which model a lab runs, and which version,
    is the kind of research detail blind projects keep from annotators; the score still tells them how sure it was.
    """
    if not suggestions_shown(project, task):
        return {}
    schema = project_schema(project)
    return {
        name: {
            "value": entry.get("value"),
            "agent": None if project.blind else entry.get("agent", ""),
            "score": entry.get("score"),
        }
        for name, entry in task.suggestions.items()
        if isinstance(entry, dict) and _in_schema(schema, name)
    }


def _in_schema(schema: LabelSchema | None, name: str) -> bool:
    # A field the schema has dropped since the task was imported is on no form: its suggestion is never shown.
    return schema is None or schema.get(name) is not None


def suggestion_outcomes(*, project: Project, task: Task, result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What an answer did with each suggestion its task carried, as Annotation.suggestions records it."""
    if not task.suggestions:
        return {}
    shown = suggestions_shown(project, task)
    schema = project_schema(project)
    outcomes: dict[str, dict[str, Any]] = {}
    for name, entry in task.suggestions.items():
        if not isinstance(entry, dict) or not _in_schema(schema, name):
            continue
        kept = shown and name in result and suggestion_matches(schema, name, entry.get("value"), result[name])
        outcomes[name] = {
            "shown": shown,
            "kept": kept,
            "agent": entry.get("agent", ""),
            "score": entry.get("score"),
        }
    return outcomes
