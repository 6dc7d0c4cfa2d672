"""Scoring an annotation result against a gold answer, one scorer per label-schema field type.

Every scorer returns a float in [0, 1]. Fields are the plain dict shape of one schema field
(``{"name": "stars", "type": "rating", "min": 1, "max": 5}``); results and gold answers are the
``{field name: value}`` objects the schema validator accepts. The scorers assume validated values and stay
total on odd ones (a missing or wrongly shaped value scores 0) because they run unattended in background jobs.

Conventions that the formulas alone leave open:
- "empty both" (no spans, no boxes, no options selected in gold and in the answer) scores 1.0: the answer
  says exactly what the gold says, and F1/Jaccard are 0/0 there.
- ranking: Kendall's tau-b is undefined when a ranking ties every candidate. If both rankings are all ties
  they agree (1.0); if only one is, concordant minus discordant pairs is 0 (no pair is ordered by both), so
  tau is taken as 0 and the score is the midpoint 0.5 — for two candidates, a tie sits halfway between the
  right and the wrong order.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from annotation.quality.steps import score_steps

FieldSpec = Mapping[str, Any]
"""One field of a label schema, as the contract's JSON object."""

DEFAULT_IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class GoldScore:
    """An annotation's score against a gold answer: the mean over the gold's fields, and each field's score."""

    overall: float | None  # None when the gold answer has no field, so there is nothing to score
    fields: dict[str, float]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def rating_similarity(a: Any, b: Any, low: int, high: int) -> float:
    """1 - |a - b| / (high - low), clamped to [0, 1]; 0 when either side is not a number."""
    if not (_is_number(a) and _is_number(b)) or high <= low:
        return 0.0
    return max(0.0, min(1.0, 1.0 - float(abs(a - b)) / (high - low)))


