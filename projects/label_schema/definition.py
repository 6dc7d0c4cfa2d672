"""Parse and validate a label schema document into its typed form (fields.py).

`parse_schema` is the one way in: it checks the whole document and reports every problem at once, each named by
its path (`label_schema.fields[2].options[1]`), or returns an immutable `LabelSchema`.
"""

from collections.abc import Iterable
from typing import Any, cast

from core.errors import ErrorList
from projects import config
from projects.label_schema._json import describe, index_path, is_int, json_size, key_path
from projects.label_schema.fields import (
    FIELD_TYPES,
    BaseField,
    ChoicesField,
    Field,
    FieldCondition,
    LabelSchema,
    RatingField,
    RubricCriterion,
    StepsField,
    TextField,
)
from projects.label_schema.limits import (
    CHAT_CONNECTION_NAME_MAX_LENGTH,
    CHAT_CONNECTIONS,
    CHAT_DEFAULT_MAX_TURNS,
    CHAT_MAX_TURN_FIELDS,
    CHAT_SYSTEM_PROMPT_MAX_LENGTH,
    CHAT_TURN_FIELD_TYPES,
    CHAT_TURNS,
    CRITERION_NAME_MAX_LENGTH,
    MAX_CRITERIA,
    MAX_FIELDS,
    MAX_LABEL_LENGTH,
    MAX_LABELS,
    MAX_OPTIONS,
    MAX_SCALE_SPAN,
    MIN_CRITERIA,
    MIN_FIELDS,
    MIN_LABELS,
    MIN_OPTIONS,
    NAME_PATTERN,
    RATIONALE_MODES,
    SCALE_BOUND,
    SOURCE_PATTERN,
    STEP_COMMENT_MODES,
    STEP_VERDICTS,
    TEXT_DEFAULT_MAX_LENGTH,
    TEXT_MAX_LENGTH_CEILING,
)

_COMMON_KEYS = ("name", "type", "label", "required", "when")
_TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "choices": ("options", "multiple", "source", "min_selected", "max_selected"),
    "rating": ("min", "max", "labels", "source"),
    "text": ("min_length", "max_length", "source"),
    "spans": ("source", "labels", "allow_overlap"),
    "boxes": ("source", "labels"),
    "pairwise": ("source", "allow_tie", "strength", "rationale"),
    "ranking": ("source", "allow_ties"),
    "rubric": ("criteria", "source"),
    "steps": ("source", "prompt", "verdicts", "comment", "overall", "stop_at_first_error"),
    "chat": ("connections", "blind", "max_turns", "system_prompt", "turn_fields", "require_choice"),
}
# Fields a `when` may test: their values compare with `equals` as a plain string or integer.
_CONDITION_TYPES = (ChoicesField, RatingField, TextField)
_MISSING = object()


def parse_schema(document: Any, *, path: str = "label_schema", max_bytes: int | None = None) -> LabelSchema:
    """Validate a label schema document and return its typed form.

    Raises `InvalidInput` listing every problem, each with a path under `path`, a code and a message.
    `max_bytes` defaults to `projects.config.label_schema_max_bytes()`.
    """
    errors = ErrorList()
    schema = _parse_document(
        document, path, errors, config.label_schema_max_bytes() if max_bytes is None else max_bytes
    )
    errors.raise_if_any("The label schema is invalid.")
    assert schema is not None  # no errors means every field parsed
    return schema


