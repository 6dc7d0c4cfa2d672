"""Inter-annotator agreement: Krippendorff's alpha, Cohen's kappa, per-field reliability and per-task consensus.

Input is plain data — ``{task_id: {annotator_id: value}}`` with the value of one schema field — so that jobs
can recompute agreement from whatever rows they load. The level of measurement per field type follows the
label-schema contract: choices (single) and pairwise "preferred" nominal; choices (multiple) one nominal
present/absent variable per option, alphas averaged; rating ordinal, interval also reported; ranking ordinal
over (task, candidate) units, since candidate ids belong to their task; rubric one ordinal variable per
criterion, alphas averaged; steps nominal over (task, step) units, one per step verdict. Spans, boxes and text
get no alpha (only the per-task score below).

Undefined statistics are None, never a made-up number: a caller shows "n/a" rather than a misleading 1 or 0.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from typing import Any, Literal

import krippendorff
import numpy as np

from annotation.quality.scoring import (
    FieldSpec,
    jaccard,
    normalize_text,
    ranking_similarity,
    score_boxes,
    score_spans,
)
from annotation.quality.steps import steps_consensus, steps_task_agreement, steps_units

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")

# A unit: (task id, part), the part being the option / candidate / criterion for types coded per part, else None.
Unit = tuple[Hashable, Hashable]


# --- Krippendorff's alpha ------------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _alpha_from_units(units: Iterable[Sequence[Any]], level: Level) -> float | None:
    """Alpha from each unit's list of values (missing values already removed).

    Passes per-unit value counts to the package rather than a coders-by-units matrix, so memory grows with
    units times distinct values, not with the number of annotators.
    """
    if level not in LEVELS:
        raise ValueError(f"Unknown level of measurement {level!r}; expected one of {', '.join(LEVELS)}.")
    pairable = [list(values) for values in units if len(values) >= 2]
    if level != "nominal":
        for values in pairable:
            for v in values:
                if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                    raise ValueError(f"A {level} alpha needs finite numbers, got {v!r}.")
    distinct = {v for values in pairable for v in values}
    # With no unit coded twice there is no observed disagreement (0/0), and with a single value among the
    # pairable ones there is no expected disagreement (0/0): alpha is undefined, not perfect. Krippendorff: data
    # without variation cannot show that coders can tell values apart.
    if len(distinct) < 2:
        return None
    # Nominal values only need telling apart (any hashable); other levels need their numeric order.
    domain = list(distinct) if level == "nominal" else sorted(distinct)
    column = {v: i for i, v in enumerate(domain)}
    counts = np.zeros((len(pairable), len(domain)), dtype=np.int64)
    for row, values in enumerate(pairable):
        for v in values:
            counts[row, column[v]] += 1
    value_domain = np.arange(len(domain)) if level == "nominal" else np.asarray(domain, dtype=np.float64)
    result = krippendorff.alpha(value_counts=counts, value_domain=value_domain, level_of_measurement=level)
    return float(result)


def krippendorff_alpha(reliability_data: Sequence[Sequence[Any]], level: Level) -> float | None:
    """Krippendorff's alpha of a coders-by-units matrix (rows are coders, columns units; None marks missing).

    Nominal values may be any hashable; ordinal, interval and ratio values must be numbers. Returns None when
    fewer than 2 pairable values exist (no unit coded by two coders: nothing was compared) or when every
    pairable value is the same (no variation: expected disagreement is 0 and alpha is 0/0).
    """
    if not reliability_data:
        return None
    width = len(reliability_data[0])
    if any(len(row) != width for row in reliability_data):
        raise ValueError("Every coder's row must have one entry per unit.")
    units = ([row[u] for row in reliability_data if not _is_missing(row[u])] for u in range(width))
    return _alpha_from_units(units, level)


# --- Cohen's kappa -------------------------------------------------------------------------------------------


def _kappa_parts(pairs: Sequence[tuple[Hashable, Hashable]]) -> tuple[Fraction, Fraction | None]:
    """(observed agreement, kappa) of paired codes, exact; kappa None when expected agreement is 1."""
    n = len(pairs)
    observed = Fraction(sum(1 for a, b in pairs if a == b), n)
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum((Fraction(first[k] * second[k], n * n) for k in first), Fraction(0))
    if expected == 1:
        return observed, None
    return observed, (observed - expected) / (1 - expected)


def cohen_kappa(a: Sequence[Hashable | None], b: Sequence[Hashable | None]) -> float | None:
    """Cohen's kappa (nominal) of two coders over the units both coded; a[i] and b[i] code the same unit.

    None marks a unit the coder did not code. Returns None when undefined: no shared unit, or expected
    agreement of 1 — both coders gave one and the same category to every shared unit, so kappa is 0/0. That
    case is perfect raw agreement without any evidence of discrimination; reporting 1 would overstate it.
    """
    if len(a) != len(b):
        raise ValueError("Both coders' sequences must have one entry per unit.")
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if not _is_missing(x) and not _is_missing(y)]
    if not pairs:
        return None
    kappa = _kappa_parts(pairs)[1]
    return None if kappa is None else float(kappa)


# --- Per-field agreement -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairAgreement:
    """Cohen's kappa of two annotators over the units both coded."""

    annotator_a: Hashable
    annotator_b: Hashable
    kappa: float | None
    observed: float  # raw share of shared units coded alike, meaningful even when kappa is undefined
    shared_units: int  # units kappa is computed over: tasks, or (task, option/candidate/criterion)
    shared_tasks: int


