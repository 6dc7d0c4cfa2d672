"""Validate an annotation result, or a gold answer, against the schema it is made under and the task it answers.

A result is a JSON object {field name: value}. Every problem is reported, each at its path
(`result.entities[2].end`) with a code and a message; docs/label-schemas.md lists the codes.
"""

from collections.abc import Mapping
from typing import Any

from core.errors import ErrorList, FieldError
from projects.label_schema._json import is_int, key_path, non_finite_paths
from projects.label_schema.fields import ChoicesField, FieldCondition, LabelSchema
from projects.label_schema.values import ValueCheck


def result_errors(
    schema: LabelSchema, result: Any, task_data: Mapping[str, Any], *, path: str = "result"
) -> list[FieldError]:
    """Every problem with `result` as an answer to a task whose data is `task_data`; empty when it is valid.

    `task_data` supplies what values are checked against: the text spans point into, the image size boxes must
    fit, the candidate ids a comparison or ranking names.
    """
    errors = ErrorList()
    _check_result(schema, result, task_data if isinstance(task_data, Mapping) else {}, path, errors)
    return errors.items


def validate_result(schema: LabelSchema, result: Any, task_data: Mapping[str, Any], *, path: str = "result") -> None:
    """Raise `InvalidInput` naming every problem with an annotation result (see `result_errors`)."""
    errors = ErrorList(result_errors(schema, result, task_data, path=path))
    errors.raise_if_any("The annotation does not match the project's label schema.")


def gold_answer_errors(
    schema: LabelSchema, answer: Any, task_data: Mapping[str, Any], *, path: str = "gold_answer"
) -> list[FieldError]:
    """Every problem with a task's gold answer. The rules of a result apply (fields that are not required may be
    left out); in addition the answer must answer at least one field, since a gold score is the mean over the
    fields the gold answer holds."""
    items = result_errors(schema, answer, task_data, path=path)
    if not items and isinstance(answer, dict) and not answer:
        items.append(FieldError(path, "A gold answer must answer at least one field.", "empty"))
    return items


def validate_gold_answer(
    schema: LabelSchema, answer: Any, task_data: Mapping[str, Any], *, path: str = "gold_answer"
) -> None:
    """Raise `InvalidInput` naming every problem with a gold answer (see `gold_answer_errors`)."""
    errors = ErrorList(gold_answer_errors(schema, answer, task_data, path=path))
    errors.raise_if_any("The gold answer does not match the project's label schema.")


def condition_holds(schema: LabelSchema, condition: FieldCondition | None, result: Mapping[str, Any]) -> bool:
    """Whether a field with this `when` is shown for `result`: the field it refers to is itself shown and answered,
    with a value equal to `equals` (containing it, for a multiple-choice field). Types compare strictly: the rating
    1 never equals `true`, nor the option "1"."""
    if condition is None:
        return True
    referenced = schema.get(condition.field)
    if referenced is None or condition.field not in result:
        return False
    if not condition_holds(schema, referenced.when, result):
        return False
    value = result[condition.field]
    wanted = condition.equals
    if isinstance(referenced, ChoicesField) and referenced.multiple:
        return isinstance(value, list) and any(isinstance(v, str) and v == wanted for v in value)
    if isinstance(wanted, str):
        return isinstance(value, str) and value == wanted
    return is_int(value) and value == wanted


def _check_result(schema: LabelSchema, result: Any, task_data: Mapping[str, Any], path: str, errors: ErrorList) -> None:
    if not isinstance(result, dict):
        errors.add(path, "Must be a JSON object {field name: value}.", "not_an_object")
        return
    for where in non_finite_paths(result, path):
        errors.add(where, "NaN and Infinity are not numbers; send a finite number.", "not_finite")
    for key in result:
        if schema.get(str(key)) is None:
            errors.add(key_path(path, str(key)), f"The schema has no field {key!r}.", "unknown_field")
    check = ValueCheck(errors, task_data)
    for field in schema:
        where = key_path(path, field.name)
        shown = condition_holds(schema, field.when, result)
        if field.name in result:
            if shown:
                check.check(field, result[field.name], where)
            else:
                assert field.when is not None  # a field without a condition is always shown
                errors.add(where, _hidden_message(schema, field.when), "not_allowed")
        elif shown and field.required:
            errors.add(where, "This field is required.", "required")


def _hidden_message(schema: LabelSchema, condition: FieldCondition) -> str:
    referenced = schema.get(condition.field)
    verb = "includes" if isinstance(referenced, ChoicesField) and referenced.multiple else "is"
    return f"Leave this field out: it is only answered when {condition.field!r} {verb} {condition.equals!r}."