class _Reader:
    """Reads the keys of one JSON object, adding an error for each key that is missing or of the wrong kind."""

    def __init__(self, obj: dict[str, Any], path: str, errors: ErrorList) -> None:
        self.obj = obj
        self.path = path
        self.errors = errors

    def at(self, key: str) -> str:
        return key_path(self.path, key)

    def refuse_unknown(self, allowed: Iterable[str], what: str) -> None:
        allowed = set(allowed)
        for key in self.obj:
            if key not in allowed:
                self.errors.add(self.at(str(key)), f"Unknown key for {what}.", "unknown_field")

    def value(self, key: str, default: Any) -> Any:
        """The raw value; `_MISSING` (after a `required` error) when absent and there is no default."""
        value = self.obj.get(key, _MISSING)
        if value is not _MISSING:
            return value
        if default is _MISSING:
            self.errors.add(self.at(key), "This key is required.", "required")
        return default

    def boolean(self, key: str, default: bool) -> bool:
        value = self.obj.get(key, default)
        if not isinstance(value, bool):
            self.errors.add(self.at(key), f"Must be true or false, not {describe(value)}.", "invalid_type")
            return default
        return value

    def integer(self, key: str, low: int, high: int, default: Any = _MISSING) -> int | None:
        value = self.value(key, default)
        if value is _MISSING:
            return None
        if not is_int(value):
            self.errors.add(self.at(key), f"Must be an integer, not {describe(value)}.", "invalid_type")
            return None
        if not low <= value <= high:
            self.errors.add(self.at(key), f"Must be between {low} and {high}.", "out_of_range")
            return None
        return value

    def text(self, key: str, *, required: bool, max_length: int = MAX_LABEL_LENGTH) -> str | None:
        value = self.value(key, _MISSING if required else None)
        if value is _MISSING or (value is None and not required):
            return None
        return _check_text(value, self.at(key), self.errors, max_length)

    def source(self, *, required: bool) -> str | None:
        value = self.text("source", required=required, max_length=128)
        if value is not None and not SOURCE_PATTERN.fullmatch(value):
            self.errors.add(
                self.at("source"),
                "Must name a task data key: a letter or _, then letters, digits, _ or -.",
                "invalid_name",
            )
            return None
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.obj.get(key, default)
        if value not in allowed:
            self.errors.add(self.at(key), f"Must be one of {', '.join(allowed)}.", "invalid_choice")
            return default
        return str(value)

    def string_list(self, key: str, low: int, high: int, what: str) -> tuple[str, ...] | None:
        value = self.value(key, _MISSING)
        if value is _MISSING:
            return None
        path = self.at(key)
        if not isinstance(value, list):
            self.errors.add(path, f"Must be a list of {what}, not {describe(value)}.", "invalid_type")
            return None
        before = len(self.errors.items)
        if len(value) < low:
            self.errors.add(path, f"Give at least {low} {what}.", "too_few")
        elif len(value) > high:
            self.errors.add(path, f"At most {high} {what} are allowed.", "too_many")
        seen: set[str] = set()
        for i, item in enumerate(value):
            text = _check_text(item, index_path(path, i), self.errors, MAX_LABEL_LENGTH)
            if text is not None and text in seen:
                self.errors.add(index_path(path, i), f"{text!r} appears more than once.", "duplicate")
            if text is not None:
                seen.add(text)
        return tuple(value) if len(self.errors.items) == before else None


def _check_text(value: Any, path: str, errors: ErrorList, max_length: int) -> str | None:
    """A non-blank string of at most `max_length` characters, or None after adding the error."""
    if not isinstance(value, str):
        errors.add(path, f"Must be a string, not {describe(value)}.", "invalid_type")
        return None
    if not value.strip():
        errors.add(path, "May not be blank.", "blank")
        return None
    if len(value) > max_length:
        errors.add(path, f"At most {max_length} characters.", "too_long")
        return None
    return value


def _parse_document(document: Any, path: str, errors: ErrorList, max_bytes: int) -> LabelSchema | None:
    size = json_size(document)
    if size is None:
        errors.add(path, "Must be a JSON document.", "invalid")
        return None
    if size > max_bytes:
        errors.add(path, f"The schema is {size} bytes; at most {max_bytes} are allowed.", "too_large")
        return None
    if not isinstance(document, dict):
        errors.add(path, f"Must be a JSON object, not {describe(document)}.", "not_an_object")
        return None
    reader = _Reader(document, path, errors)
    reader.refuse_unknown(("fields",), "a label schema")
    raw_fields = document.get("fields", _MISSING)
    fields_path = key_path(path, "fields")
    if raw_fields is _MISSING:
        errors.add(fields_path, "This key is required.", "required")
        return None
    if not isinstance(raw_fields, list):
        errors.add(fields_path, f"Must be a list of fields, not {describe(raw_fields)}.", "invalid_type")
        return None
    if len(raw_fields) < MIN_FIELDS:
        errors.add(fields_path, f"A schema needs at least {MIN_FIELDS} field.", "too_few")
        return None
    if len(raw_fields) > MAX_FIELDS:
        errors.add(fields_path, f"At most {MAX_FIELDS} fields are allowed.", "too_many")
        return None

    all_names = [f.get("name") for f in raw_fields if isinstance(f, dict)]
    earlier: dict[str, Field | None] = {}  # None: the field has errors of its own
    parsed: list[Field] = []
    before = len(errors.items)
    for i, raw in enumerate(raw_fields):
        field_path = index_path(fields_path, i)
        field = _parse_field(raw, field_path, errors, earlier, all_names)
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and NAME_PATTERN.fullmatch(name):
            if name in earlier:
                errors.add(key_path(field_path, "name"), f"Another field is already called {name!r}.", "duplicate")
            else:
                earlier[name] = field
        if field is not None:
            parsed.append(field)
    _check_source_conflicts(parsed, raw_fields, fields_path, errors)
    return LabelSchema(tuple(parsed)) if len(errors.items) == before else None