@dataclass(frozen=True)
class FieldAgreement:
    """Reliability of one schema field over the tasks that at least two annotators answered."""

    name: str
    type: str
    level: Level | None  # None: the type gets no alpha (spans, boxes, text)
    alpha: float | None  # at `level`; mean of the defined per-option / per-criterion alphas where coded per part
    alpha_interval: float | None  # ratings only: the same data read as interval
    components: dict[str, float | None]  # per option (multiple choice) or per criterion (rubric)
    units: int  # tasks with at least two annotations of this field
    pairs: tuple[PairAgreement, ...]


_LEVEL_BY_TYPE: dict[str, Level] = {
    "choices": "nominal",
    "pairwise": "nominal",
    "rating": "ordinal",
    "ranking": "ordinal",
    "rubric": "ordinal",
    "steps": "nominal",
}


def _variables(
    field: FieldSpec, tasks: Mapping[Hashable, Mapping[Hashable, Any]]
) -> dict[str, dict[Unit, dict[Hashable, Any]]]:
    """Split the field's values into the variables alpha is computed on: name -> unit -> annotator -> code."""
    kind = field["type"]
    if kind == "choices" and field.get("multiple", False):
        options = field.get("options", [])
        return {
            option: {
                (task, option): {
                    annotator: int(option in value)
                    for annotator, value in by_annotator.items()
                    if isinstance(value, list | tuple)
                }
                for task, by_annotator in tasks.items()
            }
            for option in options
        }
    if kind == "rubric":
        return {
            c["name"]: {
                (task, c["name"]): {
                    annotator: value[c["name"]]
                    for annotator, value in by_annotator.items()
                    if isinstance(value, Mapping) and value.get(c["name"]) is not None
                }
                for task, by_annotator in tasks.items()
            }
            for c in field.get("criteria", [])
        }
    if kind == "steps":
        return {"": steps_units(tasks)}
    single: dict[Unit, dict[Hashable, Any]] = {}
    for task, by_annotator in tasks.items():
        if kind == "ranking":
            for annotator, value in by_annotator.items():
                if isinstance(value, Mapping):
                    for candidate, rank in value.items():
                        single.setdefault((task, candidate), {})[annotator] = rank
        elif kind == "pairwise":
            single[(task, None)] = {
                annotator: value["preferred"]
                for annotator, value in by_annotator.items()
                if isinstance(value, Mapping) and value.get("preferred") is not None
            }
        else:
            single[(task, None)] = dict(by_annotator)
    return {"": single}


def _alpha_of(variable: Mapping[Unit, Mapping[Hashable, Any]], level: Level) -> float | None:
    return _alpha_from_units((list(codes.values()) for codes in variable.values()), level)


