"""Krippendorff's alpha, Cohen's kappa, per-field agreement, per-task consensus and agreement."""

from collections import Counter
from fractions import Fraction

import krippendorff
import numpy as np
import pytest

from annotation.quality.agreement import (
    PairAgreement,
    cohen_kappa,
    consensus,
    field_agreement,
    krippendorff_alpha,
    task_agreement,
)

_ = None  # a value the coder did not give

# Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011), section E: 4 observers, 12 units, values
# 1..5, with missing values. Published: nominal .743, ordinal .815, interval .849, ratio .797.
KRIPPENDORFF_EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
]
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}


def _coincidences(units):
    """Krippendorff's coincidence matrix o[c, k], exact, from each unit's values."""
    o = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        for i, c in enumerate(values):
            for j, k in enumerate(values):
                if i != j:
                    o[(c, k)] += Fraction(1, m - 1)
    return o


def _alpha_by_hand(units, level):
    """Alpha = 1 - (n - 1) · Σ o_ck δ_ck / Σ n_c n_k δ_ck, from the paper's definitions, in exact arithmetic."""
    o = _coincidences(units)
    n_c = Counter()
    for (c, _k), count in o.items():
        n_c[c] += count
    n = sum(n_c.values())
    values = sorted(n_c)

    def delta(c, k):
        if level == "nominal":
            return 0 if c == k else 1
        if level == "ordinal":
            low, high = min(c, k), max(c, k)
            return (sum(n_c[g] for g in values if low <= g <= high) - (n_c[c] + n_c[k]) / 2) ** 2
        if level == "interval":
            return (c - k) ** 2
        return Fraction(c - k, c + k) ** 2

    observed = sum(o[(c, k)] * delta(c, k) for c in values for k in values)
    expected = sum(n_c[c] * n_c[k] * delta(c, k) for c in values for k in values)
    return 1 - (n - 1) * observed / expected


def _units(matrix):
    return [[row[u] for row in matrix if row[u] is not None] for u in range(len(matrix[0]))]


def _nan_matrix(matrix, encode=lambda v: v):
    return np.array([[np.nan if v is None else encode(v) for v in row] for row in matrix], dtype=float)


# --- Krippendorff's alpha ------------------------------------------------------------------------------------


def test_krippendorff_example_margins_match_the_paper():
    o = _coincidences(_units(KRIPPENDORFF_EXAMPLE))
    n_c = Counter()
    for (c, _k), count in o.items():
        n_c[c] += count

    # Unit 12 has a single value and is not pairable: n = 40.
    assert dict(n_c) == {1: 9, 2: 13, 3: 10, 4: 5, 5: 3}
    # Nominal by hand: 8 disagreeing pairs' worth in o (units 2, 6 and 8), Σ_c≠k n_c n_k = 40² - Σ n_c² = 1216.
    assert _alpha_by_hand(_units(KRIPPENDORFF_EXAMPLE), "nominal") == 1 - Fraction(39 * 8, 1216)


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_krippendorff_published_example(level):
    alpha = krippendorff_alpha(KRIPPENDORFF_EXAMPLE, level)

    assert round(alpha, 3) == PUBLISHED[level]
    assert alpha == pytest.approx(float(_alpha_by_hand(_units(KRIPPENDORFF_EXAMPLE), level)), abs=1e-12)
    direct = krippendorff.alpha(reliability_data=_nan_matrix(KRIPPENDORFF_EXAMPLE), level_of_measurement=level)
    assert alpha == pytest.approx(direct, abs=1e-12)


def test_krippendorff_nominal_accepts_any_hashable_values():
    as_words = [[None if v is None else f"v{v}" for v in row] for row in KRIPPENDORFF_EXAMPLE]

    assert krippendorff_alpha(as_words, "nominal") == krippendorff_alpha(KRIPPENDORFF_EXAMPLE, "nominal")


@pytest.mark.parametrize(
    "data",
    [
        [],
        [[1, _, 2], [_, 3, _]],  # no unit coded twice: nothing was compared
        [[2, 2, _], [2, 2, 7]],  # every pairable value is the same (7 is alone in its unit): no variation
    ],
)
def test_krippendorff_alpha_is_undefined_without_two_pairable_distinct_values(data):
    assert krippendorff_alpha(data, "nominal") is None
    assert krippendorff_alpha(data, "interval") is None


