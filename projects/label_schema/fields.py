"""The typed, immutable form of a label schema: one frozen dataclass per field type.

Build one with `parse_schema` (definition.py), never by hand from untrusted input: the constructors do not
validate. `LabelSchema.to_document()` gives back the canonical JSON document, defaults filled in.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from projects.label_schema.limits import PAIRWISE_CANDIDATES, RANKING_CANDIDATES, TEXT_DEFAULT_MAX_LENGTH

# What a field's `source` must hold in the task data: a string, an image object, a list of candidates, or any
# displayable content (one of those, or a chat). See task_data.py.
SourceKind = Literal["text", "image", "candidates", "content", "steps"]
RationaleMode = Literal["none", "optional", "required"]
StepCommentMode = Literal["none", "optional", "required_on_incorrect"]


@dataclass(frozen=True, kw_only=True)
class FieldCondition:
    """`when`: the field is shown (and required) only while the earlier field `field` has the value `equals`;
    for a multiple-choice field, while its value contains `equals`."""

    field: str
    equals: str | int

    def to_document(self) -> dict[str, Any]:
        return {"field": self.field, "equals": self.equals}


@dataclass(frozen=True, kw_only=True)
class BaseField:
    type: ClassVar[str]
    source_kind: ClassVar[SourceKind]

    name: str
    label: str | None = None
    required: bool = True
    when: FieldCondition | None = None

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.label is not None:
            document["label"] = self.label
        document["required"] = self.required
        if self.when is not None:
            document["when"] = self.when.to_document()
        return document


@dataclass(frozen=True, kw_only=True)
class ChoicesField(BaseField):
    type: ClassVar[str] = "choices"
    source_kind: ClassVar[SourceKind] = "content"

    options: tuple[str, ...]
    multiple: bool = False
    source: str | None = None
    # Only for multiple choice; None means no bound beyond "non-empty if required".
    min_selected: int | None = None
    max_selected: int | None = None

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        document["options"] = list(self.options)
        document["multiple"] = self.multiple
        if self.source is not None:
            document["source"] = self.source
        if self.min_selected is not None:
            document["min_selected"] = self.min_selected
        if self.max_selected is not None:
            document["max_selected"] = self.max_selected
        return document


@dataclass(frozen=True, kw_only=True)
class RatingField(BaseField):
    type: ClassVar[str] = "rating"
    source_kind: ClassVar[SourceKind] = "content"

    min: int
    max: int
    # (point, text) pairs in ascending point order: names for some points of the scale ("1" → "poor").
    labels: tuple[tuple[int, str], ...] = ()
    source: str | None = None

    def label_of(self, point: int) -> str | None:
        return dict(self.labels).get(point)

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        document["min"] = self.min
        document["max"] = self.max
        if self.labels:
            document["labels"] = {str(point): text for point, text in self.labels}
        if self.source is not None:
            document["source"] = self.source
        return document


@dataclass(frozen=True, kw_only=True)
class TextField(BaseField):
    type: ClassVar[str] = "text"
    source_kind: ClassVar[SourceKind] = "content"

    min_length: int = 0
    max_length: int = TEXT_DEFAULT_MAX_LENGTH
    source: str | None = None

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        document["min_length"] = self.min_length
        document["max_length"] = self.max_length
        if self.source is not None:
            document["source"] = self.source
        return document


@dataclass(frozen=True, kw_only=True)
class SpansField(BaseField):
    type: ClassVar[str] = "spans"
    source_kind: ClassVar[SourceKind] = "text"

    source: str
    labels: tuple[str, ...]
    allow_overlap: bool = False

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        document.update(source=self.source, labels=list(self.labels), allow_overlap=self.allow_overlap)
        return document


@dataclass(frozen=True, kw_only=True)
class BoxesField(BaseField):
    type: ClassVar[str] = "boxes"
    source_kind: ClassVar[SourceKind] = "image"

    source: str
    labels: tuple[str, ...]

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        document.update(source=self.source, labels=list(self.labels))
        return document


@dataclass(frozen=True, kw_only=True)
class PairwiseField(BaseField):
    type: ClassVar[str] = "pairwise"
    source_kind: ClassVar[SourceKind] = "candidates"
    candidate_count: ClassVar[tuple[int, int]] = PAIRWISE_CANDIDATES

    source: str
    allow_tie: bool = True
    strength: bool = False
    rationale: RationaleMode = "optional"

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        document.update(source=self.source, allow_tie=self.allow_tie, strength=self.strength, rationale=self.rationale)
        return document


@dataclass(frozen=True, kw_only=True)
class RankingField(BaseField):
    type: ClassVar[str] = "ranking"
    source_kind: ClassVar[SourceKind] = "candidates"
    candidate_count: ClassVar[tuple[int, int]] = RANKING_CANDIDATES

    source: str
    allow_ties: bool = False

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        document.update(source=self.source, allow_ties=self.allow_ties)
        return document


@dataclass(frozen=True, kw_only=True)
class RubricCriterion:
    name: str
    min: int
    max: int
    label: str | None = None

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name}
        if self.label is not None:
            document["label"] = self.label
        document.update(min=self.min, max=self.max)
        return document


@dataclass(frozen=True, kw_only=True)
class RubricField(BaseField):
    type: ClassVar[str] = "rubric"
    source_kind: ClassVar[SourceKind] = "content"

    criteria: tuple[RubricCriterion, ...]
    source: str | None = None

    def criterion(self, name: str) -> RubricCriterion | None:
        return next((c for c in self.criteria if c.name == name), None)

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        document["criteria"] = [c.to_document() for c in self.criteria]
        if self.source is not None:
            document["source"] = self.source
        return document


@dataclass(frozen=True, kw_only=True)
class StepsField(BaseField):
    """A verdict on each step of a reasoning chain or agent trajectory (the labels of a process reward model), and
    one on the whole. `source` holds the steps; `prompt`, optionally, the question they answer (for exports)."""

    type: ClassVar[str] = "steps"
    source_kind: ClassVar[SourceKind] = "steps"
    # first_error names the first step given this verdict; stop_at_first_error ends the review there.
    incorrect: ClassVar[str] = "incorrect"

    source: str
    prompt: str | None = None
    verdicts: tuple[str, ...] = ("correct", "incorrect", "neutral")
    comment: StepCommentMode = "optional"
    overall: tuple[str, ...] = ("correct", "incorrect")
    stop_at_first_error: bool = False

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        document["source"] = self.source
        if self.prompt is not None:
            document["prompt"] = self.prompt
        document.update(
            verdicts=list(self.verdicts),
            comment=self.comment,
            overall=list(self.overall),
            stop_at_first_error=self.stop_at_first_error,
        )
        return document


# The sub-fields a chat field asks about each turn: answered per reply (a rating, a choice or a note).
TurnField = ChoicesField | RatingField | TextField


@dataclass(frozen=True, kw_only=True)
class ChatField(BaseField):
    """A live conversation with one to four of the organization's model connections, rated turn by turn. Blind: the
    annotator sees "Response A/B", never which connection answered; the order is randomised per turn."""

    type: ClassVar[str] = "chat"
    source_kind: ClassVar[SourceKind] = "content"
    # A chat reads no task data key; the attribute exists because code walks every field's source.
    source: ClassVar[str | None] = None

    connections: tuple[str, ...]
    blind: bool = True
    max_turns: int = 5
    system_prompt: str | None = None
    turn_fields: tuple[TurnField, ...] = ()
    require_choice: bool = True

    def turn_field(self, name: str) -> TurnField | None:
        return next((f for f in self.turn_fields if f.name == name), None)

    @property
    def compares(self) -> bool:
        """More than one model answers each prompt: the turn asks for the best reply (when `require_choice`)."""
        return len(self.connections) > 1

    def to_document(self) -> dict[str, Any]:
        document = super().to_document()
        document["connections"] = list(self.connections)
        document.update(blind=self.blind, max_turns=self.max_turns)
        if self.system_prompt is not None:
            document["system_prompt"] = self.system_prompt
        document["turn_fields"] = [f.to_document() for f in self.turn_fields]
        document["require_choice"] = self.require_choice
        return document


def chat_connections_hidden(document: dict[str, Any]) -> dict[str, Any]:
    """A schema document as annotators and reviewers receive it: each chat field's connection names replaced by its
    slot letters ("A", "B"…), so that nothing they load names the models they compare (they need only how many)."""
    fields = []
    for field in document.get("fields") or []:
        if isinstance(field, dict) and field.get("type") == "chat" and isinstance(field.get("connections"), list):
            field = {**field, "connections": [chr(ord("A") + i) for i in range(len(field["connections"]))]}
        fields.append(field)
    return {**document, "fields": fields}


Field = (
    ChoicesField
    | RatingField
    | TextField
    | SpansField
    | BoxesField
    | PairwiseField
    | RankingField
    | RubricField
    | ChatField
    | StepsField
)

FIELD_TYPES: dict[str, type[BaseField]] = {
    cls.type: cls
    for cls in (
        ChoicesField,
        RatingField,
        TextField,
        SpansField,
        BoxesField,
        PairwiseField,
        RankingField,
        RubricField,
        ChatField,
        StepsField,
    )
}


@dataclass(frozen=True)
class LabelSchema:
    """A validated label schema: its fields in display order. Equal documents give equal schemas."""

    fields: tuple[Field, ...]

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def get(self, name: str) -> Field | None:
        """The field called `name`, or None."""
        return next((f for f in self.fields if f.name == name), None)

    def to_document(self) -> dict[str, Any]:
        """The canonical JSON document: every key spelled out, defaults included; `parse_schema` of it gives an
        equal schema back."""
        return {"fields": [f.to_document() for f in self.fields]}
