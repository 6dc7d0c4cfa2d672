"""Whether a new label schema still accepts every annotation made under the old one.

A change is compatible when every result valid under `old` (for the same task) stays valid under `new`: adding
optional fields, options or labels, widening a range, relaxing a rule, changing display labels or field order.
Anything else would orphan existing annotations, so the project must take it as a new schema version.
"""

from projects.label_schema.fields import (
    BoxesField,
    ChatField,
    ChoicesField,
    Field,
    LabelSchema,
    PairwiseField,
    RankingField,
    RatingField,
    RubricField,
    SpansField,
    StepsField,
    TextField,
)
from projects.label_schema.steps import steps_changes


def schema_incompatibilities(old: LabelSchema, new: LabelSchema) -> list[str]:
    """One sentence per change in `new` that annotations made under `old` may not survive; empty when `new` can
    replace `old` in place. Ordered by the old schema's fields, then the fields `new` adds."""
    problems: list[str] = []
    for before in old:
        after = new.get(before.name)
        if after is None:
            problems.append(f"Field {before.name!r} was removed.")
        elif after.type != before.type:
            problems.append(f"Field {before.name!r} changed type from {before.type} to {after.type}.")
        else:
            problems.extend(f"Field {before.name!r}: {p}" for p in _field_changes(before, after))
    for after in new:
        if old.get(after.name) is None and after.required:
            problems.append(f"Field {after.name!r} was added as required; earlier annotations do not have it.")
    return problems


def _field_changes(before: Field, after: Field) -> list[str]:
    changes: list[str] = []
    if before.source != after.source:
        changes.append(f"its source changed from {before.source!r} to {after.source!r}.")
    if after.required and not before.required:
        changes.append("it was made required; earlier annotations may not have it.")
    if before.when != after.when and not (after.when is None and not after.required):
        # Dropping the condition of an optional field only widens where it may appear; any other change moves
        # the places where the field must be present or absent.
        changes.append(f"its condition changed from {_condition(before)} to {_condition(after)}.")
    changes.extend(_type_changes(before, after))
    return changes


def _condition(field: Field) -> str:
    if field.when is None:
        return "none"
    return f"{field.when.field} = {field.when.equals!r}"


def _removed(kind: str, before: tuple[str, ...], after: tuple[str, ...]) -> list[str]:
    gone = [item for item in before if item not in after]
    if not gone:
        return []
    return [f"{kind} removed: {', '.join(repr(item) for item in gone)}."]


def _narrowed(what: str, before: tuple[int, int], after: tuple[int, int]) -> list[str]:
    if after[0] > before[0] or after[1] < before[1]:
        return [f"{what} narrowed from {before[0]}..{before[1]} to {after[0]}..{after[1]}."]
    return []


def _type_changes(before: Field, after: Field) -> list[str]:
    if isinstance(before, ChoicesField) and isinstance(after, ChoicesField):
        return _choices_changes(before, after)
    if isinstance(before, RatingField) and isinstance(after, RatingField):
        return _narrowed("the scale", (before.min, before.max), (after.min, after.max))
    if isinstance(before, TextField) and isinstance(after, TextField):
        return _narrowed(
            "the allowed length", (before.min_length, before.max_length), (after.min_length, after.max_length)
        )
    if isinstance(before, SpansField) and isinstance(after, SpansField):
        changes = _removed("labels", before.labels, after.labels)
        if before.allow_overlap and not after.allow_overlap:
            changes.append("overlapping spans are no longer allowed.")
        return changes
    if isinstance(before, BoxesField) and isinstance(after, BoxesField):
        return _removed("labels", before.labels, after.labels)
    if isinstance(before, PairwiseField) and isinstance(after, PairwiseField):
        return _pairwise_changes(before, after)
    if isinstance(before, RankingField) and isinstance(after, RankingField):
        return ["tied ranks are no longer allowed."] if before.allow_ties and not after.allow_ties else []
    if isinstance(before, RubricField) and isinstance(after, RubricField):
        return _rubric_changes(before, after)
    if isinstance(before, ChatField) and isinstance(after, ChatField):
        return _chat_changes(before, after)
    if isinstance(before, StepsField) and isinstance(after, StepsField):
        return steps_changes(before, after)
    return []


def _choices_changes(before: ChoicesField, after: ChoicesField) -> list[str]:
    if before.multiple != after.multiple:
        kinds = {False: "single choice", True: "multiple choice"}
        return [f"it changed from {kinds[before.multiple]} to {kinds[after.multiple]}."]
    changes = _removed("options", before.options, after.options)
    # Any answer with a selection has at least one, so a lower bound of 1 is no bound at all.
    if (after.min_selected or 1) > (before.min_selected or 1):
        changes.append(f"at least {after.min_selected} selections are now needed (was {before.min_selected or 1}).")
    if after.max_selected is not None and (before.max_selected is None or after.max_selected < before.max_selected):
        changes.append(
            f"at most {after.max_selected} selections are now allowed (was {before.max_selected or 'no limit'})."
        )
    return changes


def _pairwise_changes(before: PairwiseField, after: PairwiseField) -> list[str]:
    changes: list[str] = []
    if before.allow_tie and not after.allow_tie:
        changes.append("ties are no longer allowed.")
    if before.strength and not after.strength:
        changes.append("a strength is no longer accepted.")
    if before.rationale != after.rationale and after.rationale != "optional":
        changes.append(f"the rationale changed from {before.rationale} to {after.rationale}.")
    return changes


def _rubric_changes(before: RubricField, after: RubricField) -> list[str]:
    changes = _removed("criteria", tuple(c.name for c in before.criteria), tuple(c.name for c in after.criteria))
    for criterion in after.criteria:
        old = before.criterion(criterion.name)
        if old is None:
            changes.append(f"criterion {criterion.name!r} was added; earlier annotations do not score it.")
        else:
            changes.extend(
                _narrowed(
                    f"the scale of criterion {criterion.name!r}", (old.min, old.max), (criterion.min, criterion.max)
                )
            )
    return changes


def _chat_changes(before: ChatField, after: ChatField) -> list[str]:
    # Each turn of a stored answer holds one reply per model: another number of models cannot read it.
    changes: list[str] = []
    if len(before.connections) != len(after.connections):
        changes.append(f"it now compares {len(after.connections)} models instead of {len(before.connections)}.")
    if after.max_turns < before.max_turns:
        changes.append(f"at most {after.max_turns} turns are now allowed (was {before.max_turns}).")
    if after.compares and after.require_choice and not (before.compares and before.require_choice):
        changes.append("each turn now needs a chosen reply.")
    for sub in before.turn_fields:
        if after.turn_field(sub.name) is None:
            changes.append(f"turn field {sub.name!r} was removed.")
    for sub in after.turn_fields:
        old = before.turn_field(sub.name)
        if old is None:
            if sub.required:
                changes.append(f"turn field {sub.name!r} was added as required; earlier turns do not have it.")
        elif old.type != sub.type:
            changes.append(f"turn field {sub.name!r} changed type from {old.type} to {sub.type}.")
        else:
            changes.extend(f"turn field {sub.name!r}: {p}" for p in _field_changes(old, sub))
    return changes