def _pair_agreements(
    variables: Mapping[str, Mapping[Unit, Mapping[Hashable, Any]]], order: Mapping[Hashable, int]
) -> tuple[PairAgreement, ...]:
    codes_by_pair: dict[tuple[Hashable, Hashable], list[tuple[Hashable, Hashable]]] = {}
    tasks_by_pair: dict[tuple[Hashable, Hashable], set[Hashable]] = {}
    for variable in variables.values():
        for unit, codes in variable.items():
            task = unit[0]
            annotators = sorted(codes, key=order.__getitem__)
            for a, b in combinations(annotators, 2):
                codes_by_pair.setdefault((a, b), []).append((codes[a], codes[b]))
                tasks_by_pair.setdefault((a, b), set()).add(task)
    result = []
    for (a, b), pairs in sorted(codes_by_pair.items(), key=lambda item: (order[item[0][0]], order[item[0][1]])):
        observed, kappa = _kappa_parts(pairs)
        result.append(
            PairAgreement(
                annotator_a=a,
                annotator_b=b,
                kappa=None if kappa is None else float(kappa),
                observed=float(observed),
                shared_units=len(pairs),
                shared_tasks=len(tasks_by_pair[(a, b)]),
            )
        )
    return tuple(result)


def field_agreement(field: FieldSpec, annotations_by_task: Mapping[Hashable, Mapping[Hashable, Any]]) -> FieldAgreement:
    """Krippendorff's alpha and pairwise Cohen's kappa of one field, from {task_id: {annotator_id: value}}.

    A None value (field absent from that annotation, e.g. hidden by its `when`) is missing. Only tasks with at
    least two values take part. Kappa is the nominal statistic for every type that has a level, ordinal ones
    included (exact agreement on the rating / rank / criterion score); pairs are listed in the order the
    annotators first appear.
    """
    tasks = {
        task: present
        for task, by_annotator in annotations_by_task.items()
        if len(present := {a: v for a, v in by_annotator.items() if not _is_missing(v)}) >= 2
    }
    level = _LEVEL_BY_TYPE.get(field["type"])
    if level is None:
        return FieldAgreement(
            name=field["name"],
            type=field["type"],
            level=None,
            alpha=None,
            alpha_interval=None,
            components={},
            units=len(tasks),
            pairs=(),
        )
    variables = _variables(field, tasks)
    components: dict[str, float | None] = {name: _alpha_of(variable, level) for name, variable in variables.items()}
    if "" in components:
        alpha = components.pop("")
    else:
        defined = [a for a in components.values() if a is not None]
        alpha = sum(defined) / len(defined) if defined else None
    order: dict[Hashable, int] = {}
    for by_annotator in tasks.values():
        for annotator in by_annotator:
            order.setdefault(annotator, len(order))
    return FieldAgreement(
        name=field["name"],
        type=field["type"],
        level=level,
        alpha=alpha,
        alpha_interval=_alpha_of(variables[""], "interval") if field["type"] == "rating" else None,
        components=components,
        units=len(tasks),
        pairs=_pair_agreements(variables, order),
    )


# --- Per-task consensus and agreement ------------------------------------------------------------------------


def _present(values: Mapping[Hashable, Any] | Sequence[Any]) -> list[Any]:
    items = values.values() if isinstance(values, Mapping) else values
    return [v for v in items if not _is_missing(v)]


def _majority(codes: Sequence[Hashable]) -> Hashable | None:
    """The most frequent code; None when two or more share the top count (or there is none)."""
    ranked = Counter(codes).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def _center(numbers: Sequence[float], method: Literal["median", "mean"]) -> float:
    return float(statistics.median(numbers)) if method == "median" else statistics.fmean(numbers)


