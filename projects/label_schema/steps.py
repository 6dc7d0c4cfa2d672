"""Steps fields: the task data they review (a reasoning chain or an agent trajectory) and the answers they take.

A step is a string (one step of reasoning) or a message of an agent trajectory, shaped like an OpenAI chat message:
`{"role": "assistant"|"tool"|"user"|"system", "content": str, "tool_calls": [{"name", "arguments"}], "name": str}`.
`content` may be null on an assistant step that only calls tools; a tool call may also come in OpenAI's nested form
`{"type": "function", "function": {"name", "arguments"}}`. Other keys (`tool_call_id`) are the lab's own.

An answer is `{"steps": [{"index": i, "verdict": v, "comment": str?}], "first_error": i | null, "overall": v}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.errors import ErrorList
from projects.label_schema._json import describe, index_path, is_int, key_path
from projects.label_schema.limits import MAX_STEPS, RATIONALE_MAX_LENGTH, STEP_ROLES

if TYPE_CHECKING:
    from projects.label_schema.fields import StepsField
    from projects.label_schema.values import ValueCheck

_UNKNOWN = object()


# --- task data -------------------------------------------------------------------------------------------------


def step_count(value: Any) -> int | None:
    """How many steps a task data value holds, or None when it is not a non-empty list."""
    return len(value) if isinstance(value, list) and value else None


def tool_call_parts(call: Any) -> tuple[Any, Any]:
    """(name, arguments) of a tool call in either the flat or OpenAI's nested `function` form."""
    if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
        call = call["function"]
    if not isinstance(call, Mapping):
        return None, None
    return call.get("name"), call.get("arguments")


def check_steps_data(value: Any, where: str, errors: ErrorList, readers: str) -> None:
    """The problems of one task's list of steps, each at its path (`[3].data.steps[2].role`)."""
    if not isinstance(value, list) or not value:
        errors.add(
            where,
            f"Must be a non-empty list of steps (strings or messages {{role, content}}) read by {readers}, "
            f"not {describe(value) if value != [] else 'an empty list'}.",
            "invalid_type",
        )
        return
    if len(value) > MAX_STEPS:
        errors.add(where, f"At most {MAX_STEPS} steps; {len(value)} given.", "too_many")
        return
    for i, step in enumerate(value):
        step_path = index_path(where, i)
        if isinstance(step, str):
            continue
        if not isinstance(step, dict):
            errors.add(
                step_path,
                f"Each step must be a string or a message {{role, content}}, not {describe(step)}.",
                "invalid_type",
            )
            continue
        _check_message(step, step_path, errors)


def _check_message(step: dict[str, Any], path: str, errors: ErrorList) -> None:
    role = step.get("role")
    if "role" not in step:
        errors.add(key_path(path, "role"), "A message step needs a role.", "required")
    elif role not in STEP_ROLES:
        errors.add(key_path(path, "role"), f"Must be one of {', '.join(STEP_ROLES)}.", "invalid_choice")
    calls = step.get("tool_calls")
    if "tool_calls" in step and calls is not None:
        if role != "assistant":
            errors.add(key_path(path, "tool_calls"), "Only an assistant step calls tools.", "not_allowed")
        elif not isinstance(calls, list):
            errors.add(
                key_path(path, "tool_calls"),
                f"Must be a list of calls {{name, arguments}}, not {describe(calls)}.",
                "invalid_type",
            )
        else:
            for k, call in enumerate(calls):
                _check_call(call, index_path(key_path(path, "tool_calls"), k), errors)
    content = step.get("content")
    calls_tools = isinstance(calls, list) and bool(calls)
    if "content" not in step and not calls_tools:
        errors.add(key_path(path, "content"), "A message step needs its content.", "required")
    elif content is None and not calls_tools and "content" in step:
        errors.add(key_path(path, "content"), "May be null only on a step that calls tools.", "invalid_type")
    elif content is not None and not isinstance(content, str):
        errors.add(key_path(path, "content"), f"Must be a string, not {describe(content)}.", "invalid_type")
    if "name" in step and not isinstance(step["name"], str):
        errors.add(
            key_path(path, "name"), f"Must be a string (the tool's name), not {describe(step['name'])}.", "invalid_type"
        )


