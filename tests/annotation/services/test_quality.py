"""Agreement recomputed from stored annotations: a small hand-worked dataset through the Celery tasks, which
answers count, the adjudication flag, and the coalesced project recompute."""

from typing import Any

import pytest

from annotation.models import ProjectAgreement, ReviewState, TaskAgreement
from annotation.services.quality import (
    annotator_pseudonym,
    current_answers,
    project_agreement_recompute,
    task_agreement_recompute,
)
from tests.annotation.conftest import act_url
from tests.annotation.flows import claim
from tests.annotation.quality_factories import AdjudicationFactory
from tests.factories import AnnotationFactory, MembershipFactory, ProjectFactory, TaskFactory
from workers.tasks import quality_project_agreement, quality_task_agreement

SCHEMA = {
    "fields": [
        {"name": "label", "type": "choices", "options": ["a", "b"]},
        {"name": "stars", "type": "rating", "min": 1, "max": 5},
    ]
}
# Two annotators, three tasks. Worked by hand (Krippendorff 2011, coincidence matrices):
# label, nominal: pairable values a,a | a,b | b,b; o_ab = o_ba = 1 of n = 6; n_a = n_b = 3;
#   D_o = 2/6, D_e = 2·3·3/(6·5) = 3/5, alpha = 1 - (1/3)/(3/5) = 4/9.
#   kappa: observed 2/3, expected (2·1 + 1·2)/9 = 4/9, kappa = (2/3 - 4/9)/(5/9) = 2/5.
# stars, interval: values 4,4 | 2,3 | 5,2; D_o = (2·1² + 2·3²)/6 = 20/6; D_e = (2·6·Σv² - 2(Σv)²)/(6·5) with
#   Σv = 20, Σv² = 74: 88/30; alpha = 1 - (20/6)/(88/30) = -3/22.
# stars, ordinal: n_2 = 2, n_3 = 1, n_4 = 2, n_5 = 1; δ(c,k) = (Σ_{g=c..k} n_g - (n_c + n_k)/2)²:
#   δ(2,3) = 2.25, δ(2,5) = 20.25 → D_o = (2·2.25 + 2·20.25)/6 = 7.5; D_e = 198/30 = 6.6; alpha = 1 - 7.5/6.6 = -3/22.
#   kappa (exact scores): observed 1/3, expected 2/9, kappa = (1/9)/(7/9) = 1/7.
# Per task: label share of agreeing pairs; stars 1 - mean |x - mean| / ((5 - 1)/2).
ANSWERS = {
    "t1": ({"label": "a", "stars": 4}, {"label": "a", "stars": 4}),
    "t2": ({"label": "a", "stars": 2}, {"label": "b", "stars": 3}),
    "t3": ({"label": "b", "stars": 5}, {"label": "b", "stars": 2}),
}


def rounded(value: Any, places: int = 12) -> Any:
    """Floats rounded all through a JSON-like value, so exact fractions compare despite float noise."""
    if isinstance(value, float):
        return round(value, places)
    if isinstance(value, dict):
        return {k: rounded(v, places) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, places) for v in value]
    return value


@pytest.fixture
def dataset(tenant, annotator):
    """The three tasks answered through the API by two annotators, alternating as the router serves them."""
    project = ProjectFactory(label_schema=SCHEMA, overlap=2, agreement_threshold=0.5)
    tasks = {name: TaskFactory(project=project, external_id=name) for name in ANSWERS}
    alice, bob = annotator(), annotator()
    for _ in ANSWERS:
        for index, client in enumerate((alice, bob)):
            lease = claim(client, project)
            result = ANSWERS[lease["task"]["external_id"]][index]
            body = {"lease_token": lease["lease_token"], "result": result}
            assert client.post(act_url(lease, "submit"), body, format="json").status_code == 201
    return project, tasks, alice.membership, bob.membership


def test_task_agreement_through_the_celery_task_with_exact_values(tenant, dataset):
    _, tasks, _, _ = dataset

    for task in tasks.values():
        quality_task_agreement.apply(args=(tenant.pk, task.pk))

    rows = {a.task.external_id: a for a in TaskAgreement.objects.select_related("task")}
    assert rounded({name: rows[name].fields for name in ANSWERS}) == {
        "t1": {"label": 1.0, "stars": 1.0},
        "t2": {"label": 0.0, "stars": 0.75},
        "t3": {"label": 1.0, "stars": 0.25},
    }
    assert {name: rows[name].consensus for name in ANSWERS} == {
        "t1": {"label": "a", "stars": 4.0},
        "t2": {"label": None, "stars": 2.5},  # a tie on the label has no majority
        "t3": {"label": "b", "stars": 3.5},
    }
    assert {name: (rows[name].score, rows[name].needs_adjudication, rows[name].annotations) for name in ANSWERS} == {
        "t1": (1.0, False, 2),
        "t2": (0.0, True, 2),
        "t3": (0.25, True, 2),
    }


