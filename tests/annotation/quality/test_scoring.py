"""Gold scoring per field type, Kendall's tau-b, and the annotation-level gold score."""

import math

import pytest
from scipy import stats  # the reference implementation (a dev dependency)

from annotation.quality.scoring import (
    GoldScore,
    box_iou,
    kendall_tau_b,
    match_boxes,
    normalize_text,
    score_against_gold,
    score_boxes,
    score_choices,
    score_field,
    score_pairwise,
    score_ranking,
    score_rating,
    score_rubric,
    score_spans,
    score_text,
)

SINGLE = {"name": "sentiment", "type": "choices", "options": ["pos", "neg", "neutral"]}
MULTI = {"name": "topics", "type": "choices", "options": ["a", "b", "c", "d"], "multiple": True}
STARS = {"name": "stars", "type": "rating", "min": 1, "max": 5}
RUBRIC = {
    "name": "quality",
    "type": "rubric",
    "criteria": [{"name": "accuracy", "min": 1, "max": 5}, {"name": "style", "min": 0, "max": 10}],
}


def box(x, y, width, height, label="car"):
    return {"x": x, "y": y, "width": width, "height": height, "label": label}


def span(start, end, label):
    return {"start": start, "end": end, "label": label}


# --- choices, rating, text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [("pos", 1.0), ("neg", 0.0), (["pos"], 0.0), (None, 0.0)])
def test_single_choice_is_exact_match(value, expected):
    assert score_field(SINGLE, value, "pos") == expected


@pytest.mark.parametrize(
    ("value", "gold", "expected"),
    [
        (["a", "b"], ["b", "c"], 1 / 3),
        (["a", "b"], ["b", "a"], 1.0),
        (["a"], ["a", "b", "c", "d"], 0.25),
        (["a"], ["b"], 0.0),
        ([], ["a"], 0.0),
        ([], [], 1.0),  # empty both: the answer says what the gold says
        ("a", ["a"], 0.0),
    ],
)
def test_multiple_choice_is_jaccard(value, gold, expected):
    assert score_choices(MULTI, value, gold) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(("value", "expected"), [(4, 1.0), (3, 0.75), (2, 0.5), (5, 0.75), (1, 0.25), (True, 0.0)])
def test_rating_is_one_minus_normalised_distance(value, expected):
    assert score_rating(STARS, value, 4) == expected


def test_text_is_exact_after_case_and_whitespace_normalisation():
    assert normalize_text("  Hello\t\n  WORLD ") == "hello world"
    assert score_text("  Hello\t\n  WORLD ", "hello world") == 1.0
    # Composed and decomposed accents are the same text.
    assert score_text("Caf\u00e9", "cafe\u0301") == 1.0
    assert score_text("hello, world", "hello world") == 0.0
    assert score_text(None, "x") == 0.0


# --- spans ---------------------------------------------------------------------------------------------------


def test_spans_partial_overlap_counts_for_nothing_and_f1_follows():
    gold = [span(0, 5, "PER"), span(10, 15, "ORG")]
    value = [span(0, 5, "PER"), span(10, 14, "ORG"), span(20, 25, "LOC")]

    # 1 exact match; precision 1/3, recall 1/2 -> F1 = 2·1 / (3 + 2)
    assert score_spans(value, gold) == pytest.approx(0.4, abs=1e-15)


def test_spans_label_mismatch_is_no_match():
    assert score_spans([span(0, 5, "ORG")], [span(0, 5, "PER")]) == 0.0


@pytest.mark.parametrize(
    ("value", "gold", "expected"),
    [
        ([], [], 1.0),
        ([], [span(0, 1, "X")], 0.0),
        ([span(0, 1, "X")], [], 0.0),
        ([span(3, 9, "X"), span(0, 1, "Y")], [span(0, 1, "Y"), span(3, 9, "X")], 1.0),
    ],
)
def test_spans_edge_cases(value, gold, expected):
    assert score_spans(value, gold) == expected


# --- boxes ---------------------------------------------------------------------------------------------------


def test_box_iou_exact_values():
    assert box_iou(box(0, 0, 10, 10), box(0, 0, 10, 10)) == 1.0
    assert box_iou(box(0, 0, 10, 10), box(5, 0, 10, 10)) == pytest.approx(50 / 150, abs=1e-15)
    assert box_iou(box(0, 0, 10, 10), box(2, 0, 10, 10)) == pytest.approx(80 / 120, abs=1e-15)
    assert box_iou(box(0, 0, 10, 10), box(10, 0, 10, 10)) == 0.0  # touching edges share no area


