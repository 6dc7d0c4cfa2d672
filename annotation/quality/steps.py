"""Agreement, consensus and gold scores of steps fields (step-by-step review of reasoning chains and agent
trajectories), over plain values: `{"steps": [{"index", "verdict", ...}], "first_error", "overall"}`.

Step verdicts are nominal codes and the unit is one step of one task, so that two reviews of a 6-step trace are
six paired codes, not one; a step one reviewer left without a verdict (after the first error, when the field stops
there) is missing for that reviewer, not a disagreement.
"""

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from itertools import combinations
from typing import Any


def step_verdicts(value: Any) -> dict[int, str]:
    """{step index: verdict} of one answer; empty for anything that is not a steps answer."""
    steps = value.get("steps") if isinstance(value, Mapping) else None
    verdicts: dict[int, str] = {}
    for item in steps if isinstance(steps, list) else ():
        if isinstance(item, Mapping) and isinstance(item.get("index"), int) and isinstance(item.get("verdict"), str):
            verdicts[item["index"]] = item["verdict"]
    return verdicts


def steps_units(
    tasks: Mapping[Hashable, Mapping[Hashable, Any]],
) -> dict[tuple[Hashable, Hashable], dict[Hashable, Any]]:
    """(task, step index) -> annotator -> verdict: the units of the nominal alpha of a steps field."""
    units: dict[tuple[Hashable, Hashable], dict[Hashable, Any]] = {}
    for task, by_annotator in tasks.items():
        for annotator, value in by_annotator.items():
            for index, verdict in step_verdicts(value).items():
                units.setdefault((task, index), {})[annotator] = verdict
    return units


def steps_similarity(a: Any, b: Any) -> float:
    """The share of the steps both answers give a verdict on where the verdicts are the same; 0 when they share
    none (nothing of the review agrees)."""
    first, second = step_verdicts(a), step_verdicts(b)
    shared = first.keys() & second.keys()
    if not shared:
        return 0.0
    return sum(first[i] == second[i] for i in shared) / len(shared)


def steps_task_agreement(values: Sequence[Any]) -> float:
    """Mean over annotator pairs of `steps_similarity` (at least two values)."""
    scores = [steps_similarity(a, b) for a, b in combinations(values, 2)]
    return sum(scores) / len(scores)


def _majority(codes: Sequence[str]) -> str | None:
    ranked = Counter(codes).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def steps_consensus(values: Sequence[Any], incorrect: str = "incorrect") -> dict[str, Any]:
    """Per step the most frequent verdict (None on a tie for first place), the first step whose consensus is
    incorrect, and the most frequent overall verdict. A summary, not re-validated against the schema."""
    answers = [step_verdicts(v) for v in values]
    indices = sorted({i for verdicts in answers for i in verdicts})
    steps = [{"index": i, "verdict": _majority([v[i] for v in answers if i in v])} for i in indices]
    overall = _majority([v["overall"] for v in values if isinstance(v, Mapping) and isinstance(v.get("overall"), str)])
    first_error = next((s["index"] for s in steps if s["verdict"] == incorrect), None)
    return {"steps": steps, "first_error": first_error, "overall": overall}


def score_steps(value: Any, gold: Any) -> float:
    """An answer against a gold review: the share of the gold's step verdicts the answer matches (a step the
    answer leaves out counts as missed), the overall verdict counted as one more."""
    expected, given = step_verdicts(gold), step_verdicts(value)
    hits = sum(given.get(i) == verdict for i, verdict in expected.items())
    total = len(expected)
    if isinstance(gold, Mapping) and isinstance(gold.get("overall"), str):
        total += 1
        hits += isinstance(value, Mapping) and value.get("overall") == gold["overall"]
    return hits / total if total else 0.0