def _check_call(call: Any, path: str, errors: ErrorList) -> None:
    if not isinstance(call, dict):
        errors.add(
            path, f"Each tool call must be an object {{name, arguments}}, not {describe(call)}.", "not_an_object"
        )
        return
    base = key_path(path, "function") if isinstance(call.get("function"), dict) else path
    name, arguments = tool_call_parts(call)
    if not isinstance(name, str) or not name.strip():
        errors.add(key_path(base, "name"), f"Must be the tool's name (a string), not {describe(name)}.", "invalid_type")
    if arguments is not None and not isinstance(arguments, str | dict | list):
        errors.add(
            key_path(base, "arguments"),
            f"Must be the arguments as a JSON string or object, not {describe(arguments)}.",
            "invalid_type",
        )


def step_text(step: Any) -> str:
    """One step as plain text for exports: a string as given; a message's content, then one line per tool call
    (`name(arguments)`), prefixed with `[role]` or `[tool name]` so that a flat list keeps who said what."""
    if isinstance(step, str):
        return step
    if not isinstance(step, Mapping):
        return ""
    role = step.get("role")
    who = f"tool {step['name']}" if role == "tool" and isinstance(step.get("name"), str) else str(role)
    lines = [step["content"]] if isinstance(step.get("content"), str) and step["content"] else []
    for call in step.get("tool_calls") or ():
        name, arguments = tool_call_parts(call)
        if not isinstance(arguments, str):
            arguments = "" if arguments is None else json.dumps(arguments, ensure_ascii=False, sort_keys=True)
        lines.append(f"{name}({arguments})")
    return f"[{who}] " + "\n".join(lines)


# --- answers ---------------------------------------------------------------------------------------------------


def first_incorrect(field: StepsField, verdicts: Any) -> int | None:
    """The index of the first step given the verdict "incorrect" in a list of step verdicts, or None."""
    for i, item in enumerate(verdicts if isinstance(verdicts, list) else ()):
        if isinstance(item, Mapping) and item.get("verdict") == field.incorrect:
            return i
    return None


def check_steps_value(vc: ValueCheck, field: StepsField, value: Any, path: str) -> None:
    """{steps, first_error, overall}: one verdict per step of the task, listed in step order so that `steps[3]` is
    the verdict on step 3; with `stop_at_first_error` the list may end at the first incorrect step.

    first_error is sent by the client and checked against the verdicts, not filled in here: validation never
    rewrites an answer, and a stored result that names its own first error can be read without the schema.
    """
    count = step_count(vc.task_data.get(field.source))
    if count is None:
        vc.errors.add(path, f"The task has no list of steps under {field.source!r} to review.", "invalid_task_data")
    if not isinstance(value, dict):
        vc.wrong_type(path, value, "an object {steps, first_error, overall}")
        return
    keys = ("steps", "first_error", "overall")
    vc.object_keys(path, value, keys, keys)
    first_error = (
        _check_verdicts(vc, field, value["steps"], key_path(path, "steps"), count) if "steps" in value else _UNKNOWN
    )
    if "first_error" in value and first_error is not _UNKNOWN:
        given = value["first_error"]
        where = key_path(path, "first_error")
        if given is not None and not is_int(given):
            vc.errors.add(
                where, f"Must be the index of the first incorrect step or null, not {describe(given)}.", "invalid_type"
            )
        elif given != first_error:
            expected = (
                "null: no step is marked incorrect"
                if first_error is None
                else f"{first_error}, the first step marked incorrect"
            )
            vc.errors.add(where, f"Must be {expected}.", "inconsistent")
    if "overall" in value:
        overall = value["overall"]
        where = key_path(path, "overall")
        if not isinstance(overall, str):
            vc.wrong_type(where, overall, "one of the overall verdicts (a string)")
        elif overall not in field.overall:
            vc.errors.add(
                where, f"{overall!r} is not one of the overall verdicts ({', '.join(field.overall)}).", "invalid_choice"
            )