def test_project_agreement_with_exact_alpha_and_kappa(tenant, dataset):
    project, tasks, alice, bob = dataset
    for task in tasks.values():
        task_agreement_recompute(task=task)

    assert quality_project_agreement.apply(args=(tenant.pk, project.pk)).get() == 3

    agreement = ProjectAgreement.objects.get(project=project)
    a = annotator_pseudonym(project_uuid=project.uuid, member_uuid=alice.uuid)
    b = annotator_pseudonym(project_uuid=project.uuid, member_uuid=bob.uuid)
    assert agreement.tasks == 3
    assert rounded(agreement.report) == rounded(
        {
            "schema_version": 1,
            "tasks": 3,
            "annotators": sorted([{"id": a, "tasks": 3}, {"id": b, "tasks": 3}], key=lambda r: r["id"]),
            "fields": [
                {
                    "name": "label",
                    "type": "choices",
                    "level": "nominal",
                    "alpha": 4 / 9,
                    "alpha_interval": None,
                    "components": {},
                    "units": 3,
                    "pairs": [
                        {
                            "annotator_a": a,
                            "annotator_b": b,
                            "kappa": 2 / 5,
                            "observed": 2 / 3,
                            "shared_units": 3,
                            "shared_tasks": 3,
                        }
                    ],
                },
                {
                    "name": "stars",
                    "type": "rating",
                    "level": "ordinal",
                    "alpha": -3 / 22,
                    "alpha_interval": -3 / 22,
                    "components": {},
                    "units": 3,
                    "pairs": [
                        {
                            "annotator_a": a,
                            "annotator_b": b,
                            "kappa": 1 / 7,
                            "observed": 1 / 3,
                            "shared_units": 3,
                            "shared_tasks": 3,
                        }
                    ],
                },
            ],
            "adjudication": {"threshold": 0.5, "needed": 2, "done": 0},
        }
    )
    text = str(agreement.report)
    assert str(alice.uuid) not in text
    assert alice.user.email not in text


def test_the_task_recompute_asks_once_for_a_delayed_project_recompute(
    tenant, dataset, django_capture_on_commit_callbacks
):
    project, tasks, _, _ = dataset

    with django_capture_on_commit_callbacks(execute=True) as first:
        quality_task_agreement.apply(args=(tenant.pk, tasks["t1"].pk))
    with django_capture_on_commit_callbacks(execute=True) as later:
        quality_task_agreement.apply(args=(tenant.pk, tasks["t2"].pk))
        quality_task_agreement.apply(args=(tenant.pk, tasks["t3"].pk))

    # One project recompute for the burst (run at once here: the suite's Celery is eager).
    assert (len(first), len(later)) == (1, 0)
    agreement = ProjectAgreement.objects.get(project=project)
    assert agreement.tasks == 3


def test_a_missing_task_or_project_is_a_no_op(tenant, dataset):

    assert quality_task_agreement.apply(args=(tenant.pk, 10**9)).get() is None
    assert quality_project_agreement.apply(args=(tenant.pk, 10**9)).get() == 0
    assert TaskAgreement.objects.count() == 0


# --- which answers count ------------------------------------------------------------------------------------------


@pytest.fixture
def two_answers(tenant):
    project = ProjectFactory(label_schema=SCHEMA, overlap=2, agreement_threshold=0.5, review_mode="all")
    task = TaskFactory(project=project)
    alice, bob = MembershipFactory(), MembershipFactory()
    first = AnnotationFactory(
        project=project, task=task, annotator=alice, result={"label": "a", "stars": 1}, review_state="pending"
    )
    second = AnnotationFactory(
        project=project, task=task, annotator=bob, result={"label": "b", "stars": 5}, review_state="pending"
    )
    return project, task, first, second


def test_a_correction_replaces_its_annotators_answer(tenant, two_answers):
    project, task, first, second = two_answers
    correction = AnnotationFactory(
        project=project,
        task=task,
        annotator=MembershipFactory(role="reviewer"),
        result={"label": "b", "stars": 5},
        version=2,
        supersedes=first,
    )

    answers = current_answers([first, second, correction], schema_version=1)
    agreement = task_agreement_recompute(task=task)

    assert [(a.owner_id, a.annotation.pk) for a in answers] == [
        (first.annotator_id, correction.pk),
        (second.annotator_id, second.pk),
    ]
    assert (agreement.annotations, agreement.fields, agreement.score) == (2, {"label": 1.0, "stars": 1.0}, 1.0)
    assert agreement.consensus == {"label": "b", "stars": 5.0}
    assert agreement.needs_adjudication is False