def test_krippendorff_perfect_agreement_with_variation_is_one():
    assert krippendorff_alpha([[1, 2, 3], [1, 2, 3]], "ordinal") == 1.0


def test_krippendorff_alpha_refuses_bad_input():
    with pytest.raises(ValueError, match="Unknown level"):
        krippendorff_alpha([[1, 2], [1, 2]], "circular")
    with pytest.raises(ValueError, match="needs finite numbers"):
        krippendorff_alpha([["a", "b"], ["a", "b"]], "ordinal")
    with pytest.raises(ValueError, match="one entry per unit"):
        krippendorff_alpha([[1, 2], [1]], "nominal")


# --- Cohen's kappa -------------------------------------------------------------------------------------------


def _two_by_two(yes_yes, yes_no, no_yes, no_no):
    a = ["yes"] * (yes_yes + yes_no) + ["no"] * (no_yes + no_no)
    b = ["yes"] * yes_yes + ["no"] * yes_no + ["yes"] * no_yes + ["no"] * no_no
    return a, b


def test_cohen_kappa_wikipedia_example():
    # 50 proposals: both yes 20, A yes/B no 5, A no/B yes 10, both no 15. p_o = .7, p_e = .5, kappa = .4.
    assert cohen_kappa(*_two_by_two(20, 5, 10, 15)) == pytest.approx(0.4, abs=1e-15)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # Same 60% raw agreement, different margins (Wikipedia): p_e .54 and .46.
        ((45, 15, 25, 15), Fraction(3, 23)),
        ((25, 35, 5, 35), Fraction(7, 27)),
        ((10, 0, 0, 10), Fraction(1)),
        ((0, 10, 10, 0), Fraction(-1)),
    ],
)
def test_cohen_kappa_hand_computed(cells, expected):
    assert cohen_kappa(*_two_by_two(*cells)) == pytest.approx(float(expected), abs=1e-15)


def test_cohen_kappa_uses_only_units_both_coded():
    a = ["yes", "yes", "no", None, "no", "yes"]
    b = ["yes", "no", "no", "yes", None, None]

    # Shared: (yes, yes), (yes, no), (no, no): p_o 2/3, p_e (2·1 + 1·2)/9 = 4/9 -> (2/9) / (5/9).
    assert cohen_kappa(a, b) == pytest.approx(0.4, abs=1e-15)


def test_cohen_kappa_is_undefined_without_variation_or_shared_units():
    assert cohen_kappa(["a", "a", "a"], ["a", "a", "a"]) is None  # expected agreement 1: 0/0
    assert cohen_kappa(["a", None], [None, "b"]) is None
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError, match="one entry per unit"):
        cohen_kappa(["a"], ["a", "b"])


# --- field_agreement: cross-checked against the package on the equivalent coders-by-units matrix --------------

SENTIMENT = {"name": "sentiment", "type": "choices", "options": ["pos", "neg", "neutral"]}
SENTIMENT_TASKS = {
    "t1": {"u1": "pos", "u2": "pos", "u3": "pos"},
    "t2": {"u1": "pos", "u2": "neg"},
    "t3": {"u1": "neg", "u2": "neg", "u3": "neutral"},
    "t4": {"u2": "neutral", "u3": "neutral"},
    "t5": {"u1": "pos"},  # a single annotation: not part of the reliability data
    "t6": {"u1": "neg", "u2": None, "u3": "pos"},  # u2's field was hidden by its `when`: missing
}


def _matrix(tasks, annotators, pick=lambda value: value):
    return [[pick(tasks[t][a]) if tasks[t].get(a) is not None else None for t in tasks] for a in annotators]


