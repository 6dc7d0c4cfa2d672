"""annotation.selectors.judge: the judge against the experts, on small cases worked out by hand.

Four tasks, three experts, a two-option field: two split 2-1, two unanimous. Experts alone: coincidences
o_aa = o_bb = 4, o_ab = o_ba = 2 over n = 12 values, so alpha = 1 - (4/12) / (2*6*6 / (12*11)) = 7/18.
A judge giving the majority on every task: o_aa = o_bb = 6, o_ab = o_ba = 2, n = 16, alpha = 1 - (4/16) / (8/15)
= 17/32; against the majority it is right 4 times in 4 with both categories at one half, kappa = 1.
A judge giving the minority (the other option on the unanimous ones): o_aa = o_bb = 10/3, o_ab = o_ba = 14/3,
alpha = 1 - (28/48) / (8/15) = -3/32; kappa = (0 - 1/2) / (1 - 1/2) = -1.
"""

from typing import Any

import pytest

from annotation.selectors.judge import judge_agreement
from tests.annotation.quality_factories import AdjudicationFactory
from tests.factories import AnnotationFactory, MembershipFactory, ProjectFactory, TaskFactory
from tests.llm.judge_support import JudgeRunFactory, JudgeVerdictFactory

SCHEMA = {
    "fields": [
        {"name": "sentiment", "type": "choices", "options": ["positive", "negative"]},
        {"name": "note", "type": "text", "required": False},
    ]
}
P, N = "positive", "negative"
EXPERT_VOTES = [(P, P, N), (N, N, P), (P, P, P), (N, N, N)]
MAJORITY = [P, N, P, N]
MINORITY = [N, P, N, P]


def experts_answered(project: Any, votes: list[tuple[str, ...]]) -> list[Any]:
    experts = [MembershipFactory() for _ in range(max(len(v) for v in votes))]
    tasks = []
    for task_votes in votes:
        task = TaskFactory(project=project, done=len(task_votes), taken=len(task_votes), overlap=len(task_votes))
        for expert, vote in zip(experts, task_votes, strict=False):
            AnnotationFactory(project=project, task=task, annotator=expert, result={"sentiment": vote})
        tasks.append(task)
    return tasks


def judged(project: Any, tasks: list[Any], answers: list[str], fields: tuple[str, ...] = ("sentiment",)) -> Any:
    run = JudgeRunFactory(project=project, fields=list(fields))
    for task, answer in zip(tasks, answers, strict=True):
        JudgeVerdictFactory(run=run, task=task, result={"sentiment": answer})
    return run


@pytest.fixture
def project(tenant: Any) -> Any:
    return ProjectFactory(label_schema=SCHEMA)


def test_a_judge_that_gives_the_majority_agrees_about_as_well_as_the_experts(project):
    tasks = experts_answered(project, EXPERT_VOTES)
    run = judged(project, tasks, MAJORITY)

    (row,) = judge_agreement(project=project, run=run).fields

    assert (row.name, row.type, row.items, row.settled_units) == ("sentiment", "choices", 4, 4)
    assert row.experts_alpha == pytest.approx(7 / 18, abs=1e-12)
    assert row.judge_alpha == pytest.approx(17 / 32, abs=1e-12)
    assert (row.kappa, row.agreement) == (1.0, 1.0)
    assert row.reading == "The judge agrees with the experts about as well as experts agree with each other."


def test_a_judge_that_gives_the_minority_agrees_far_less(project):
    tasks = experts_answered(project, EXPERT_VOTES)
    run = judged(project, tasks, MINORITY)

    (row,) = judge_agreement(project=project, run=run).fields

    assert row.experts_alpha == pytest.approx(7 / 18, abs=1e-12)
    assert row.judge_alpha == pytest.approx(-3 / 32, abs=1e-12)
    assert (row.kappa, row.agreement, row.items) == (-1.0, 0.0, 4)
    assert row.reading == "The judge agrees with the experts far less than experts agree with each other."


def test_an_adjudication_settles_a_tie_that_the_majority_leaves_open(project):
    tasks = experts_answered(project, [(P, N), (N, N)])
    run = judged(project, tasks, [P, N])

    open_tie = judge_agreement(project=project, run=run).fields[0]
    AdjudicationFactory(project=project, task=tasks[0], result={"sentiment": P}, schema_version=1)
    settled = judge_agreement(project=project, run=run).fields[0]

    # One settled unit where both said "negative": no variation, so kappa is undefined rather than 1.
    assert (open_tie.settled_units, open_tie.kappa, open_tie.agreement) == (1, None, 1.0)
    assert (settled.settled_units, settled.kappa, settled.agreement) == (2, 1.0, 1.0)


def test_invalid_verdicts_and_tasks_without_expert_answers_are_left_out(project):
    tasks = experts_answered(project, EXPERT_VOTES)
    run = judged(project, tasks, MAJORITY)
    JudgeVerdictFactory(run=run, task=TaskFactory(project=project), result={"sentiment": P})
    JudgeVerdictFactory(run=run, task=experts_answered(project, [(P, N)])[0], result={"sentiment": "meh"}, valid=False)

    agreement = judge_agreement(project=project, run=run)

    assert agreement.verdicts == 5
    assert (agreement.fields[0].items, agreement.fields[0].settled_units) == (4, 4)
    assert agreement.fields[0].kappa == 1.0


def test_free_text_gets_counts_but_no_coefficient(project):
    tasks = experts_answered(project, [(P, N)])
    AnnotationFactory(project=project, task=tasks[0], result={"sentiment": P, "note": "fine"})
    run = JudgeRunFactory(project=project, fields=["sentiment", "note"])
    JudgeVerdictFactory(run=run, task=tasks[0], result={"sentiment": P, "note": "good"})

    sentiment, note = judge_agreement(project=project, run=run).fields

    assert (note.name, note.items, note.judge_alpha, note.experts_alpha, note.kappa) == ("note", 1, None, None, None)
    assert note.reading == "Free text: compare the answers themselves; no coefficient applies."
    assert sentiment.items == 1


def test_with_one_expert_per_task_the_judge_is_measured_and_the_reading_says_the_experts_cannot_be(project):
    # Judge against one expert on four tasks, agreeing on three: coincidences o_PP = 2, o_NN = 4, o_PN = o_NP = 1
    # over n = 8 values (n_P = 3, n_N = 5), so alpha = 1 - (2/8) / (2*3*5 / (8*7)) = 1 - 7/15 = 8/15.
    tasks = experts_answered(project, [(P,), (N,), (N,), (P,)])
    run = judged(project, tasks, [P, N, N, N])

    (row,) = judge_agreement(project=project, run=run).fields

    assert row.experts_alpha is None
    assert row.judge_alpha == pytest.approx(8 / 15, abs=1e-12)
    # kappa against the single answers: observed 3/4, expected (1/4*2/4 + 3/4*2/4) = 1/2, so (3/4 - 1/2) / (1/2).
    assert (row.kappa, row.agreement, row.settled_units) == (0.5, 0.75, 4)
    assert row.reading == "The experts' own agreement cannot be measured here; the judge's alpha with them is 0.53."