def test_a_rejected_answer_does_not_count_until_it_is_redone(tenant, two_answers):
    _, task, first, _ = two_answers
    before = task_agreement_recompute(task=task)
    assert (before.annotations, before.needs_adjudication) == (2, True)
    first.review_state = ReviewState.REJECTED
    first.save()

    after = task_agreement_recompute(task=task)

    assert (after.annotations, after.fields, after.score, after.needs_adjudication) == (
        1,
        {"label": None, "stars": None},
        None,
        False,
    )
    assert after.consensus == {"label": "b", "stars": 5.0}


def test_answers_under_an_older_schema_version_are_not_compared(tenant, two_answers):
    project, task, first, _ = two_answers
    project.schema_version = 2
    project.save()
    first.schema_version = 2
    first.save()

    agreement = task_agreement_recompute(task=task)

    assert agreement.annotations == 1
    assert agreement.needs_adjudication is False


def test_an_adjudicated_task_is_not_flagged_again(tenant, two_answers):
    project, task, _, _ = two_answers
    AdjudicationFactory(project=project, task=task, result={"label": "a", "stars": 3})

    agreement = task_agreement_recompute(task=task)

    assert (agreement.score, agreement.needs_adjudication) == (0.0, False)


def test_recomputing_updates_the_same_row(tenant, two_answers):
    _, task, _, _ = two_answers
    first = task_agreement_recompute(task=task)

    second = task_agreement_recompute(task=task)

    assert second.pk == first.pk
    assert TaskAgreement.objects.count() == 1
    assert second.computed_at >= first.computed_at


SPAN_SCHEMA = {
    "fields": [
        {"name": "entities", "type": "spans", "source": "text", "labels": ["PER"]},
        {"name": "summary", "type": "text", "required": False},
    ]
}


def test_spans_and_text_are_scored_but_have_no_consensus(tenant):
    project = ProjectFactory(label_schema=SPAN_SCHEMA, overlap=2)
    task = TaskFactory(project=project, data={"text": "Alice met Bob."})
    for spans, summary in (([{"start": 0, "end": 5, "label": "PER"}], "Two people"), ([], "two  PEOPLE")):
        AnnotationFactory(project=project, task=task, result={"entities": spans, "summary": summary})

    agreement = task_agreement_recompute(task=task)

    assert agreement.fields == {"entities": 0.0, "summary": 1.0}
    assert agreement.consensus == {"entities": None, "summary": None}
    assert (agreement.score, agreement.needs_adjudication) == (0.0, True)


def test_pseudonyms_are_stable_within_a_project_and_differ_across_projects(tenant):
    member = MembershipFactory()
    one, two = ProjectFactory(), ProjectFactory()

    first = annotator_pseudonym(project_uuid=one.uuid, member_uuid=member.uuid)

    assert first == annotator_pseudonym(project_uuid=one.uuid, member_uuid=member.uuid)
    assert first != annotator_pseudonym(project_uuid=two.uuid, member_uuid=member.uuid)
    assert first.startswith("anon-")
    assert len(first) == len("anon-") + 12
    assert str(member.uuid) not in first


def test_a_project_without_overlapping_answers_has_an_empty_report(tenant):
    project = ProjectFactory(label_schema=SCHEMA, overlap=2)
    AnnotationFactory(project=project, result={"label": "a", "stars": 2})

    agreement = project_agreement_recompute(project=project)

    assert agreement.tasks == 0
    assert [(f["name"], f["alpha"], f["units"], f["pairs"]) for f in agreement.report["fields"]] == [
        ("label", None, 0, []),
        ("stars", None, 0, []),
    ]
    assert agreement.report["annotators"] == []


def test_a_chat_field_takes_no_part_in_agreement(tenant, dataset):
    # Given the project gains a chat field (each annotator's conversation is their own: nothing to agree on)
    project, tasks, _, _ = dataset
    chat = {"name": "conversation", "type": "chat", "connections": ["Lab model"]}
    type(project).objects.filter(pk=project.pk).update(label_schema={"fields": [*SCHEMA["fields"], chat]})
    project.refresh_from_db()

    # When agreement is recomputed for a task and for the project
    task_agreement_recompute(task=tasks["t1"])
    project_agreement_recompute(project=project)

    # Then the chat field is in neither, and the other fields are scored as before
    assert TaskAgreement.objects.get(task=tasks["t1"]).fields == {"label": 1.0, "stars": 1.0}
    assert [f["name"] for f in ProjectAgreement.objects.get(project=project).report["fields"]] == ["label", "stars"]