def consensus(
    field: FieldSpec,
    values: Mapping[Hashable, Any] | Sequence[Any],
    *,
    method: Literal["median", "mean"] = "median",
) -> Any:
    """One task's consensus value of a field from its annotators' values; None when there is none.

    - choices (single), pairwise ("preferred"): the most frequent value; None on a tie for first place.
      Pairwise returns ``{"preferred": ...}`` only (strength and rationale are personal).
    - choices (multiple): the options more than half the annotators selected, in the field's option order;
      None when an option was selected by exactly half (a tie).
    - rating: median (default) or mean, as a float — a median of an even count may fall between two points.
    - rubric: ``{criterion: median or mean}`` over the annotators who scored that criterion.
    - ranking: candidates ordered by mean rank, dense-ranked; None when means tie and the field forbids ties.
    The consensus is a summary, not re-validated against the schema. Spans, boxes and text raise ValueError:
    merging them needs a matching rule the contract does not define.
    """
    present = _present(values)
    if not present:
        return None
    kind = field["type"]
    if kind == "choices" and field.get("multiple", False):
        selections = [set(v) for v in present if isinstance(v, list | tuple)]
        chosen = []
        for option in field.get("options", []):
            votes = sum(option in s for s in selections)
            if 2 * votes == len(selections):
                return None
            if 2 * votes > len(selections):
                chosen.append(option)
        return chosen
    if kind == "choices":
        return _majority(present)
    if kind == "pairwise":
        winner = _majority([v.get("preferred") for v in present if isinstance(v, Mapping)])
        return None if winner is None else {"preferred": winner}
    if kind == "rating":
        return _center(present, method)
    if kind == "rubric":
        criteria: dict[str, float] = {}
        for c in field.get("criteria", []):
            scores = [v[c["name"]] for v in present if isinstance(v, Mapping) and v.get(c["name"]) is not None]
            if scores:
                criteria[c["name"]] = _center(scores, method)
        return criteria
    if kind == "ranking":
        rankings = [v for v in present if isinstance(v, Mapping)]
        candidates = {c for r in rankings for c in r}
        mean_rank = {
            c: Fraction(sum(r[c] for r in rankings if c in r), sum(1 for r in rankings if c in r)) for c in candidates
        }
        levels = sorted(set(mean_rank.values()))
        if len(levels) < len(mean_rank) and not field.get("allow_ties", False):
            return None
        dense = {m: i + 1 for i, m in enumerate(levels)}
        return {c: dense[mean_rank[c]] for c in sorted(candidates, key=lambda c: (mean_rank[c], str(c)))}
    if kind == "steps":
        return steps_consensus(present)
    raise ValueError(f"No consensus is defined for {kind!r} field {field.get('name')!r}.")


def _rating_agreement(numbers: Sequence[float], low: int, high: int) -> float:
    """1 - mean absolute deviation from the mean / its largest possible value on the scale, (high - low) / 2."""
    mean = statistics.fmean(numbers)
    deviation = statistics.fmean(abs(x - mean) for x in numbers)
    return max(0.0, min(1.0, 1.0 - deviation / ((high - low) / 2)))


def _mean_over_pairs(values: Sequence[Any], similarity: Callable[[Any, Any], float]) -> float:
    scores = [similarity(a, b) for a, b in combinations(values, 2)]
    return sum(scores) / len(scores)


def task_agreement(field: FieldSpec, values: Mapping[Hashable, Any] | Sequence[Any]) -> float | None:
    """How far one task's annotators agree on a field, in [0, 1]; None with fewer than two values.

    Nominal (single choice, pairwise "preferred"): the share of annotator pairs giving the same value.
    Rating: 1 - mean absolute deviation normalised by half the scale's range (the largest deviation possible,
    annotators split between both ends); rubric: the mean of that over the criteria. Other types: the mean over
    annotator pairs of the gold similarity with one annotator as reference — Jaccard (multiple choice),
    rescaled tau-b (ranking), span F1, box F1 at IoU 0.5, normalised exact text. Tasks scoring low are the ones
    to send to adjudication.
    """
    present = _present(values)
    if len(present) < 2:
        return None
    kind = field["type"]
    if kind == "rating":
        return _rating_agreement(present, field["min"], field["max"])
    if kind == "rubric":
        per_criterion = []
        for c in field.get("criteria", []):
            scores = [v[c["name"]] for v in present if isinstance(v, Mapping) and v.get(c["name"]) is not None]
            if len(scores) >= 2:
                per_criterion.append(_rating_agreement(scores, c["min"], c["max"]))
        return sum(per_criterion) / len(per_criterion) if per_criterion else None
    if kind == "choices" and field.get("multiple", False):
        return _mean_over_pairs(present, jaccard)
    if kind == "choices":
        return _mean_over_pairs(present, lambda a, b: float(a == b))
    if kind == "pairwise":
        preferred = [v.get("preferred") if isinstance(v, Mapping) else None for v in present]
        return _mean_over_pairs(preferred, lambda a, b: float(a is not None and a == b))
    if kind == "ranking":
        return _mean_over_pairs(present, ranking_similarity)
    if kind == "spans":
        return _mean_over_pairs(present, score_spans)
    if kind == "boxes":
        return _mean_over_pairs(present, score_boxes)
    if kind == "text":
        return _mean_over_pairs(present, lambda a, b: float(normalize_text(a) == normalize_text(b)))
    if kind == "steps":
        return steps_task_agreement(present)
    raise ValueError(f"Field {field.get('name')!r} has unknown type {kind!r}.")