def test_single_choice_agreement_matches_the_package_and_kappa_per_pair():
    agreement = field_agreement(SENTIMENT, SENTIMENT_TASKS)

    codes = {"pos": 0, "neg": 1, "neutral": 2}
    direct = krippendorff.alpha(
        reliability_data=_nan_matrix(_matrix(SENTIMENT_TASKS, ["u1", "u2", "u3"]), codes.__getitem__),
        level_of_measurement="nominal",
    )
    assert agreement.level == "nominal"
    assert agreement.alpha == pytest.approx(direct, abs=1e-12)
    assert agreement.alpha_interval is None
    assert agreement.units == 5
    assert agreement.components == {}
    assert agreement.pairs == (
        PairAgreement("u1", "u2", pytest.approx(0.4, abs=1e-15), pytest.approx(2 / 3), 3, 3),
        PairAgreement("u1", "u3", pytest.approx(1 / 7, abs=1e-15), pytest.approx(1 / 3), 3, 3),
        PairAgreement("u2", "u3", pytest.approx(0.5, abs=1e-15), pytest.approx(2 / 3), 3, 3),
    )
    u1, u2 = _matrix(SENTIMENT_TASKS, ["u1", "u2"])
    assert agreement.pairs[0].kappa == pytest.approx(cohen_kappa(u1, u2), abs=1e-15)


STARS = {"name": "stars", "type": "rating", "min": 1, "max": 5}
STAR_TASKS = {
    "t1": {"a": 1, "b": 2, "c": 1, "d": 1},
    "t2": {"a": 4, "b": 4, "c": 5},
    "t3": {"b": 3, "d": 2},
    "t4": {"a": 5, "b": 5, "c": 4, "d": 5},
    "t5": {"a": 2, "c": 3, "d": 2},
    "t6": {"d": 3},
}


def test_rating_agreement_is_ordinal_and_interval_as_the_package_computes():
    agreement = field_agreement(STARS, STAR_TASKS)

    matrix = _nan_matrix(_matrix(STAR_TASKS, ["a", "b", "c", "d"]))
    assert agreement.level == "ordinal"
    assert agreement.alpha == pytest.approx(krippendorff.alpha(matrix, level_of_measurement="ordinal"), abs=1e-12)
    assert agreement.alpha_interval == pytest.approx(
        krippendorff.alpha(matrix, level_of_measurement="interval"), abs=1e-12
    )
    assert agreement.units == 5
    # a and b share t1, t2, t4: (1,2), (4,4), (5,5): p_o 2/3; a: 1,4,5, b: 2,4,5 -> p_e 2/9 -> (4/9) / (7/9).
    assert agreement.pairs[0] == PairAgreement("a", "b", pytest.approx(4 / 7, abs=1e-15), pytest.approx(2 / 3), 3, 3)


TOPICS = {"name": "topics", "type": "choices", "multiple": True, "options": ["a", "b", "c", "d"]}
TOPIC_TASKS = {
    "t1": {"u1": ["a", "b"], "u2": ["a"]},
    "t2": {"u1": ["c"], "u2": ["c"], "u3": ["a", "c"]},
    "t3": {"u1": [], "u2": ["b"]},
    "t4": {"u1": ["a"], "u3": ["a", "b"]},
}


def test_multiple_choice_agreement_averages_one_present_absent_alpha_per_option():
    agreement = field_agreement(TOPICS, TOPIC_TASKS)

    expected = {}
    for option in ["a", "b", "c"]:
        matrix = _matrix(TOPIC_TASKS, ["u1", "u2", "u3"], lambda chosen, o=option: int(o in chosen))
        expected[option] = krippendorff.alpha(_nan_matrix(matrix), level_of_measurement="nominal")
    assert agreement.level == "nominal"
    assert agreement.components["d"] is None  # never chosen: no variation, so no alpha
    assert {k: v for k, v in agreement.components.items() if k != "d"} == pytest.approx(expected, abs=1e-12)
    assert agreement.alpha == pytest.approx(sum(expected.values()) / 3, abs=1e-12)
    # Kappa pools the per-option decisions: u1 and u2 share 3 tasks, 4 options each.
    assert (agreement.pairs[0].annotator_a, agreement.pairs[0].shared_units, agreement.pairs[0].shared_tasks) == (
        "u1",
        12,
        3,
    )


def test_pairwise_agreement_is_nominal_on_preferred():
    field = {"name": "pref", "type": "pairwise", "source": "responses"}
    tasks = {
        "t1": {"x": {"preferred": "r1", "strength": 3}, "y": {"preferred": "r1"}, "z": {"preferred": "tie"}},
        "t2": {"x": {"preferred": "r2"}, "y": {"preferred": "r1"}},
        "t3": {"x": {"preferred": "tie"}, "z": {"preferred": "tie"}},
    }

    agreement = field_agreement(field, tasks)

    codes = {"r1": 0, "r2": 1, "tie": 2}
    matrix = _matrix(tasks, ["x", "y", "z"], lambda value: codes[value["preferred"]])
    assert agreement.alpha == pytest.approx(
        krippendorff.alpha(_nan_matrix(matrix), level_of_measurement="nominal"), abs=1e-12
    )
    assert [(p.annotator_a, p.annotator_b, p.shared_units) for p in agreement.pairs] == [
        ("x", "y", 2),
        ("x", "z", 2),
        ("y", "z", 1),
    ]