def _check_verdicts(vc: ValueCheck, field: StepsField, steps: Any, path: str, count: int | None) -> Any:
    """Check the list of step verdicts; return the index of the first incorrect step (None when there is none),
    or _UNKNOWN when a verdict before it is unreadable and the first error cannot be told."""
    if not isinstance(steps, list):
        vc.wrong_type(path, steps, "a list of verdicts [{index, verdict, comment}]")
        return _UNKNOWN
    if count is not None and len(steps) > count:
        vc.errors.add(path, f"The task has {count} steps; {len(steps)} verdicts given.", "too_many")
    first_error: Any = None
    for i, item in enumerate(steps):
        where = index_path(path, i)
        if not isinstance(item, dict):
            vc.wrong_type(where, item, "an object {index, verdict, comment}")
            first_error = _UNKNOWN if first_error is None else first_error
            continue
        vc.object_keys(where, item, ("index", "verdict", "comment"), ("index", "verdict"))
        if "index" in item:
            index = item["index"]
            if not is_int(index):
                vc.wrong_type(key_path(where, "index"), index, "an integer step index")
            elif index != i:
                vc.errors.add(
                    key_path(where, "index"),
                    f"Must be {i}: verdicts are listed in step order, one per step.",
                    "out_of_order",
                )
        verdict = item.get("verdict")
        verdict_path = key_path(where, "verdict")
        if "verdict" not in item:
            readable = False
        elif not isinstance(verdict, str):
            vc.wrong_type(verdict_path, verdict, "one of the verdicts (a string)")
            readable = False
        elif verdict not in field.verdicts:
            vc.errors.add(
                verdict_path, f"{verdict!r} is not one of the verdicts ({', '.join(field.verdicts)}).", "invalid_choice"
            )
            readable = False
        else:
            readable = True
        if first_error is None:
            if not readable:
                first_error = _UNKNOWN
            elif verdict == field.incorrect:
                first_error = i
        if "comment" in item:
            _check_comment(vc, field, item["comment"], key_path(where, "comment"))
        elif field.comment == "required_on_incorrect" and verdict == field.incorrect:
            vc.errors.add(
                key_path(where, "comment"), "Say what is wrong: an incorrect step needs a comment.", "required"
            )
    # With stop_at_first_error the review ends at the first incorrect step: the steps after it need no verdict.
    stopped = field.stop_at_first_error and first_error is not None
    if count is not None and len(steps) < count and not stopped:
        vc.errors.add(
            index_path(path, len(steps)),
            f"Step {len(steps)} has no verdict: give one for each of the {count} steps.",
            "missing_step",
        )
    return first_error


def _check_comment(vc: ValueCheck, field: StepsField, comment: Any, path: str) -> None:
    if field.comment == "none":
        vc.errors.add(path, "This field takes no comments on steps.", "not_allowed")
    elif not isinstance(comment, str):
        vc.wrong_type(path, comment, "a string")
    elif not comment.strip():
        vc.errors.add(path, "May not be blank; leave the key out instead.", "blank")
    elif len(comment) > RATIONALE_MAX_LENGTH:
        vc.errors.add(path, f"At most {RATIONALE_MAX_LENGTH} characters ({len(comment)} given).", "too_long")


# --- schema changes --------------------------------------------------------------------------------------------


def steps_changes(before: StepsField, after: StepsField) -> list[str]:
    """The changes to a steps field that answers made under `before` may not survive (see compat.py)."""
    changes = [
        f"{kind} removed: {', '.join(repr(item) for item in gone)}."
        for kind, old, new in (
            ("verdicts", before.verdicts, after.verdicts),
            ("overall verdicts", before.overall, after.overall),
        )
        if (gone := [item for item in old if item not in new])
    ]
    # Modes from the most to the least permissive: a comment allowed anywhere, one needed on incorrect steps, none.
    if before.comment != after.comment and after.comment != "optional":
        changes.append(f"step comments changed from {before.comment} to {after.comment}.")
    if before.stop_at_first_error and not after.stop_at_first_error:
        changes.append("every step now needs a verdict, even after the first error.")
    return changes
