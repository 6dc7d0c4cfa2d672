"""The quality endpoints end to end: a task's annotation history (every annotation type round-trips), the
agreement report, the adjudication queue and adjudication, gold accuracy by day; roles, bad input, query counts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Adjudication, Annotation, AnnotatorProgress, TaskAgreement
from annotation.services.quality import annotator_pseudonym, project_agreement_recompute, task_agreement_recompute
from audit.models import AuditEvent
from tenancy.models import Role
from tests.annotation.conftest import CHOICE_SCHEMA
from tests.annotation.flows import annotation_of, label, queue, review
from tests.annotation.flows import reviewer as reviewer  # a fixture: pytest finds it by this name
from tests.factories import AnnotationFactory, MembershipFactory, ProjectFactory, TaskFactory
from tests.schemas import ALL_TYPES_DATA, ALL_TYPES_RESULT, ALL_TYPES_SCHEMA


def history(client, task):
    return client.get(f"/api/v1/tasks/{task.uuid}/annotations/")


def adjudication_list(client, project):
    return client.get(f"/api/v1/projects/{project.uuid}/adjudication/")


def adjudicate(client, task, body):
    return client.post(f"/api/v1/tasks/{task.uuid}/adjudicate", body, format="json")


# --- a task's annotations -----------------------------------------------------------------------------------------


def test_every_annotation_type_round_trips_through_submit_review_and_history(tenant, annotator, reviewer):
    project = ProjectFactory(label_schema=ALL_TYPES_SCHEMA, overlap=1, review_mode="all")
    task = TaskFactory(project=project, data=ALL_TYPES_DATA)
    alice, rita = annotator(), reviewer()
    submitted = label(alice, project, ALL_TYPES_RESULT)
    corrected_result = {
        **ALL_TYPES_RESULT,
        "sentiment": "mixed",
        "topics": [],
        "entities": [{"start": 30, "end": 35, "label": "LOC"}],
        "objects": [],
        "preference": {"preferred": "tie", "rationale": ""},
        "order": {"r3": 1, "r1": 2, "r2": 3},
        "quality": {"accuracy": 1, "Tone & style": 3},
    }
    assert (
        review(rita, submitted["id"], "correct", comment="Paris is a place.", result=corrected_result).status_code
        == 201
    )

    response = history(rita, task)

    assert response.status_code == 200
    [original, correction] = response.json()["results"]
    assert original["result"] == ALL_TYPES_RESULT
    assert correction["result"] == corrected_result
    assert (original["version"], original["kind"], original["review_state"]) == (1, "submission", "corrected")
    assert (correction["version"], correction["kind"], correction["review_state"]) == (2, "correction", "accepted")
    assert correction["supersedes"] == original["id"]
    assert original["annotator"]["email"] == alice.membership.user.email
    assert correction["annotator"]["email"] == rita.membership.user.email
    [decision] = original["reviews"]
    assert (decision["decision"], decision["comment"], decision["level"]) == ("correct", "Paris is a place.", 1)
    assert decision["correction"] == correction["id"]
    assert decision["reviewer"]["id"] == str(rita.membership.uuid)
    assert correction["reviews"] == []
    assert Annotation.objects.get(uuid=original["id"]).result == ALL_TYPES_RESULT
    viewed = AuditEvent.objects.get(action="data_access.annotation_list")
    assert viewed.target_id == str(task.uuid)


def test_history_on_a_blind_project_names_people_by_pseudonym(tenant, annotator, reviewer):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1, review_mode="all", blind=True)
    task = TaskFactory(project=project)
    alice, rita, manager = annotator(), reviewer(), reviewer(Role.MANAGER)
    submitted = label(alice, project, {"sentiment": "negative"})
    review(rita, submitted["id"], "reject", comment="It is positive.")

    response = history(manager, task)

    [item] = response.json()["results"]
    assert item["annotator"] == {
        "pseudonym": annotator_pseudonym(project_uuid=project.uuid, member_uuid=alice.membership.uuid),
        "id": None,
        "email": None,
    }
    assert item["reviews"][0]["reviewer"]["email"] is None
    text = response.content.decode()
    assert alice.membership.user.email not in text
    assert rita.membership.user.email not in text


def test_history_is_for_reviewers_and_up_within_the_tenant(tenant, other_tenant, annotator, api_as):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1)
    task = TaskFactory(project=project)
    alice = annotator()
    label(alice, project, {"sentiment": "positive"})

    assert history(alice, task).status_code == 403
    assert history(api_as(other_tenant, Role.OWNER), task).json()["code"] == "not_found"
    assert history(api_as(tenant, Role.REVIEWER), task).status_code == 200


# --- agreement report ---------------------------------------------------------------------------------------------


def test_the_agreement_report_is_served_to_managers_with_its_time(tenant, reviewer):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=2)
    manager = reviewer(Role.MANAGER)
    url = f"/api/v1/projects/{project.uuid}/agreement"

    empty = manager.get(url)
    assert empty.json() == {"project": str(project.uuid), "tasks": 0, "computed_at": None, "report": {}}

    task = TaskFactory(project=project)
    for value in ("positive", "negative"):
        AnnotationFactory(project=project, task=task, result={"sentiment": value})
    task_agreement_recompute(task=task)
    agreement = project_agreement_recompute(project=project)

    body = manager.get(url).json()
    assert body["tasks"] == 1
    assert body["computed_at"] == agreement.computed_at.isoformat().replace("+00:00", "Z")
    assert body["report"] == agreement.report
    assert body["report"]["adjudication"] == {"threshold": 0.5, "needed": 1, "done": 0}
    refused = reviewer().get(url)
    assert (refused.status_code, refused.json()["detail"]) == (403, "This action needs the manager role or higher.")


# --- adjudication -------------------------------------------------------------------------------------------------


@pytest.fixture
def disputed(tenant):
    """Two disputed tasks (one worse than the other) and one the annotators agree on."""
    project = ProjectFactory(label_schema={"fields": ALL_TYPES_SCHEMA["fields"][:3]}, overlap=3)
    alice, bob, carol = MembershipFactory(), MembershipFactory(), MembershipFactory()
    votes = {
        "worst": ("pos", "neg", "mixed"),  # every pair disagrees: 0
        "split": ("pos", "pos", "neg"),  # one pair of three agrees: 1/3
        "agreed": ("pos", "pos", "pos"),
    }
    tasks = {}
    for name, labels in votes.items():
        tasks[name] = TaskFactory(project=project, external_id=name)
        for member, value in zip((alice, bob, carol), labels, strict=True):
            AnnotationFactory(
                project=project, task=tasks[name], annotator=member, result={"sentiment": value, "score": 3}
            )
    for name in ("agreed", "split", "worst"):
        task_agreement_recompute(task=tasks[name])
    return project, tasks, (alice, bob, carol)


def test_the_adjudication_queue_lists_disputed_tasks_lowest_agreement_first(tenant, disputed, reviewer):
    project, tasks, (alice, _, _) = disputed

    response = adjudication_list(reviewer(), project)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["task"]["external_id"] for r in results] == ["worst", "split"]
    worst, split = results
    assert (worst["score"], worst["fields"], worst["consensus"]) == (
        0.0,
        {"sentiment": 0.0, "topics": None, "score": 1.0},
        {"sentiment": None, "topics": None, "score": 3.0},
    )
    assert split["score"] == pytest.approx(1 / 3)
    assert split["consensus"]["sentiment"] == "pos"
    assert split["task"]["data"] == tasks["split"].data
    assert [a["result"]["sentiment"] for a in split["annotations"]] == ["pos", "pos", "neg"]
    assert split["annotations"][0]["annotator"]["id"] == str(alice.uuid)
    served = AuditEvent.objects.get(action="data_access.adjudication_queue")
    assert served.metadata["task_ids"] == [str(tasks["worst"].uuid), str(tasks["split"].uuid)]


def test_adjudication_settles_the_task_and_takes_it_off_the_queue(tenant, disputed, reviewer):
    project, tasks, _ = disputed
    manager = reviewer(Role.MANAGER)

    response = adjudicate(
        manager, tasks["worst"], {"result": {"sentiment": "mixed", "score": 3}, "rationale": "Both sides hold."}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    adjudication = Adjudication.objects.get()
    assert body["id"] == str(adjudication.uuid)
    assert (body["task"], body["result"], body["rationale"], body["schema_version"]) == (
        str(tasks["worst"].uuid),
        {"sentiment": "mixed", "score": 3},
        "Both sides hold.",
        1,
    )
    assert body["adjudicator"]["id"] == str(manager.membership.uuid)
    assert adjudication.adjudicator_id == manager.membership.pk
    assert TaskAgreement.objects.get(task=tasks["worst"]).needs_adjudication is False
    assert [r["task"]["external_id"] for r in adjudication_list(manager, project).json()["results"]] == ["split"]
    event = AuditEvent.objects.get(action="review.adjudicate")
    assert (event.target_id, event.metadata["adjudication"], event.metadata["agreement"]) == (
        str(tasks["worst"].uuid),
        str(adjudication.uuid),
        0.0,
    )
    # A later recompute does not put it back.
    assert task_agreement_recompute(task=tasks["worst"]).needs_adjudication is False

    again = adjudicate(manager, tasks["worst"], {"result": {"sentiment": "pos", "score": 3}, "rationale": "No."})
    assert (again.status_code, again.json()["detail"]) == (409, "This task was already adjudicated.")
    assert Adjudication.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"result": {"sentiment": "maybe", "score": 3}, "rationale": "x"}, [("result.sentiment", "invalid_choice")]),
        ({"result": {"sentiment": "pos", "score": 3}, "rationale": ""}, [("rationale", "blank")]),
        ({"result": {"sentiment": "pos", "score": 3}, "rationale": "   "}, [("rationale", "required")]),
        ({"result": {"sentiment": "pos", "score": 3}}, [("rationale", "required")]),
        ({"rationale": "x"}, [("result", "required")]),
        ({"result": "pos", "rationale": "x"}, [("result", "invalid_type")]),
        ({"result": {"sentiment": "pos", "score": 3}, "rationale": "x", "task": "y"}, [("task", "unknown_field")]),
    ],
)
def test_bad_adjudication_input_is_400_naming_the_field(tenant, disputed, reviewer, body, errors):
    _, tasks, _ = disputed

    response = adjudicate(reviewer(Role.MANAGER), tasks["worst"], body)

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == errors
    assert Adjudication.objects.count() == 0
    assert TaskAgreement.objects.get(task=tasks["worst"]).needs_adjudication is True


def test_who_may_adjudicate(tenant, disputed, annotator, reviewer):
    project, tasks, _ = disputed
    body = {"result": {"sentiment": "pos", "score": 3}, "rationale": "Majority of experts."}

    refused = adjudicate(annotator(), tasks["worst"], body)
    assert (refused.status_code, refused.json()["detail"]) == (403, "This action needs the reviewer role or higher.")
    assert adjudication_list(annotator(), project).status_code == 403

    # A reviewer who annotated the task took a side.
    rita = reviewer()
    AnnotationFactory(
        project=project, task=tasks["worst"], annotator=rita.membership, result={"sentiment": "pos", "score": 3}
    )
    own = adjudicate(rita, tasks["worst"], body)
    assert (own.status_code, own.json()["detail"]) == (403, "You annotated this task; someone else must adjudicate it.")

    assert adjudicate(reviewer(), tasks["worst"], body).status_code == 201


# --- gold accuracy ------------------------------------------------------------------------------------------------


def test_gold_accuracy_by_day_with_the_pause(tenant, annotator, reviewer, settings):
    settings.ANNOTATION_GOLD_MIN_SAMPLES = 2
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1, gold_rate=1.0, gold_min_accuracy=0.75)
    for _ in range(3):
        TaskFactory(project=project, is_gold=True, gold_answer={"sentiment": "positive"})
    alice, bob = annotator(), annotator()
    first = label(alice, project, {"sentiment": "positive"})
    label(alice, project, {"sentiment": "negative"})  # 1 of 2: below 75 %, paused
    label(bob, project, {"sentiment": "positive"})
    yesterday = timezone.now() - timedelta(days=1)
    Annotation.objects.filter(uuid=first["id"]).update(created_at=yesterday)
    manager = reviewer(Role.MANAGER)

    response = manager.get(f"/api/v1/projects/{project.uuid}/gold-accuracy")

    assert response.status_code == 200
    body = response.json()
    assert body["project"] == str(project.uuid)
    by_member = {row["annotator"]["id"]: row for row in body["annotators"]}
    alice_row = by_member[str(alice.membership.uuid)]
    assert alice_row["by_day"] == [
        {"day": yesterday.date().isoformat(), "scored": 1, "accuracy": 1.0},
        {"day": timezone.now().date().isoformat(), "scored": 1, "accuracy": 0.0},
    ]
    assert (alice_row["gold_scored"], alice_row["accuracy"], alice_row["paused"]) == (2, 0.5, True)
    assert alice_row["paused_reason"] == "Gold accuracy 50% over 2 gold tasks is below the project's 75%."
    assert alice_row["annotator"]["email"] == alice.membership.user.email
    bob_row = by_member[str(bob.membership.uuid)]
    assert (bob_row["gold_scored"], bob_row["accuracy"], bob_row["paused"], bob_row["paused_at"]) == (
        1,
        1.0,
        False,
        None,
    )
    assert bob_row["by_day"] == [{"day": timezone.now().date().isoformat(), "scored": 1, "accuracy": 1.0}]
    assert AnnotatorProgress.objects.get(annotator=alice.membership).paused_at is not None

    # One day back leaves yesterday out.
    today_only = manager.get(f"/api/v1/projects/{project.uuid}/gold-accuracy", {"days": 1}).json()
    assert [len(r["by_day"]) for r in today_only["annotators"]] == [1, 1]


@pytest.mark.parametrize("days", ["0", "367", "week", "-3"])
def test_a_bad_gold_window_is_400_naming_days(tenant, reviewer, days):
    project = ProjectFactory()

    response = reviewer(Role.MANAGER).get(f"/api/v1/projects/{project.uuid}/gold-accuracy", {"days": days})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["days"]


# --- gold answers in the review queue --------------------------------------------------------------------------


def test_the_review_queue_shows_a_gold_answer_only_to_a_reviewer_who_never_annotated_in_the_project(
    tenant, annotator, reviewer
):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1, review_mode="all")
    gold_task = TaskFactory(project=project, is_gold=True, gold_answer={"sentiment": "positive"})
    plain_task = TaskFactory(project=project)
    alice = annotator().membership
    on_gold, on_plain = (
        AnnotationFactory(
            project=project,
            task=t,
            annotator=alice,
            result={"sentiment": "negative"},
            review_state="pending",
            review_level=1,
        )
        for t in (gold_task, plain_task)
    )
    rita, ria = reviewer(), reviewer()
    TaskFactory(project=project)
    label(ria, project, {"sentiment": "negative"})  # ria has worked in this project as an annotator

    seen_by_rita = {item["id"]: item["gold_answer"] for item in queue(rita, project).json()["results"]}
    seen_by_ria = {item["id"]: item["gold_answer"] for item in queue(ria, project).json()["results"]}

    assert seen_by_rita[str(on_gold.uuid)] == {"sentiment": "positive"}
    assert seen_by_rita[str(on_plain.uuid)] is None
    assert seen_by_ria == {str(on_gold.uuid): None, str(on_plain.uuid): None}
    shown = [e.metadata["gold_answers_shown"] for e in AuditEvent.objects.filter(action="data_access.review_queue")]
    assert sorted(shown) == [0, 1]


def test_a_correction_keeps_gold_answers_in_view_and_an_answer_of_ones_own_hides_them(tenant, annotator, reviewer):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1, review_mode="all")
    gold_task = TaskFactory(project=project, is_gold=True, gold_answer={"sentiment": "positive"})
    alice = annotator()
    AnnotationFactory(
        project=project, task=gold_task, annotator=alice.membership, review_state="pending", review_level=1
    )
    TaskFactory(project=project)
    plain = label(alice, project, {"sentiment": "positive"})
    rita, rob = reviewer(), reviewer()
    assert review(rita, plain["id"], "correct", result={"sentiment": "negative"}).status_code == 201
    # An answer recorded without a lease (an import) is the member's own work all the same.
    AnnotationFactory(project=project, task=TaskFactory(project=project), annotator=rob.membership)

    [for_rita] = queue(rita, project).json()["results"]
    [for_rob] = queue(rob, project).json()["results"]

    assert for_rita["gold_answer"] == {"sentiment": "positive"}
    assert (for_rob["id"], for_rob["gold_answer"]) == (for_rita["id"], None)


# --- query counts -------------------------------------------------------------------------------------------------


# The fixed cost of a request (see tests/test_query_counts.py), then: the project (the task, with its project, for
# the history), the conflict-of-interest check, the page, one query per prefetch (reviews; the tasks' annotations)
# and the data_access event. None depends on the number of rows.
REVIEW_QUEUE = 10
TASK_ANNOTATIONS = 11
ADJUDICATION_LIST = 11


@pytest.mark.parametrize("rows", [1, 6])
def test_list_endpoints_cost_the_same_at_any_size(tenant, reviewer, django_assert_num_queries, rows):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=2, review_mode="all")
    manager = reviewer(Role.MANAGER)
    assert manager.get("/api/v1/me").status_code == 200  # the token's first use writes its last_used_at
    tasks = TaskFactory.create_batch(rows, project=project)
    for task in tasks:
        for value in ("positive", "negative"):
            AnnotationFactory(
                project=project, task=task, result={"sentiment": value}, review_state="pending", review_level=1
            )
        task_agreement_recompute(task=task)
    first = Annotation.objects.filter(task=tasks[0]).order_by("id").first()
    review_row = review(reviewer(), str(first.uuid), "accept")
    assert review_row.status_code == 201

    with django_assert_num_queries(REVIEW_QUEUE):
        queue = manager.get(f"/api/v1/projects/{project.uuid}/reviews/queue")
    with django_assert_num_queries(TASK_ANNOTATIONS):
        listed = history(manager, tasks[0])
    with django_assert_num_queries(ADJUDICATION_LIST):
        disputed = adjudication_list(manager, project)

    assert len(queue.json()["results"]) == 2 * rows - 1
    assert len(listed.json()["results"]) == 2
    assert len(disputed.json()["results"]) == rows


def test_reviewed_annotation_body_is_the_stored_row(tenant, annotator, reviewer):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1, review_mode="all")
    TaskFactory(project=project)
    submitted = label(annotator(), project, {"sentiment": "positive"})

    body = review(reviewer(), submitted["id"], "accept").json()

    stored = annotation_of(submitted)
    assert body["annotation"] == {
        "id": str(stored.uuid),
        "version": 1,
        "annotator": body["annotation"]["annotator"],
        "result": {"sentiment": "positive"},
        "review_state": "accepted",
        "review_level": 1,
        "created_at": stored.created_at.isoformat().replace("+00:00", "Z"),
    }