def test_ranking_agreement_is_ordinal_over_task_candidate_units():
    field = {"name": "rank", "type": "ranking", "source": "responses"}
    tasks = {
        "t1": {"u1": {"x": 1, "y": 2, "z": 3}, "u2": {"x": 1, "y": 3, "z": 2}},
        "t2": {"u1": {"p": 2, "q": 1}, "u2": {"p": 2, "q": 1}, "u3": {"p": 1, "q": 2}},
    }

    agreement = field_agreement(field, tasks)

    matrix = [[1, 2, 3, 2, 1], [1, 3, 2, 2, 1], [_, _, _, 1, 2]]  # columns: t1 x, y, z; t2 p, q
    assert agreement.level == "ordinal"
    assert agreement.alpha == pytest.approx(
        krippendorff.alpha(_nan_matrix(matrix), level_of_measurement="ordinal"), abs=1e-12
    )
    assert agreement.units == 2
    assert agreement.pairs[0].shared_units == 5
    assert agreement.pairs[0].shared_tasks == 2


def test_rubric_agreement_is_one_ordinal_alpha_per_criterion_averaged():
    field = {
        "name": "quality",
        "type": "rubric",
        "criteria": [{"name": "accuracy", "min": 1, "max": 5}, {"name": "style", "min": 1, "max": 3}],
    }
    tasks = {
        "t1": {"a": {"accuracy": 5, "style": 1}, "b": {"accuracy": 4, "style": 1}},
        "t2": {"a": {"accuracy": 2, "style": 3}, "b": {"accuracy": 2, "style": 2}, "c": {"accuracy": 1, "style": 3}},
        "t3": {"a": {"accuracy": 3, "style": 2}, "c": {"accuracy": 3, "style": 2}},
    }

    agreement = field_agreement(field, tasks)

    expected = {
        name: krippendorff.alpha(
            _nan_matrix(_matrix(tasks, ["a", "b", "c"], lambda v, n=name: v[n])), level_of_measurement="ordinal"
        )
        for name in ["accuracy", "style"]
    }
    assert agreement.components == pytest.approx(expected, abs=1e-12)
    assert agreement.alpha == pytest.approx((expected["accuracy"] + expected["style"]) / 2, abs=1e-12)


@pytest.mark.parametrize("kind", ["spans", "boxes", "text"])
def test_types_without_alpha_report_only_their_units(kind):
    agreement = field_agreement({"name": "f", "type": kind}, {"t1": {"a": [], "b": []}, "t2": {"a": []}})

    assert (agreement.level, agreement.alpha, agreement.pairs, agreement.units) == (None, None, (), 1)


def test_field_agreement_without_any_doubly_annotated_task_is_undefined():
    agreement = field_agreement(SENTIMENT, {"t1": {"a": "pos"}, "t2": {"b": "neg"}})

    assert (agreement.alpha, agreement.units, agreement.pairs) == (None, 0, ())


# --- consensus and per-task agreement ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["pos", "pos", "neg"], "pos"),
        (["pos", "neg", "neutral", "neg"], "neg"),  # plurality is enough
        (["pos", "neg"], None),  # tie
        (["pos", "pos", "neg", "neg", "neutral"], None),
        ({"u1": "neg", "u2": None, "u3": "neg"}, "neg"),  # by annotator, missing skipped
        ([], None),
    ],
)
def test_single_choice_consensus_is_majority(values, expected):
    assert consensus(SENTIMENT, values) == expected


def test_multiple_choice_consensus_keeps_options_most_annotators_chose():
    assert consensus(TOPICS, [["a", "b"], ["b", "c"], ["b"]]) == ["b"]
    assert consensus(TOPICS, [["c", "a"], ["a", "c"], ["a"]]) == ["a", "c"]  # in the field's option order
    assert consensus(TOPICS, [["a"], ["a", "b"]]) is None  # b chosen by exactly half