def _parse_field(
    raw: Any, path: str, errors: ErrorList, earlier: dict[str, Field | None], all_names: list[Any]
) -> Field | None:
    if not isinstance(raw, dict):
        errors.add(path, f"Each field must be a JSON object, not {describe(raw)}.", "not_an_object")
        return None
    before = len(errors.items)
    reader = _Reader(raw, path, errors)
    field_type = raw.get("type", _MISSING)
    if field_type is _MISSING:
        errors.add(reader.at("type"), "This key is required.", "required")
    elif field_type not in _TYPE_KEYS:
        errors.add(
            reader.at("type"),
            f"Unknown field type {field_type!r}; one of {', '.join(_TYPE_KEYS)}.",
            "unknown_type",
        )
    name = reader.text("name", required=True, max_length=64)
    if name is not None and not NAME_PATTERN.fullmatch(name):
        errors.add(
            reader.at("name"),
            "Must start with a lowercase letter, then lowercase letters, digits or _ (at most 64 characters).",
            "invalid_name",
        )
    common: dict[str, Any] = {
        "name": name,
        "label": reader.text("label", required=False),
        "required": reader.boolean("required", True),
        "when": None,
    }
    if raw.get("when") is not None:
        common["when"] = _parse_condition(raw["when"], reader.at("when"), errors, earlier, all_names, name)
    if field_type not in _TYPE_KEYS:
        return None
    reader.refuse_unknown(_COMMON_KEYS + _TYPE_KEYS[field_type], f"a {field_type} field")
    specific = _TYPE_PARSERS[field_type](reader)
    if len(errors.items) != before or specific is None:
        return None
    cls = FIELD_TYPES[field_type]
    return cast(Field, cls(**common, **specific))


def _parse_condition(
    raw: Any, path: str, errors: ErrorList, earlier: dict[str, Field | None], all_names: list[Any], own: str | None
) -> FieldCondition | None:
    if not isinstance(raw, dict):
        errors.add(path, f"Must be an object {{field, equals}}, not {describe(raw)}.", "not_an_object")
        return None
    reader = _Reader(raw, path, errors)
    reader.refuse_unknown(("field", "equals"), "a condition")
    target = reader.text("field", required=True, max_length=64)
    equals = reader.value("equals", _MISSING)
    if target is None or equals is _MISSING:
        return None
    if target not in earlier:
        if target == own:
            message = "A field cannot depend on itself."
        elif target in all_names:
            message = f"{target!r} is defined after this field; a condition may only refer to an earlier field."
        else:
            message = f"No field {target!r} is defined before this one."
        errors.add(reader.at("field"), message, "invalid_reference")
        return None
    referenced = earlier[target]
    if referenced is None:
        return None  # its own errors are reported; comparing against it would only add noise
    equals_path = reader.at("equals")
    if not isinstance(referenced, _CONDITION_TYPES):
        errors.add(
            reader.at("field"),
            f"A condition may test a choices, rating or text field; {target!r} is a {referenced.type} field.",
            "unsupported_condition",
        )
        return None
    if isinstance(referenced, ChoicesField):
        if not isinstance(equals, str) or equals not in referenced.options:
            errors.add(equals_path, f"{equals!r} is not one of the options of {target!r}.", "invalid_choice")
            return None
    elif isinstance(referenced, RatingField):
        if not is_int(equals):
            errors.add(equals_path, f"Must be an integer, not {describe(equals)}.", "invalid_type")
            return None
        if not referenced.min <= equals <= referenced.max:
            errors.add(
                equals_path,
                f"Must be between {referenced.min} and {referenced.max}, the scale of {target!r}.",
                "out_of_range",
            )
            return None
    elif not isinstance(equals, str):
        errors.add(equals_path, f"Must be a string, not {describe(equals)}.", "invalid_type")
        return None
    return FieldCondition(field=target, equals=equals)


