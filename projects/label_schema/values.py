"""The value rules of each field type: what one field's value in an annotation result may be.

Each check adds every problem it finds to an ErrorList, at the path of the offending part. NaN and Infinity are
reported once, by the caller's walk over the whole result; these checks stay silent about them.
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

from core.errors import ErrorList
from projects.label_schema._json import describe, index_path, is_int, is_non_finite, is_number, key_path
from projects.label_schema.fields import (
    BoxesField,
    ChatField,
    ChoicesField,
    Field,
    PairwiseField,
    RankingField,
    RatingField,
    RubricField,
    SpansField,
    TextField,
)
from projects.label_schema.limits import (
    BOX_EDGE_TOLERANCE,
    MAX_REGIONS,
    PAIRWISE_STRENGTHS,
    PAIRWISE_TIE,
    RATIONALE_MAX_LENGTH,
)
from projects.label_schema.steps import check_steps_value

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class ValueCheck:
    """Checks values of one result against the task they answer."""

    def __init__(self, errors: ErrorList, task_data: Mapping[str, Any]) -> None:
        self.errors = errors
        self.task_data = task_data

    def check(self, field: Field, value: Any, path: str) -> None:
        _CHECKS[field.type](self, field, value, path)

    def wrong_type(self, path: str, value: Any, expected: str) -> None:
        if value is None:
            self.errors.add(path, f"Must be {expected}, not null; leave the key out instead.", "invalid_type")
        elif not is_non_finite(value):
            self.errors.add(path, f"Must be {expected}, not {describe(value)}.", "invalid_type")

    def integer(self, path: str, value: Any, low: int, high: int) -> int | None:
        if not is_int(value):
            self.wrong_type(path, value, "an integer")
            return None
        if not low <= value <= high:
            self.errors.add(path, f"{value} is not between {low} and {high}.", "out_of_range")
            return None
        return value

    def object_keys(
        self, path: str, value: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...]
    ) -> bool:
        """Unknown keys refused, required ones present; True when both hold."""
        ok = True
        for key in value:
            if key not in allowed:
                self.errors.add(
                    key_path(path, str(key)), f"Unknown key; expected {', '.join(allowed)}.", "unknown_field"
                )
                ok = False
        for key in required:
            if key not in value:
                self.errors.add(key_path(path, key), "This key is required.", "required")
                ok = False
        return ok

    def candidate_ids(self, field: PairwiseField | RankingField, path: str) -> list[str] | None:
        """The ids of the candidates the field compares, or None (after an error) when the task has none."""
        raw = self.task_data.get(field.source)
        if isinstance(raw, list) and all(isinstance(c, dict) and isinstance(c.get("id"), str) for c in raw):
            ids = [c["id"] for c in raw]
            if len(set(ids)) == len(ids):
                return ids
        self.errors.add(
            path,
            f"The task has no list of candidates with unique ids under {field.source!r} to compare.",
            "invalid_task_data",
        )
        return None


def _check_choices(vc: ValueCheck, field: ChoicesField, value: Any, path: str) -> None:
    if not field.multiple:
        if not isinstance(value, str):
            vc.wrong_type(path, value, "one of the options (a string)")
        elif value not in field.options:
            vc.errors.add(path, f"{value!r} is not one of the options.", "invalid_choice")
        return
    if not isinstance(value, list):
        vc.wrong_type(path, value, "a list of options")
        return
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, str):
            vc.wrong_type(index_path(path, i), item, "one of the options (a string)")
        elif item not in field.options:
            vc.errors.add(index_path(path, i), f"{item!r} is not one of the options.", "invalid_choice")
        elif item in seen:
            vc.errors.add(index_path(path, i), f"{item!r} is selected twice.", "duplicate")
        else:
            seen.add(item)
    count = len(value)
    if count == 0:
        if field.required:
            vc.errors.add(path, "Select at least one option.", "empty")
        return  # an optional field left empty says "no answer", like leaving it out
    if field.min_selected is not None and count < field.min_selected:
        vc.errors.add(path, f"Select at least {field.min_selected} options ({count} selected).", "too_few")
    if field.max_selected is not None and count > field.max_selected:
        vc.errors.add(path, f"Select at most {field.max_selected} options ({count} selected).", "too_many")


def _check_rating(vc: ValueCheck, field: RatingField, value: Any, path: str) -> None:
    vc.integer(path, value, field.min, field.max)


def _check_text(vc: ValueCheck, field: TextField, value: Any, path: str) -> None:
    if not isinstance(value, str):
        vc.wrong_type(path, value, "a string")
        return
    if field.required and not value.strip():
        vc.errors.add(path, "May not be blank.", "blank")
    elif len(value) < field.min_length:
        vc.errors.add(path, f"At least {field.min_length} characters ({len(value)} given).", "too_short")
    elif len(value) > field.max_length:
        vc.errors.add(path, f"At most {field.max_length} characters ({len(value)} given).", "too_long")


def _region_list(vc: ValueCheck, value: Any, path: str, what: str) -> list[Any] | None:
    if not isinstance(value, list):
        vc.wrong_type(path, value, f"a list of {what}")
        return None
    if len(value) > MAX_REGIONS:
        vc.errors.add(path, f"At most {MAX_REGIONS} {what} in one answer.", "too_many")
        return None
    return value


def _label(vc: ValueCheck, labels: tuple[str, ...], value: Any, path: str) -> str | None:
    if not isinstance(value, str):
        vc.wrong_type(path, value, "one of the field's labels (a string)")
        return None
    if value not in labels:
        vc.errors.add(path, f"{value!r} is not one of the field's labels.", "unknown_label")
        return None
    return value


def _check_spans(vc: ValueCheck, field: SpansField, value: Any, path: str) -> None:
    text = vc.task_data.get(field.source)
    length = len(text) if isinstance(text, str) else None
    if length is None:
        vc.errors.add(path, f"The task has no text under {field.source!r} to mark spans in.", "invalid_task_data")
    spans = _region_list(vc, value, path, "spans")
    if spans is None:
        return
    valid: dict[tuple[int, int, str], int] = {}  # span -> index of its first occurrence
    for i, item in enumerate(spans):
        where = index_path(path, i)
        if not isinstance(item, dict):
            vc.wrong_type(where, item, "an object {start, end, label}")
            continue
        ok = vc.object_keys(where, item, ("start", "end", "label"), ("start", "end", "label"))
        start, end = item.get("start"), item.get("end")
        for key, offset in (("start", start), ("end", end)):
            if key in item and not is_int(offset):
                vc.wrong_type(key_path(where, key), offset, "an integer character offset")
                ok = False
        label = _label(vc, field.labels, item.get("label"), key_path(where, "label")) if "label" in item else None
        if not (is_int(start) and is_int(end)):
            continue
        if start < 0:
            vc.errors.add(key_path(where, "start"), f"Span start {start} is before the text begins.", "out_of_range")
            ok = False
        elif length is not None and start > length:
            vc.errors.add(
                key_path(where, "start"), f"Span start {start} is beyond the text (length {length}).", "out_of_range"
            )
            ok = False
        if length is not None and end > length:
            vc.errors.add(
                key_path(where, "end"), f"Span end {end} is beyond the text (length {length}).", "out_of_range"
            )
            ok = False
        if end <= start:
            vc.errors.add(key_path(where, "end"), f"Span end {end} must be after its start {start}.", "invalid_range")
            ok = False
        if not ok or label is None:
            continue
        span = (start, end, label)
        if span in valid:
            vc.errors.add(where, f"The same span as {index_path(path, valid[span])}.", "duplicate")
        else:
            valid[span] = i
    if not field.allow_overlap:
        _refuse_overlaps(vc, path, valid)


def _refuse_overlaps(vc: ValueCheck, path: str, spans: dict[tuple[int, int, str], int]) -> None:
    """Each span that starts before an earlier-starting span ends is reported once, in list order."""
    found: list[tuple[int, str]] = []
    reach: tuple[int, int, int] | None = None  # (end, start, index) of the span reaching furthest so far
    for (start, end, _), index in sorted(spans.items(), key=lambda item: (item[0][0], item[0][1], item[1])):
        if reach is not None and start < reach[0]:
            found.append(
                (index, f"Span [{start}, {end}) overlaps {index_path(path, reach[2])} [{reach[1]}, {reach[0]}).")
            )
        if reach is None or end > reach[0]:
            reach = (end, start, index)
    for index, message in sorted(found):
        vc.errors.add(index_path(path, index), message, "overlap")


def _check_boxes(vc: ValueCheck, field: BoxesField, value: Any, path: str) -> None:
    image = vc.task_data.get(field.source)
    size: tuple[int, int] | None = None
    if isinstance(image, dict):
        width, height = image.get("width"), image.get("height")
        if is_int(width) and is_int(height) and width > 0 and height > 0:
            size = (width, height)
    if size is None:
        vc.errors.add(
            path, f"The task has no image with a width and height under {field.source!r}.", "invalid_task_data"
        )
    boxes = _region_list(vc, value, path, "boxes")
    if boxes is None:
        return
    keys = ("x", "y", "width", "height", "label")
    first: dict[tuple[Any, ...], int] = {}
    for i, item in enumerate(boxes):
        where = index_path(path, i)
        if not isinstance(item, dict):
            vc.wrong_type(where, item, "an object {x, y, width, height, label}")
            continue
        ok = vc.object_keys(where, item, keys, keys)
        numbers: dict[str, float] = {}
        for key in keys[:4]:
            if key not in item:
                continue
            if not is_number(item[key]):
                vc.wrong_type(key_path(where, key), item[key], "a number of pixels")
            elif key in ("width", "height") and item[key] <= 0:
                vc.errors.add(key_path(where, key), f"The box {key} must be greater than 0.", "out_of_range")
            else:
                numbers[key] = item[key]
        label = _label(vc, field.labels, item["label"], key_path(where, "label")) if "label" in item else None
        if not _inside(vc, where, numbers, size) or len(numbers) < 4 or not ok or label is None:
            continue
        box = (numbers["x"], numbers["y"], numbers["width"], numbers["height"], label)
        if box in first:
            vc.errors.add(where, f"The same box as {index_path(path, first[box])}.", "duplicate")
        else:
            first[box] = i


def _inside(vc: ValueCheck, where: str, box: dict[str, float], size: tuple[int, int] | None) -> bool:
    """Each edge that can be placed (its numbers are valid) lies within the image."""
    ok = True
    for key in ("x", "y"):
        if key in box and box[key] < 0:
            vc.errors.add(
                key_path(where, key), f"The box starts outside the image ({key} = {box[key]:g}).", "outside_image"
            )
            ok = False
    if size is None:
        return ok
    for start, extent, limit in (("x", "width", size[0]), ("y", "height", size[1])):
        if start not in box or extent not in box:
            continue
        edge = box[start] + box[extent]
        if edge > limit + BOX_EDGE_TOLERANCE:
            vc.errors.add(
                key_path(where, extent),
                f"The box ends at {start} = {edge:g}, beyond the image {extent} {limit}.",
                "outside_image",
            )
            ok = False
    return ok


def _check_pairwise(vc: ValueCheck, field: PairwiseField, value: Any, path: str) -> None:
    candidates = vc.candidate_ids(field, path)
    if not isinstance(value, dict):
        vc.wrong_type(path, value, "an object {preferred, strength, rationale}")
        return
    vc.object_keys(path, value, ("preferred", "strength", "rationale"), ("preferred",))
    preferred = value.get("preferred")
    preferred_path = key_path(path, "preferred")
    if "preferred" not in value:
        pass
    elif not isinstance(preferred, str):
        vc.wrong_type(preferred_path, preferred, 'a candidate id or "tie"')
    elif preferred == PAIRWISE_TIE:
        if not field.allow_tie:
            vc.errors.add(preferred_path, "This comparison does not allow a tie.", "tie_not_allowed")
    elif candidates is not None and preferred not in candidates:
        vc.errors.add(
            preferred_path,
            f"{preferred!r} is not one of the candidates ({', '.join(candidates)}).",
            "unknown_candidate",
        )
    if "strength" in value:
        strength_path = key_path(path, "strength")
        if not field.strength:
            vc.errors.add(strength_path, "This comparison does not take a strength.", "not_allowed")
        elif preferred == PAIRWISE_TIE:
            vc.errors.add(strength_path, "A tie has no strength.", "not_allowed")
        else:
            vc.integer(strength_path, value["strength"], PAIRWISE_STRENGTHS[0], PAIRWISE_STRENGTHS[-1])
    _check_rationale(vc, field, value, key_path(path, "rationale"))


def _check_rationale(vc: ValueCheck, field: PairwiseField, value: dict[str, Any], path: str) -> None:
    if "rationale" not in value:
        if field.rationale == "required":
            vc.errors.add(path, "Explain the choice: a rationale is required.", "required")
        return
    rationale = value["rationale"]
    if field.rationale == "none":
        vc.errors.add(path, "This comparison does not take a rationale.", "not_allowed")
    elif not isinstance(rationale, str):
        vc.wrong_type(path, rationale, "a string")
    elif field.rationale == "required" and not rationale.strip():
        vc.errors.add(path, "May not be blank.", "blank")
    elif len(rationale) > RATIONALE_MAX_LENGTH:
        vc.errors.add(path, f"At most {RATIONALE_MAX_LENGTH} characters ({len(rationale)} given).", "too_long")


def _check_ranking(vc: ValueCheck, field: RankingField, value: Any, path: str) -> None:
    candidates = vc.candidate_ids(field, path)
    if not isinstance(value, dict):
        vc.wrong_type(path, value, "an object {candidate id: rank}")
        return
    before = len(vc.errors.items)
    count = len(candidates) if candidates is not None else len(value)
    ranks: dict[str, int] = {}
    for key, rank in value.items():
        where = key_path(path, str(key))
        if candidates is not None and key not in candidates:
            vc.errors.add(where, f"{key!r} is not one of the candidates.", "unknown_candidate")
        elif not is_int(rank):
            vc.wrong_type(where, rank, "an integer rank (1 is best)")
        elif rank < 1:
            vc.errors.add(where, f"Rank {rank} is below 1, the best rank.", "out_of_range")
        elif rank > count:
            vc.errors.add(where, f"Rank {rank} is beyond the number of candidates ({count}).", "out_of_range")
        else:
            ranks[key] = rank
    for candidate in candidates or ():
        if candidate not in value:
            vc.errors.add(key_path(path, candidate), f"Candidate {candidate!r} has no rank.", "missing_candidate")
    if len(vc.errors.items) != before or candidates is None:
        return  # the order of a partial or unknown set of candidates says nothing useful
    if not field.allow_ties:
        holder: dict[int, str] = {}
        for key, rank in ranks.items():
            if rank in holder:
                vc.errors.add(
                    key_path(path, key),
                    f"Rank {rank} is also given to {holder[rank]!r}; ties are not allowed.",
                    "tie_not_allowed",
                )
            else:
                holder[rank] = key
        return
    used = sorted(set(ranks.values()))
    gap = next((k for k, rank in enumerate(used) if rank != k + 1), None)
    if gap == 0:
        vc.errors.add(path, f"Ranks start at 1; the best rank given is {used[0]}.", "not_dense")
    elif gap is not None:
        vc.errors.add(
            path,
            f"Tied ranks must be dense (1, 1, 2): after rank {used[gap - 1]} comes {used[gap]}, "
            f"not {used[gap - 1] + 1}.",
            "not_dense",
        )


def _check_rubric(vc: ValueCheck, field: RubricField, value: Any, path: str) -> None:
    if not isinstance(value, dict):
        vc.wrong_type(path, value, "an object {criterion: score}")
        return
    for key in value:
        if field.criterion(str(key)) is None:
            vc.errors.add(key_path(path, str(key)), f"{key!r} is not a criterion of this rubric.", "unknown_criterion")
    for criterion in field.criteria:
        where = key_path(path, criterion.name)
        if criterion.name not in value:
            vc.errors.add(where, f"Criterion {criterion.name!r} needs a score.", "required")
        else:
            vc.integer(where, value[criterion.name], criterion.min, criterion.max)


CHAT_SLOTS = "ABCD"
_CHAT_TURN_KEYS = ("prompt", "replies", "chosen", "ratings")


def _uuid_text(vc: ValueCheck, value: Any, path: str) -> str | None:
    if not isinstance(value, str) or not _UUID.fullmatch(value.lower()):
        vc.wrong_type(path, value, "a message id (a UUID string)")
        return None
    return value.lower()


def _check_chat(vc: ValueCheck, field: ChatField, value: Any, path: str) -> None:
    """The shape of a chat answer: {conversation, turns: [{prompt, replies (slot order), chosen, ratings}]}.
    Whether the ids name this annotator's conversation and a path through its tree is the annotation app's check,
    which has the database."""
    if not isinstance(value, dict):
        vc.wrong_type(path, value, "an object {conversation, turns}")
        return
    vc.object_keys(path, value, ("conversation", "turns"), ("conversation", "turns"))
    if "conversation" in value:
        _uuid_text(vc, value["conversation"], key_path(path, "conversation"))
    turns = value.get("turns")
    turns_path = key_path(path, "turns")
    if "turns" not in value:
        return
    if not isinstance(turns, list):
        vc.wrong_type(turns_path, turns, "a list of turns")
        return
    if not turns and field.required:
        vc.errors.add(turns_path, "Hold at least one turn of the conversation.", "empty")
    if len(turns) > field.max_turns:
        vc.errors.add(turns_path, f"At most {field.max_turns} turns ({len(turns)} given).", "too_many")
        return
    slots = CHAT_SLOTS[: len(field.connections)]
    for i, turn in enumerate(turns):
        where = index_path(turns_path, i)
        if not isinstance(turn, dict):
            vc.wrong_type(where, turn, "an object {prompt, replies, chosen, ratings}")
            continue
        vc.object_keys(where, turn, _CHAT_TURN_KEYS, ("prompt", "replies"))
        if "prompt" in turn:
            _uuid_text(vc, turn["prompt"], key_path(where, "prompt"))
        replies = turn.get("replies")
        ids: list[str | None] = []
        if "replies" in turn:
            if not isinstance(replies, list):
                vc.wrong_type(key_path(where, "replies"), replies, "a list of reply ids in slot order")
            elif len(replies) != len(slots):
                vc.errors.add(
                    key_path(where, "replies"),
                    f"Give one reply per model: {len(slots)} ({len(replies)} given).",
                    "wrong_count",
                )
            else:
                ids = [
                    _uuid_text(vc, reply, index_path(key_path(where, "replies"), k)) for k, reply in enumerate(replies)
                ]
        _check_chat_choice(vc, field, turn, ids, key_path(where, "chosen"))
        _check_chat_ratings(vc, field, turn.get("ratings", {}), slots, key_path(where, "ratings"))


def _check_chat_choice(
    vc: ValueCheck, field: ChatField, turn: dict[str, Any], ids: list[str | None], path: str
) -> None:
    if "chosen" not in turn:
        if field.compares and field.require_choice:
            vc.errors.add(path, "Choose the best reply of this turn.", "required")
        return
    chosen = _uuid_text(vc, turn["chosen"], path)
    # Only against a whole list of valid ids: a broken list is reported once, at its own path.
    if chosen is not None and ids and None not in ids and chosen not in ids:
        vc.errors.add(path, "The chosen reply must be one of this turn's replies.", "invalid_choice")


def _check_chat_ratings(vc: ValueCheck, field: ChatField, ratings: Any, slots: str, path: str) -> None:
    if not isinstance(ratings, dict):
        vc.wrong_type(path, ratings, "an object {slot: {turn field: value}}")
        return
    for slot in ratings:
        if slot not in slots:
            vc.errors.add(
                key_path(path, str(slot)), f"Not a reply of this turn; slots are {', '.join(slots)}.", "unknown_slot"
            )
    for slot in slots:
        answers = ratings.get(slot, {})
        where = key_path(path, slot)
        if not isinstance(answers, dict):
            vc.wrong_type(where, answers, "an object {turn field: value}")
            continue
        for name in answers:
            if field.turn_field(str(name)) is None:
                vc.errors.add(key_path(where, str(name)), f"The chat has no turn field {name!r}.", "unknown_field")
        for sub in field.turn_fields:
            if sub.name in answers:
                vc.check(sub, answers[sub.name], key_path(where, sub.name))
            elif sub.required:
                vc.errors.add(key_path(where, sub.name), f"Response {slot} needs a {sub.name!r}.", "required")


_CHECKS: dict[str, Callable[[ValueCheck, Any, Any, str], None]] = {
    "choices": _check_choices,
    "rating": _check_rating,
    "text": _check_text,
    "spans": _check_spans,
    "boxes": _check_boxes,
    "pairwise": _check_pairwise,
    "ranking": _check_ranking,
    "rubric": _check_rubric,
    "steps": check_steps_value,
    "chat": _check_chat,
}