def test_rating_consensus_is_median_or_mean():
    assert consensus(STARS, [1, 4, 5]) == 4.0
    assert consensus(STARS, [1, 4, 5, 5]) == 4.5
    assert consensus(STARS, [1, 4, 5], method="mean") == pytest.approx(10 / 3, abs=1e-15)


def test_rubric_consensus_is_per_criterion():
    field = {
        "name": "q",
        "type": "rubric",
        "criteria": [{"name": "a", "min": 1, "max": 5}, {"name": "b", "min": 0, "max": 2}],
    }

    assert consensus(field, [{"a": 1, "b": 0}, {"a": 3, "b": 2}, {"a": 5, "b": 2}]) == {"a": 3.0, "b": 2.0}


def test_pairwise_consensus_is_majority_on_preferred():
    field = {"name": "pref", "type": "pairwise"}

    assert consensus(field, [{"preferred": "r1", "strength": 2}, {"preferred": "r1"}, {"preferred": "tie"}]) == {
        "preferred": "r1"
    }
    assert consensus(field, [{"preferred": "r1"}, {"preferred": "r2"}]) is None


def test_ranking_consensus_is_dense_rank_of_mean_ranks():
    field = {"name": "rank", "type": "ranking"}
    rankings = [{"x": 1, "y": 2, "z": 3}, {"x": 2, "y": 1, "z": 3}, {"x": 1, "y": 3, "z": 2}]

    # Mean ranks: x 4/3, y 2, z 8/3.
    assert consensus(field, rankings) == {"x": 1, "y": 2, "z": 3}
    tied = [{"x": 1, "y": 2}, {"x": 2, "y": 1}]
    assert consensus(field, tied) is None
    assert consensus({**field, "allow_ties": True}, tied) == {"x": 1, "y": 1}


def test_consensus_is_not_defined_for_spans_boxes_and_text():
    with pytest.raises(ValueError, match="No consensus is defined for 'spans'"):
        consensus({"name": "ents", "type": "spans"}, [[], []])


def test_nominal_task_agreement_is_share_of_agreeing_pairs():
    assert task_agreement(SENTIMENT, ["pos", "pos", "neg"]) == pytest.approx(1 / 3, abs=1e-15)
    assert task_agreement(SENTIMENT, ["pos", "pos"]) == 1.0
    assert task_agreement(SENTIMENT, {"a": "pos", "b": None}) is None  # fewer than two values
    field = {"name": "pref", "type": "pairwise"}
    assert task_agreement(field, [{"preferred": "r1"}, {"preferred": "r1"}, {"preferred": "tie"}]) == pytest.approx(
        1 / 3, abs=1e-15
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([3, 3, 3], 1.0),
        ([1, 5], 0.0),  # split between both ends: the largest deviation the scale allows
        ([2, 4, 4], 5 / 9),  # mean 10/3, mean |deviation| 8/9, over half the range (2)
        ([4, 5], 0.75),
    ],
)
def test_rating_task_agreement_is_one_minus_normalised_mean_absolute_deviation(values, expected):
    assert task_agreement(STARS, values) == pytest.approx(expected, abs=1e-15)


def test_other_task_agreements_are_mean_pairwise_similarity():
    rubric = {
        "name": "q",
        "type": "rubric",
        "criteria": [{"name": "a", "min": 1, "max": 5}, {"name": "b", "min": 0, "max": 2}],
    }
    spans = {"name": "ents", "type": "spans"}
    entity = {"start": 0, "end": 3, "label": "PER"}

    assert task_agreement(rubric, [{"a": 1, "b": 2}, {"a": 5, "b": 2}]) == 0.5  # criterion a 0, b 1
    assert task_agreement(TOPICS, [["a", "b"], ["b"], ["c"]]) == pytest.approx((1 / 2 + 0 + 0) / 3, abs=1e-15)
    assert task_agreement(spans, [[entity], [entity], []]) == pytest.approx(1 / 3, abs=1e-15)
    assert task_agreement({"name": "r", "type": "ranking"}, [{"x": 1, "y": 2}, {"x": 2, "y": 1}]) == 0.0
    assert task_agreement({"name": "t", "type": "text"}, ["Yes ", "yes", "no"]) == pytest.approx(1 / 3, abs=1e-15)