def _parse_choices(r: _Reader) -> dict[str, Any] | None:
    source = r.source(required=False)
    options = r.string_list("options", MIN_OPTIONS, MAX_OPTIONS, "options")
    multiple = r.boolean("multiple", False)
    bounds: dict[str, int | None] = {"min_selected": None, "max_selected": None}
    for key in bounds:
        if key not in r.obj:
            continue
        if not multiple:
            r.errors.add(r.at(key), "Only a multiple-choice field may bound the number of selections.", "not_allowed")
            continue
        bounds[key] = r.integer(key, 1, len(options) if options else MAX_OPTIONS)
    low, high = bounds["min_selected"], bounds["max_selected"]
    if low is not None and high is not None and low > high:
        r.errors.add(r.at("max_selected"), f"Must be at least min_selected ({low}).", "invalid_range")
    if options is None:
        return None
    return {"options": options, "multiple": multiple, "source": source, **bounds}


def _parse_scale(r: _Reader) -> tuple[int, int] | None:
    low = r.integer("min", -SCALE_BOUND, SCALE_BOUND)
    high = r.integer("max", -SCALE_BOUND, SCALE_BOUND)
    if low is None or high is None:
        return None
    if low >= high:
        r.errors.add(r.at("max"), f"Must be greater than min ({low}).", "invalid_range")
        return None
    if high - low > MAX_SCALE_SPAN:
        r.errors.add(
            r.at("max"),
            f"A scale spans at most {MAX_SCALE_SPAN} points; {low}..{high} spans {high - low}.",
            "out_of_range",
        )
        return None
    return low, high


def _parse_rating(r: _Reader) -> dict[str, Any] | None:
    scale = _parse_scale(r)
    source = r.source(required=False)
    raw_labels = r.obj.get("labels", {})
    labels: list[tuple[int, str]] = []
    if not isinstance(raw_labels, dict):
        r.errors.add(r.at("labels"), f"Must be an object {{point: text}}, not {describe(raw_labels)}.", "invalid_type")
        return None
    for key, text in raw_labels.items():
        path = key_path(r.at("labels"), str(key))
        point = _canonical_int(key)
        if point is None:
            r.errors.add(path, 'Each key must be a point of the scale written as an integer ("1").', "invalid_name")
            continue
        if scale is not None and not scale[0] <= point <= scale[1]:
            r.errors.add(path, f"{point} is outside the scale {scale[0]}..{scale[1]}.", "out_of_range")
            continue
        if _check_text(text, path, r.errors, MAX_LABEL_LENGTH) is not None:
            labels.append((point, text))
    if scale is None:
        return None
    return {"min": scale[0], "max": scale[1], "labels": tuple(sorted(labels)), "source": source}


def _canonical_int(key: Any) -> int | None:
    try:
        value = int(key)
    except (TypeError, ValueError):
        return None
    return value if str(value) == key else None


def _parse_text(r: _Reader) -> dict[str, Any] | None:
    low = r.integer("min_length", 0, TEXT_MAX_LENGTH_CEILING, default=0)
    high = r.integer("max_length", 1, TEXT_MAX_LENGTH_CEILING, default=TEXT_DEFAULT_MAX_LENGTH)
    if low is not None and high is not None and low > high:
        r.errors.add(r.at("max_length"), f"Must be at least min_length ({low}).", "invalid_range")
        return None
    return {"min_length": low, "max_length": high, "source": r.source(required=False)}


def _parse_regions(r: _Reader) -> dict[str, Any] | None:
    source = r.source(required=True)
    labels = r.string_list("labels", MIN_LABELS, MAX_LABELS, "labels")
    return {"source": source, "labels": labels}


def _parse_spans(r: _Reader) -> dict[str, Any] | None:
    return {**(_parse_regions(r) or {}), "allow_overlap": r.boolean("allow_overlap", False)}