def test_box_below_threshold_does_not_match():
    assert score_boxes([box(5, 0, 10, 10)], [box(0, 0, 10, 10)]) == 0.0  # IoU 1/3


def test_box_above_threshold_matches():
    assert score_boxes([box(2, 0, 10, 10)], [box(0, 0, 10, 10)]) == 1.0  # IoU 2/3


def test_box_iou_equal_to_threshold_matches_and_threshold_is_configurable():
    predicted, gold = [box(0, 0, 10, 5)], [box(0, 0, 10, 10)]  # IoU exactly 0.5

    assert score_boxes(predicted, gold) == 1.0
    assert score_boxes(predicted, gold, iou_threshold=0.6) == 0.0
    assert score_field({"name": "b", "type": "boxes"}, predicted, gold, iou_threshold=0.6) == 0.0


def test_box_label_mismatch_does_not_match_even_when_identical():
    assert score_boxes([box(0, 0, 10, 10, "truck")], [box(0, 0, 10, 10, "car")]) == 0.0


def test_boxes_are_matched_greedily_by_iou_one_to_one():
    gold = [box(0, 0, 10, 10), box(3, 0, 10, 10)]
    # P1 overlaps G1 (IoU 9/11) and G2 (IoU 2/3); P2 overlaps only G1 (IoU 0.6). Greedy gives G1 to P1, its
    # best pair, and leaves P2 and G2 unmatched (an optimal assignment would have matched both).
    predicted = [box(1, 0, 10, 10), box(0, 0, 10, 6)]

    assert match_boxes(predicted, gold) == [(0, 0, pytest.approx(90 / 110, abs=1e-15))]
    assert score_boxes(predicted, gold) == 0.5  # 2·1 / (2 + 2)


def test_boxes_f1_with_extra_and_missed_boxes():
    gold = [box(0, 0, 10, 10), box(50, 50, 10, 10, "person")]
    predicted = [box(1, 1, 10, 10), box(80, 80, 5, 5), box(50, 50, 10, 10, "car")]

    # One match out of 3 predicted and 2 expected.
    assert score_boxes(predicted, gold) == pytest.approx(2 / 5, abs=1e-15)


@pytest.mark.parametrize(("value", "gold", "expected"), [([], [], 1.0), ([], [box(0, 0, 1, 1)], 0.0)])
def test_boxes_empty_cases(value, gold, expected):
    assert score_boxes(value, gold) == expected


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5])
def test_box_threshold_outside_unit_interval_is_refused(threshold):
    with pytest.raises(ValueError, match="IoU threshold"):
        score_boxes([box(0, 0, 1, 1)], [box(0, 0, 1, 1)], iou_threshold=threshold)


# --- pairwise, ranking, rubric -------------------------------------------------------------------------------


def test_pairwise_is_exact_on_preferred_only():
    assert score_pairwise({"preferred": "a", "strength": 1, "rationale": "x"}, {"preferred": "a", "strength": 3}) == 1
    assert score_pairwise({"preferred": "tie"}, {"preferred": "a"}) == 0.0
    assert score_pairwise({"preferred": "b"}, {"preferred": "a"}) == 0.0
    assert score_pairwise({}, {"preferred": "a"}) == 0.0


