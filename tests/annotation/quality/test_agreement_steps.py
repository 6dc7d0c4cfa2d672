"""Steps fields in agreement: nominal alpha over (task, step) units, per-task agreement, consensus and gold scores."""

import pytest

from annotation.quality.agreement import consensus, field_agreement, krippendorff_alpha, task_agreement
from annotation.quality.scoring import score_field

FIELD = {"name": "review", "type": "steps", "source": "trace", "verdicts": ["correct", "incorrect", "neutral"]}


def review(*verdicts, overall="correct"):
    first = next((i for i, v in enumerate(verdicts) if v == "incorrect"), None)
    return {
        "steps": [{"index": i, "verdict": v} for i, v in enumerate(verdicts)],
        "first_error": first,
        "overall": overall,
    }


def test_alpha_is_nominal_over_each_step_of_each_task():
    data = {
        "t1": {"a": review("correct", "incorrect", "correct"), "b": review("correct", "incorrect", "neutral")},
        "t2": {
            "a": review("correct", "correct"),
            "b": review("incorrect", "correct"),
            "c": review("correct", "correct"),
        },
    }

    result = field_agreement(FIELD, data)

    # The same codes as a coders-by-units matrix, one column per (task, step).
    expected = krippendorff_alpha(
        [
            ["correct", "incorrect", "correct", "correct", "correct"],
            ["correct", "incorrect", "neutral", "incorrect", "correct"],
            [None, None, None, "correct", "correct"],
        ],
        "nominal",
    )
    assert (result.level, result.units, result.components) == ("nominal", 2, {})
    assert result.alpha == pytest.approx(expected)
    assert result.alpha == pytest.approx(13 / 35)  # by hand: 1 - (4/12) / (70/132)
    ab = result.pairs[0]
    assert (ab.annotator_a, ab.annotator_b, ab.shared_units, ab.shared_tasks) == ("a", "b", 5, 2)
    assert ab.observed == pytest.approx(3 / 5)


def test_a_step_one_reviewer_stopped_before_is_missing_not_a_disagreement():
    stopped = review("correct", "incorrect")
    full = review("correct", "incorrect", "neutral", "correct")

    result = field_agreement(
        FIELD, {"t1": {"a": stopped, "b": full}, "t2": {"a": review("incorrect"), "b": review("correct")}}
    )

    assert result.pairs[0].shared_units == 3
    assert result.pairs[0].observed == pytest.approx(2 / 3)


def test_task_agreement_is_the_share_of_shared_steps_judged_alike():
    values = [review("correct", "correct", "incorrect", "correct"), review("correct", "neutral", "incorrect"), None]

    assert task_agreement(FIELD, values) == pytest.approx(2 / 3)
    assert task_agreement(FIELD, [review("correct")]) is None


def test_consensus_takes_the_majority_per_step_and_overall():
    values = [
        review("correct", "incorrect", "correct", overall="incorrect"),
        review("correct", "incorrect", "neutral", overall="incorrect"),
        review("correct", "correct", overall="correct"),
        review("neutral", "correct", "incorrect", overall="incorrect"),
    ]

    assert consensus(FIELD, values) == {
        "steps": [
            {"index": 0, "verdict": "correct"},
            {"index": 1, "verdict": None},
            {"index": 2, "verdict": None},
        ],
        "first_error": None,
        "overall": "incorrect",
    }
    assert consensus(FIELD, [review("correct", "incorrect"), review("correct", "incorrect")])["first_error"] == 1


def test_gold_score_is_the_share_of_gold_verdicts_matched_with_the_overall():
    gold = review("correct", "incorrect", "correct", overall="incorrect")

    assert score_field(FIELD, gold, gold) == 1.0
    assert score_field(FIELD, review("correct", "correct", "correct", overall="correct"), gold) == pytest.approx(2 / 4)
    assert score_field(FIELD, review("correct", overall="incorrect"), gold) == pytest.approx(2 / 4)
    assert score_field(FIELD, None, gold) == 0.0