def _parse_pairwise(r: _Reader) -> dict[str, Any] | None:
    return {
        "source": r.source(required=True),
        "allow_tie": r.boolean("allow_tie", True),
        "strength": r.boolean("strength", False),
        "rationale": r.choice("rationale", RATIONALE_MODES, "optional"),
    }


def _parse_ranking(r: _Reader) -> dict[str, Any] | None:
    return {"source": r.source(required=True), "allow_ties": r.boolean("allow_ties", False)}


def _parse_rubric(r: _Reader) -> dict[str, Any] | None:
    source = r.source(required=False)
    raw = r.value("criteria", _MISSING)
    if raw is _MISSING:
        return None
    path = r.at("criteria")
    if not isinstance(raw, list):
        r.errors.add(path, f"Must be a list of criteria, not {describe(raw)}.", "invalid_type")
        return None
    if len(raw) < MIN_CRITERIA:
        r.errors.add(path, f"Give at least {MIN_CRITERIA} criterion.", "too_few")
    elif len(raw) > MAX_CRITERIA:
        r.errors.add(path, f"At most {MAX_CRITERIA} criteria are allowed.", "too_many")
    criteria: list[RubricCriterion] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        item_path = index_path(path, i)
        if not isinstance(item, dict):
            r.errors.add(item_path, f"Each criterion must be an object, not {describe(item)}.", "not_an_object")
            continue
        reader = _Reader(item, item_path, r.errors)
        reader.refuse_unknown(("name", "label", "min", "max"), "a criterion")
        name = reader.text("name", required=True, max_length=CRITERION_NAME_MAX_LENGTH)
        if name is not None and name != name.strip():
            r.errors.add(reader.at("name"), "May not start or end with spaces.", "invalid_name")
            name = None
        if name is not None and name in seen:
            r.errors.add(reader.at("name"), f"Another criterion is already called {name!r}.", "duplicate")
        label = reader.text("label", required=False)
        scale = _parse_scale(reader)
        if name is not None and scale is not None:
            seen.add(name)
            criteria.append(RubricCriterion(name=name, label=label, min=scale[0], max=scale[1]))
    return {"criteria": tuple(criteria), "source": source}


def _parse_chat(r: _Reader) -> dict[str, Any] | None:
    raw = r.value("connections", _MISSING)
    connections: tuple[str, ...] | None = None
    if raw is not _MISSING:
        path = r.at("connections")
        low, high = CHAT_CONNECTIONS
        if not isinstance(raw, list):
            r.errors.add(path, f"Must be a list of model connection names, not {describe(raw)}.", "invalid_type")
        elif not low <= len(raw) <= high:
            r.errors.add(path, f"Name {low} to {high} model connections.", "too_few" if len(raw) < low else "too_many")
        else:
            before = len(r.errors.items)
            for i, item in enumerate(raw):
                name = _check_text(item, index_path(path, i), r.errors, CHAT_CONNECTION_NAME_MAX_LENGTH)
                if name is not None and raw.index(name) != i:
                    r.errors.add(index_path(path, i), f"{name!r} appears more than once.", "duplicate")
            connections = tuple(raw) if len(r.errors.items) == before else None
    # Comparing several models is blind unless the manager says otherwise; a single model has nobody to hide from.
    blind = r.boolean("blind", connections is not None and len(connections) > 1)
    max_turns = r.integer("max_turns", *CHAT_TURNS, default=CHAT_DEFAULT_MAX_TURNS)
    system_prompt = r.text("system_prompt", required=False, max_length=CHAT_SYSTEM_PROMPT_MAX_LENGTH)
    require_choice = r.boolean("require_choice", True)
    turn_fields = _parse_turn_fields(r)
    if connections is None or max_turns is None or turn_fields is None:
        return None
    return {
        "connections": connections,
        "blind": blind,
        "max_turns": max_turns,
        "system_prompt": system_prompt,
        "turn_fields": turn_fields,
        "require_choice": require_choice,
    }