def test_kendall_tau_b_without_ties():
    assert kendall_tau_b([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    # Pairs: (1,2) discordant, the other five concordant: (5 - 1) / 6.
    assert kendall_tau_b([1, 2, 3, 4], [2, 1, 3, 4]) == pytest.approx(4 / 6, abs=1e-15)


def test_kendall_tau_b_with_ties_hand_computed():
    # x strict, y ties items 0 and 1: C = 5, D = 0, Tx = 0, Ty = 1 -> 5 / sqrt(6 · 5).
    assert kendall_tau_b([1, 2, 3, 4], [1, 1, 2, 3]) == pytest.approx(5 / math.sqrt(30), abs=1e-15)
    # C = 7, D = 1 (items 0, 1), Tx = 1 (items 1, 2), Ty = 1 (items 2, 3) -> 6 / sqrt(9 · 9).
    assert kendall_tau_b([1, 2, 2, 3, 4], [2, 1, 3, 3, 4]) == pytest.approx(2 / 3, abs=1e-15)
    # C = 1, D = 1, Tx = 2, Ty = 2 -> 0.
    assert kendall_tau_b([1, 1, 2, 2], [1, 2, 1, 2]) == 0.0


def test_kendall_tau_b_is_undefined_when_a_side_is_constant():
    assert kendall_tau_b([1, 1, 1], [1, 2, 3]) is None
    assert kendall_tau_b([1, 2, 3], [2, 2, 2]) is None
    assert kendall_tau_b([1], [1]) is None
    with pytest.raises(ValueError, match="same length"):
        kendall_tau_b([1, 2], [1])


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([1, 2, 3, 4], [1, 1, 2, 3]),
        ([1, 2, 2, 3, 4], [2, 1, 3, 3, 4]),
        ([3, 1, 2, 2, 5, 4, 1], [1, 1, 2, 3, 3, 4, 2]),
        ([1, 2, 3, 4, 5, 6], [6, 4, 5, 1, 2, 3]),
    ],
)
def test_kendall_tau_b_matches_scipy(x, y):
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y, variant="b").statistic, abs=1e-12)


GOLD_RANKING = {"a": 1, "b": 2, "c": 3, "d": 4}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1, "b": 2, "c": 3, "d": 4}, 1.0),
        ({"a": 4, "b": 3, "c": 2, "d": 1}, 0.0),
        ({"a": 2, "b": 1, "c": 3, "d": 4}, (4 / 6 + 1) / 2),
        ({"a": 1, "b": 1, "c": 2, "d": 3}, (5 / math.sqrt(30) + 1) / 2),
        ({"a": 1, "b": 1, "c": 1, "d": 1}, 0.5),  # all tied against a strict order: tau taken as 0
        ({"a": 1, "b": 2, "c": 3}, 0.0),  # a different candidate set cannot be compared
        ({"a": 1, "b": 2, "c": 3, "e": 4}, 0.0),
    ],
)
def test_ranking_is_rescaled_tau_b(value, expected):
    assert score_ranking(value, GOLD_RANKING) == pytest.approx(expected, abs=1e-15)


def test_ranking_all_ties_in_both_is_full_agreement():
    assert score_ranking({"a": 1, "b": 1}, {"a": 1, "b": 1}) == 1.0
    assert score_ranking({"a": 1, "b": 2}, {"a": 1, "b": 1}) == 0.5


def test_rubric_is_mean_of_rating_scores_per_criterion_scale():
    # accuracy 1 - 1/4 = 0.75 on 1..5; style 1 - 5/10 = 0.5 on 0..10.
    assert score_rubric(RUBRIC, {"accuracy": 4, "style": 5}, {"accuracy": 5, "style": 10}) == 0.625
    assert score_rubric(RUBRIC, {"accuracy": 5}, {"accuracy": 5, "style": 10}) == 0.5


# --- the annotation's gold score -----------------------------------------------------------------------------

FIELDS = [SINGLE, STARS, MULTI, {"name": "comment", "type": "text", "required": False}]


def test_gold_score_is_the_mean_over_the_gold_fields():
    gold = {"sentiment": "pos", "stars": 4, "topics": ["a", "b"]}
    result = {"sentiment": "pos", "stars": 2, "topics": ["b", "c"], "comment": "extra, not in the gold"}

    score = score_against_gold(FIELDS, result, gold)

    assert score.overall == pytest.approx((1 + 0.5 + 1 / 3) / 3, abs=1e-15)
    assert score.fields == {"sentiment": 1.0, "stars": 0.5, "topics": pytest.approx(1 / 3, abs=1e-15)}


def test_gold_field_missing_from_the_result_scores_zero():
    score = score_against_gold(FIELDS, {"sentiment": "pos"}, {"sentiment": "pos", "stars": 4})

    assert score.fields == {"sentiment": 1.0, "stars": 0.0}
    assert score.overall == 0.5


def test_empty_gold_has_no_overall_score():
    assert score_against_gold(FIELDS, {"sentiment": "pos"}, {}) == GoldScore(overall=None, fields={})


def test_gold_field_outside_the_schema_is_refused():
    with pytest.raises(ValueError, match="'colour' is not defined"):
        score_against_gold(FIELDS, {}, {"colour": "red"})


def test_unknown_field_type_is_refused():
    with pytest.raises(ValueError, match="unknown type 'audio'"):
        score_field({"name": "x", "type": "audio"}, 1, 1)