def jaccard(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Size of the intersection over size of the union of the two selections; 1.0 when both are empty."""
    set_a, set_b = set(a), set(b)
    if not set_a and not set_b:
        return 1.0
    return len(set_a & set_b) / len(set_a | set_b)


def normalize_text(text: str) -> str:
    """Text as compared for gold: NFC, case-folded, whitespace runs collapsed to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def f1_from_counts(matched: int, predicted: int, expected: int) -> float:
    """F1 = 2·matched / (predicted + expected); 1.0 when both sides are empty."""
    if predicted + expected == 0:
        return 1.0
    return 2 * matched / (predicted + expected)


def score_choices(field: FieldSpec, value: Any, gold: Any) -> float:
    """Single choice: exact match. Multiple choice: Jaccard of the selected options."""
    if field.get("multiple", False):
        if not isinstance(value, list | tuple) or not isinstance(gold, list | tuple):
            return 0.0
        return jaccard(value, gold)
    return 1.0 if isinstance(value, str) and value == gold else 0.0


def score_rating(field: FieldSpec, value: Any, gold: Any) -> float:
    """1 - |value - gold| / (max - min) on the field's scale."""
    return rating_similarity(value, gold, field["min"], field["max"])


def score_text(value: Any, gold: Any) -> float:
    """Exact match after case and whitespace normalisation."""
    if not isinstance(value, str) or not isinstance(gold, str):
        return 0.0
    return 1.0 if normalize_text(value) == normalize_text(gold) else 0.0


def _span_key(span: Any) -> tuple[Any, Any, Any] | None:
    if not isinstance(span, Mapping):
        return None
    return (span.get("start"), span.get("end"), span.get("label"))


def score_spans(value: Any, gold: Any) -> float:
    """F1 where a span counts only if start, end and label all match a gold span exactly."""
    if not isinstance(value, list | tuple) or not isinstance(gold, list | tuple):
        return 0.0
    predicted = Counter(k for k in map(_span_key, value) if k is not None)
    expected = Counter(k for k in map(_span_key, gold) if k is not None)
    matched = sum((predicted & expected).values())
    return f1_from_counts(matched, sum(predicted.values()), sum(expected.values()))


def box_iou(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Intersection over union of two axis-aligned boxes given as x, y, width, height."""
    overlap_w = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    overlap_h = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    if overlap_w <= 0 or overlap_h <= 0:
        return 0.0
    intersection = overlap_w * overlap_h
    union = a["width"] * a["height"] + b["width"] * b["height"] - intersection
    return float(intersection / union) if union > 0 else 0.0


def _is_box(box: Any) -> bool:
    return isinstance(box, Mapping) and all(_is_number(box.get(k)) for k in ("x", "y", "width", "height"))


def match_boxes(
    predicted: Sequence[Mapping[str, Any]],
    expected: Sequence[Mapping[str, Any]],
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> list[tuple[int, int, float]]:
    """Greedy one-to-one matching: same-label pairs with IoU ≥ threshold, best IoU first.

    Returns (predicted index, expected index, IoU) triples. Equal IoUs are taken in index order so that the
    result does not depend on anything but the input.
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"IoU threshold must be in (0, 1], got {iou_threshold!r}.")
    candidates = []
    for i, p in enumerate(predicted):
        for j, e in enumerate(expected):
            if p.get("label") != e.get("label"):
                continue
            iou = box_iou(p, e)
            if iou >= iou_threshold:
                candidates.append((-iou, i, j))
    candidates.sort()
    used_p: set[int] = set()
    used_e: set[int] = set()
    matches = []
    for negative_iou, i, j in candidates:
        if i in used_p or j in used_e:
            continue
        used_p.add(i)
        used_e.add(j)
        matches.append((i, j, -negative_iou))
    return matches


def score_boxes(value: Any, gold: Any, iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> float:
    """F1 of boxes matched one-to-one to gold boxes of the same label at IoU ≥ threshold (greedy by IoU)."""
    if not isinstance(value, list | tuple) or not isinstance(gold, list | tuple):
        return 0.0
    predicted = [b for b in value if _is_box(b)]
    expected = [b for b in gold if _is_box(b)]
    matched = len(match_boxes(predicted, expected, iou_threshold))
    return f1_from_counts(matched, len(value), len(gold))


def score_pairwise(value: Any, gold: Any) -> float:
    """Exact match on "preferred" (a candidate id or "tie"); strength and rationale are not scored."""
    if not isinstance(value, Mapping) or not isinstance(gold, Mapping) or "preferred" not in gold:
        return 0.0
    return 1.0 if value.get("preferred") == gold["preferred"] else 0.0


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b of two paired sequences, ties handled; None when undefined.

    tau_b = (C - D) / sqrt((P - Tx) · (P - Ty)) with C/D the concordant/discordant pairs, P = n(n-1)/2 and
    Tx/Ty the pairs tied in x/in y (a pair tied in both counts in each). Undefined (None) with fewer than two
    items or when either sequence is constant.
    """
    if len(x) != len(y):
        raise ValueError("Both sequences must have the same length.")
    n = len(x)
    concordant = discordant = tied_x = tied_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = (x[i] > x[j]) - (x[i] < x[j])
            dy = (y[i] > y[j]) - (y[i] < y[j])
            if dx == 0:
                tied_x += 1
            if dy == 0:
                tied_y += 1
            if dx * dy > 0:
                concordant += 1
            elif dx * dy < 0:
                discordant += 1
    pairs = n * (n - 1) // 2
    denominator = (pairs - tied_x) * (pairs - tied_y)
    if denominator == 0:
        return None
    return (concordant - discordant) / math.sqrt(denominator)


def ranking_similarity(value: Mapping[str, Any], gold: Mapping[str, Any]) -> float:
    """(tau_b + 1) / 2 over the candidates' ranks; see the module notes for all-tied rankings."""
    if set(value) != set(gold) or not all(_is_number(r) for r in (*value.values(), *gold.values())):
        # Rankings of different candidate sets were made against different task data: nothing to compare.
        return 0.0
    candidates = sorted(gold)
    gold_ranks = [gold[c] for c in candidates]
    value_ranks = [value[c] for c in candidates]
    tau = kendall_tau_b(value_ranks, gold_ranks)
    if tau is None:
        both_all_tied = len(set(gold_ranks)) <= 1 and len(set(value_ranks)) <= 1
        return 1.0 if both_all_tied else 0.5
    # Rounding can push |tau| a hair past 1; the score must stay in [0, 1].
    return max(0.0, min(1.0, (tau + 1) / 2))


def score_ranking(value: Any, gold: Any) -> float:
    """Kendall's tau-b between the ranking and the gold ranking, rescaled to (tau + 1) / 2."""
    if not isinstance(value, Mapping) or not isinstance(gold, Mapping):
        return 0.0
    return ranking_similarity(value, gold)


def score_rubric(field: FieldSpec, value: Any, gold: Any) -> float:
    """Mean over the gold's criteria of the rating score on each criterion's own scale; a missing one scores 0."""
    if not isinstance(value, Mapping) or not isinstance(gold, Mapping):
        return 0.0
    scores = [
        rating_similarity(value.get(c["name"]), gold[c["name"]], c["min"], c["max"])
        for c in field.get("criteria", [])
        if c["name"] in gold
    ]
    if not scores:
        return 1.0 if not value else 0.0
    return sum(scores) / len(scores)


_SCORERS: dict[str, Callable[[FieldSpec, Any, Any, float], float]] = {
    "choices": lambda f, v, g, t: score_choices(f, v, g),
    "rating": lambda f, v, g, t: score_rating(f, v, g),
    "text": lambda f, v, g, t: score_text(v, g),
    "spans": lambda f, v, g, t: score_spans(v, g),
    "boxes": lambda f, v, g, t: score_boxes(v, g, t),
    "pairwise": lambda f, v, g, t: score_pairwise(v, g),
    "ranking": lambda f, v, g, t: score_ranking(v, g),
    "rubric": lambda f, v, g, t: score_rubric(f, v, g),
    "steps": lambda f, v, g, t: score_steps(v, g),
}

FIELD_TYPES = frozenset(_SCORERS)


def score_field(field: FieldSpec, value: Any, gold: Any, *, iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> float:
    """Score one field's value against its gold value with the scorer of the field's type.

    A missing value (None) scores 0. Raises ValueError for a field type the contract does not define.
    """
    scorer = _SCORERS.get(field.get("type", ""))
    if scorer is None:
        raise ValueError(f"Field {field.get('name')!r} has unknown type {field.get('type')!r}.")
    if value is None:
        return 0.0
    return scorer(field, value, gold, iou_threshold)


def score_against_gold(
    fields: Sequence[FieldSpec],
    result: Mapping[str, Any],
    gold: Mapping[str, Any],
    *,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> GoldScore:
    """Score an annotation result against a gold answer: each field present in the gold, then their mean.

    A field the gold has and the result lacks scores 0; fields the gold lacks (optional, or hidden by their
    `when`) are not scored. A gold field missing from `fields` raises ValueError: the gold and the schema
    disagree, and scoring against the wrong definition would give a meaningless number.
    """
    by_name = {f["name"]: f for f in fields}
    scores: dict[str, float] = {}
    for name, gold_value in gold.items():
        field = by_name.get(name)
        if field is None:
            raise ValueError(f"Gold answer field {name!r} is not defined in the schema.")
        scores[name] = score_field(field, result.get(name), gold_value, iou_threshold=iou_threshold)
    overall = sum(scores.values()) / len(scores) if scores else None
    return GoldScore(overall=overall, fields=scores)