def _parse_turn_fields(r: _Reader) -> tuple[Field, ...] | None:
    """The rating, choices or text fields asked of each reply, parsed by the same rules as top-level fields."""
    raw = r.obj.get("turn_fields", [])
    path = r.at("turn_fields")
    if not isinstance(raw, list):
        r.errors.add(path, f"Must be a list of fields, not {describe(raw)}.", "invalid_type")
        return None
    if len(raw) > CHAT_MAX_TURN_FIELDS:
        r.errors.add(path, f"At most {CHAT_MAX_TURN_FIELDS} turn fields are allowed.", "too_many")
        return None
    before = len(r.errors.items)
    parsed: list[Field] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        item_path = index_path(path, i)
        if isinstance(item, dict) and item.get("type") not in CHAT_TURN_FIELD_TYPES:
            r.errors.add(
                key_path(item_path, "type"),
                f"A turn field is one of {', '.join(CHAT_TURN_FIELD_TYPES)}, not {item.get('type')!r}.",
                "unknown_type",
            )
            continue
        if isinstance(item, dict) and "when" in item:
            r.errors.add(
                key_path(item_path, "when"), "A turn field is asked of every reply; no condition.", "not_allowed"
            )
            continue
        if isinstance(item, dict) and "source" in item:
            r.errors.add(
                key_path(item_path, "source"), "A turn field rates the reply; it reads no task data.", "not_allowed"
            )
            continue
        field = _parse_field(item, item_path, r.errors, {}, [])
        if field is None:
            continue
        if field.name in seen:
            r.errors.add(
                key_path(item_path, "name"), f"Another turn field is already called {field.name!r}.", "duplicate"
            )
            continue
        seen.add(field.name)
        parsed.append(field)
    return tuple(parsed) if len(r.errors.items) == before else None


def _parse_steps(r: _Reader) -> dict[str, Any] | None:
    source = r.source(required=True)
    prompt = r.text("prompt", required=False, max_length=128)
    if prompt is not None and not SOURCE_PATTERN.fullmatch(prompt):
        r.errors.add(
            r.at("prompt"), "Must name a task data key: a letter or _, then letters, digits, _ or -.", "invalid_name"
        )
    elif prompt is not None and prompt == source:
        r.errors.add(r.at("prompt"), "The question and the steps must be under different keys.", "invalid")
    result: dict[str, Any] = {
        "source": source,
        "prompt": prompt,
        "comment": r.choice("comment", STEP_COMMENT_MODES, "optional"),
        "stop_at_first_error": r.boolean("stop_at_first_error", False),
    }
    for key in ("verdicts", "overall"):
        if key in r.obj:
            result[key] = r.string_list(key, *STEP_VERDICTS, "verdicts")
    # first_error and stop_at_first_error are defined by the verdict "incorrect": a list without it could not say
    # where a chain goes wrong.
    verdicts = result.get("verdicts")
    if verdicts is not None and StepsField.incorrect not in verdicts:
        r.errors.add(
            r.at("verdicts"),
            f'Must include "{StepsField.incorrect}": the first error is the first step given it.',
            "invalid",
        )
    if any(result.get(key, ()) is None for key in ("verdicts", "overall")):
        return None
    return result


_TYPE_PARSERS = {
    "choices": _parse_choices,
    "rating": _parse_rating,
    "text": _parse_text,
    "spans": _parse_spans,
    "boxes": _parse_regions,
    "pairwise": _parse_pairwise,
    "ranking": _parse_ranking,
    "rubric": _parse_rubric,
    "steps": _parse_steps,
    "chat": _parse_chat,
}


def _check_source_conflicts(parsed: list[Field], raw_fields: list[Any], fields_path: str, errors: ErrorList) -> None:
    """Two fields may read the same task data key only if they expect the same shape there."""
    index_of = {raw.get("name"): i for i, raw in enumerate(raw_fields) if isinstance(raw, dict)}
    first: dict[str, BaseField] = {}
    for field in parsed:
        if field.source is None or field.source_kind == "content":
            continue
        other = first.setdefault(field.source, field)
        if other.source_kind != field.source_kind:
            errors.add(
                key_path(index_path(fields_path, index_of[field.name]), "source"),
                f"Field {other.name!r} reads {field.source!r} as {_KIND_WORDS[other.source_kind]}; a {field.type} "
                f"field needs {_KIND_WORDS[field.source_kind]} there.",
                "source_conflict",
            )


_KIND_WORDS = {
    "text": "a text",
    "image": "an image",
    "candidates": "a list of candidates",
    "content": "content",
    "steps": "a list of steps",
}
