"""Review through the API: accept, reject (back to the annotator or to the pool), correct; two levels; who may
decide; the queue; and the task counters after every decision."""

import pytest

from annotation.models import (
    Annotation,
    AnnotatorProgress,
    Assignment,
    AssignmentSource,
    AssignmentState,
    Review,
    ReviewState,
    TaskAgreement,
)
from annotation.services.quality import annotator_pseudonym
from annotation.services.review import annotation_review
from audit.models import AuditEvent
from core.errors import Conflict, NotAllowed
from tenancy.models import Role
from tests.annotation.conftest import CHOICE_SCHEMA, next_url
from tests.annotation.flows import annotation_of, claim, counters, label, queue, review
from tests.annotation.flows import reviewer as reviewer  # a fixture: pytest finds it by this name
from tests.annotation.quality_factories import ReviewFactory
from tests.factories import AnnotationFactory, ConflictExclusionFactory, ProjectFactory, TaskFactory

POSITIVE = {"sentiment": "positive"}
NEGATIVE = {"sentiment": "negative"}


def reviewed_project(**fields):
    return ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1, review_mode="all", **fields)


def review_events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- accept ---------------------------------------------------------------------------------------------------


def test_accept_at_a_single_level_settles_the_annotation(tenant, annotator, reviewer):
    project = reviewed_project()
    task = TaskFactory(project=project)
    alice, rita = annotator(), reviewer()
    submitted = label(alice, project, POSITIVE)
    assert (annotation_of(submitted).review_state, annotation_of(submitted).review_level) == ("pending", 1)

    response = review(rita, submitted["id"], "accept")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["review"]["decision"] == "accept"
    assert body["review"]["level"] == 1
    assert body["annotation"]["review_state"] == "accepted"
    assert body["correction"] is None
    assert body["assignment_state"] == "submitted"
    annotation = annotation_of(submitted)
    assert (annotation.review_state, annotation.review_level) == ("accepted", 1)
    assert list(Review.objects.values_list("annotation_id", "reviewer_id", "level", "decision")) == [
        (annotation.pk, rita.membership.pk, 1, "accept")
    ]
    assert counters(task) == (1, 1)
    [event] = review_events("review.accept")
    assert event.target_id == submitted["id"]
    assert event.actor_user_id == rita.membership.user_id
    assert event.metadata["level"] == 1
    assert event.metadata["review_state"] == "accepted"


def test_two_levels_need_two_different_reviewers(tenant, annotator, reviewer):
    project = reviewed_project(review_levels=2)
    task = TaskFactory(project=project)
    alice, first, second = annotator(), reviewer(), reviewer()
    submitted = label(alice, project, POSITIVE)

    assert review(first, submitted["id"], "accept").status_code == 201
    annotation = annotation_of(submitted)
    assert (annotation.review_state, annotation.review_level) == ("pending", 2)
    assert counters(task) == (1, 1)
    # The first-level reviewer does not see it at the second level, and may not decide it there.
    assert queue(first, project, 2).json()["results"] == []
    again = review(first, submitted["id"], "accept")
    assert again.status_code == 403
    assert again.json()["detail"] == (
        "You reviewed this annotation at the first level; the second level is someone else's."
    )
    assert [a["id"] for a in queue(second, project, 2).json()["results"]] == [submitted["id"]]
    assert queue(second, project, 1).json()["results"] == []

    response = review(second, submitted["id"], "accept")

    assert response.status_code == 201
    assert response.json()["review"]["level"] == 2
    annotation = annotation_of(submitted)
    assert (annotation.review_state, annotation.review_level) == ("accepted", 2)
    assert list(Review.objects.order_by("level").values_list("level", "reviewer_id")) == [
        (1, first.membership.pk),
        (2, second.membership.pk),
    ]
    assert counters(task) == (1, 1)


def test_a_second_decision_on_the_same_level_is_a_conflict(tenant, annotator, reviewer):
    project = reviewed_project()
    TaskFactory(project=project)
    submitted = label(annotator(), project, POSITIVE)
    rita, rex = reviewer(), reviewer()
    assert review(rita, submitted["id"], "accept").status_code == 201

    response = review(rex, submitted["id"], "reject", comment="Wrong.")

    assert response.status_code == 409
    assert response.json() == {
        "detail": "This annotation is not waiting for review (it is accepted).",
        "code": "conflict",
        "errors": [],
    }
    assert Review.objects.count() == 1
    assert annotation_of(submitted).review_state == "accepted"


def test_a_review_row_at_the_level_already_there_is_a_conflict_even_if_the_state_lags(tenant, annotator, reviewer):
    # The unique (annotation, level) row is the last word when a decision raced the state change.
    project = reviewed_project()
    TaskFactory(project=project)
    submitted = label(annotator(), project, POSITIVE)
    annotation = annotation_of(submitted)
    ReviewFactory(annotation=annotation, level=1)
    rita = reviewer()

    with pytest.raises(Conflict, match="already reviewed at level 1"):
        annotation_review(actor=rita.membership, annotation=annotation, decision="accept")
    assert Review.objects.count() == 1


def test_an_annotation_not_sampled_for_review_cannot_be_reviewed(tenant, annotator, reviewer):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=1, review_mode="none")
    TaskFactory(project=project)
    submitted = label(annotator(), project, POSITIVE)

    response = review(reviewer(), submitted["id"], "accept")

    assert response.status_code == 409
    assert response.json()["detail"] == "This annotation is not waiting for review (it is none)."


# --- reject -------------------------------------------------------------------------------------------------------


def test_reject_back_to_the_annotator_keeps_the_slot_and_their_next_claim_serves_it_again(tenant, annotator, reviewer):
    project = reviewed_project(reject_returns_to="annotator")
    task = TaskFactory(project=project)
    TaskFactory(project=project)  # other work the annotator would otherwise be given
    alice, rita = annotator(), reviewer()
    submitted = label(alice, project, NEGATIVE)
    assignment = Assignment.objects.get(task=task)
    assert counters(task) == (1, 1)

    response = review(rita, submitted["id"], "reject", comment="The review is clearly positive.")

    assert response.status_code == 201
    assert response.json()["assignment_state"] == "queued"
    assert response.json()["annotation"]["review_state"] == "rejected"
    assignment.refresh_from_db()
    assert (assignment.state, assignment.lease_token, assignment.lease_expires_at, assignment.finished_at) == (
        AssignmentState.QUEUED,
        None,
        None,
        None,
    )
    assert assignment.annotator_id == alice.membership.pk
    assert assignment.source == AssignmentSource.MANUAL  # the dispatcher's stale-reservation sweep leaves it alone
    assert counters(task) == (1, 0)
    [event] = review_events("review.reject")
    assert event.metadata["returned_to"] == "annotator"
    assert event.metadata["assignment"] == str(assignment.uuid)
    assert event.metadata["comment"] == "The review is clearly positive."

    lease = claim(alice, project)

    assert lease["id"] == str(assignment.uuid)
    assert lease["task"]["id"] == str(task.uuid)
    assert counters(task) == (1, 0)
    resubmitted = alice.post(
        f"/api/v1/assignments/{lease['id']}/submit",
        {"lease_token": lease["lease_token"], "result": POSITIVE},
        format="json",
    )
    assert resubmitted.status_code == 201
    second = annotation_of(resubmitted.json())
    first = annotation_of(submitted)
    assert (second.version, second.supersedes_id, second.assignment_id) == (2, first.pk, assignment.pk)
    assert (first.review_state, second.review_state, second.review_level) == ("rejected", "pending", 1)
    assert counters(task) == (1, 1)
    assert review(rita, str(second.uuid), "accept").status_code == 201
    assert annotation_of(resubmitted.json()).review_state == "accepted"
    assert counters(task) == (1, 1)


def test_reject_to_the_pool_frees_the_slot_for_someone_else(tenant, annotator, reviewer):
    project = reviewed_project(reject_returns_to="pool")
    task = TaskFactory(project=project)
    alice, bob, rita = annotator(), annotator(), reviewer()
    submitted = label(alice, project, NEGATIVE)
    assert bob.post(next_url(project)).status_code == 204  # overlap 1: the task is taken

    response = review(rita, submitted["id"], "reject", comment="Wrong label.")

    assert response.status_code == 201
    assert response.json()["assignment_state"] == "rejected"
    assert Assignment.objects.get(annotator=alice.membership).state == AssignmentState.REJECTED
    assert counters(task) == (0, 0)
    assert review_events("review.reject")[0].metadata["returned_to"] == "pool"
    # Never back to the annotator it was rejected from; the next one takes the slot.
    nothing = alice.post(next_url(project))
    assert (nothing.status_code, nothing["X-No-Work-Reason"]) == (204, "no_tasks")
    redo = label(bob, project, POSITIVE)
    assert redo["task"] == str(task.uuid)
    assert counters(task) == (1, 1)
    redone = annotation_of(redo)
    assert (redone.version, redone.supersedes_id, redone.review_state) == (1, None, "pending")


def test_reject_to_the_pool_on_an_overlapping_task_keeps_the_other_answers(tenant, annotator, reviewer):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=2, review_mode="all", reject_returns_to="pool")
    task = TaskFactory(project=project)
    alice, bob, carol, rita = annotator(), annotator(), annotator(), reviewer()
    first = label(alice, project, NEGATIVE)
    label(bob, project, POSITIVE)
    assert counters(task) == (2, 2)

    assert review(rita, first["id"], "reject", comment="Wrong label.").status_code == 201

    assert counters(task) == (1, 1)
    assert label(carol, project, POSITIVE)["task"] == str(task.uuid)
    assert counters(task) == (2, 2)
    assert carol.post(next_url(project)).status_code == 204


def test_a_rejection_needs_a_comment(tenant, annotator, reviewer):
    project = reviewed_project()
    task = TaskFactory(project=project)
    submitted = label(annotator(), project, POSITIVE)

    for comment in ("", "   "):
        response = reviewer().post(
            f"/api/v1/annotations/{submitted['id']}/review", {"decision": "reject", "comment": comment}, format="json"
        )
        assert response.status_code == 400
        assert response.json()["errors"] == [
            {
                "field": "comment",
                "message": "A rejection needs a comment telling the annotator what to change.",
                "code": "required",
            }
        ]
    assert Review.objects.count() == 0
    assert annotation_of(submitted).review_state == "pending"
    assert counters(task) == (1, 1)


# --- correct ------------------------------------------------------------------------------------------------------


def test_a_correction_is_a_new_version_by_the_reviewer_and_the_original_is_kept(tenant, annotator, reviewer):
    project = reviewed_project()
    task = TaskFactory(project=project)
    alice, rita = annotator(), reviewer()
    submitted = label(alice, project, NEGATIVE)

    response = review(rita, submitted["id"], "correct", comment="It praises the film.", result=POSITIVE)

    assert response.status_code == 201, response.content
    body = response.json()
    original = annotation_of(submitted)
    correction = Annotation.objects.get(uuid=body["correction"]["id"])
    assert (original.review_state, original.result) == ("corrected", NEGATIVE)
    assert (correction.version, correction.supersedes_id, correction.annotator_id) == (
        2,
        original.pk,
        rita.membership.pk,
    )
    assert (correction.result, correction.review_state, correction.review_level) == (POSITIVE, "accepted", 1)
    assert (correction.assignment_id, correction.schema_version, correction.task_id) == (
        original.assignment_id,
        project.schema_version,
        task.pk,
    )
    assert Review.objects.get().correction_id == correction.pk
    assert body["review"]["correction"] == str(correction.uuid)
    assert counters(task) == (1, 1)
    [event] = review_events("review.correct")
    assert (event.target_id, event.metadata["correction"]) == (submitted["id"], str(correction.uuid))


def test_a_first_level_correction_goes_to_the_second_level_and_not_to_its_author(tenant, annotator, reviewer):
    project = reviewed_project(review_levels=2)
    TaskFactory(project=project)
    alice, first, second = annotator(), reviewer(), reviewer()
    submitted = label(alice, project, NEGATIVE)

    body = review(first, submitted["id"], "correct", result=POSITIVE).json()

    correction_id = body["correction"]["id"]
    assert (body["correction"]["review_state"], body["correction"]["review_level"]) == ("pending", 2)
    assert queue(first, project, 2).json()["results"] == []
    refused = review(first, correction_id, "accept")
    assert (refused.status_code, refused.json()["detail"]) == (
        403,
        "You cannot review your own annotation, nor a correction of it.",
    )
    # Nor may the annotator whose work it corrects judge it, whatever their role.
    alice.membership.role = Role.REVIEWER
    alice.membership.save()
    with pytest.raises(NotAllowed, match="your own annotation"):
        annotation_review(
            actor=alice.membership, annotation=Annotation.objects.get(uuid=correction_id), decision="accept"
        )
    assert review(second, correction_id, "accept").status_code == 201
    assert Annotation.objects.get(uuid=correction_id).review_state == "accepted"


def test_a_correction_is_validated_against_the_schema(tenant, annotator, reviewer):
    project = reviewed_project()
    task = TaskFactory(project=project)
    submitted = label(annotator(), project, NEGATIVE)
    rita = reviewer()

    response = review(rita, submitted["id"], "correct", result={"sentiment": "maybe"})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["result.sentiment"]
    assert (Annotation.objects.count(), Review.objects.count()) == (1, 0)
    assert annotation_of(submitted).review_state == "pending"
    assert counters(task) == (1, 1)
    assert review_events("review.correct") == []


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"decision": "approve"}, [("decision", "invalid_choice")]),
        ({"decision": "correct"}, [("result", "required")]),
        ({"decision": "correct", "result": ["positive"]}, [("result", "invalid_type")]),
        ({"decision": "accept", "result": {"sentiment": "positive"}}, [("result", "not_allowed")]),
        ({"decision": "accept", "comment": "x" * 5001}, [("comment", "max_length")]),
        ({"decision": "accept", "level": 2}, [("level", "unknown_field")]),
        ({}, [("decision", "required")]),
    ],
)
def test_bad_review_input_is_400_naming_the_field(tenant, annotator, reviewer, body, errors):
    project = reviewed_project()
    TaskFactory(project=project)
    submitted = label(annotator(), project, POSITIVE)

    response = reviewer().post(f"/api/v1/annotations/{submitted['id']}/review", body, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == errors
    assert Review.objects.count() == 0


# --- who may review -----------------------------------------------------------------------------------------------


def test_nobody_reviews_their_own_annotation(tenant, reviewer):
    project = reviewed_project()
    TaskFactory(project=project)
    rita = reviewer()
    submitted = label(rita, project, POSITIVE)  # reviewers may label too

    response = review(rita, submitted["id"], "accept")

    assert (response.status_code, response.json()["detail"]) == (
        403,
        "You cannot review your own annotation, nor a correction of it.",
    )
    assert queue(rita, project).json()["results"] == []
    assert Review.objects.count() == 0
    assert annotation_of(submitted).review_state == "pending"


def test_annotators_cannot_review(tenant, annotator):
    project = reviewed_project()
    TaskFactory(project=project)
    submitted = label(annotator(), project, POSITIVE)

    response = review(annotator(), submitted["id"], "accept")

    assert (response.status_code, response.json()["detail"]) == (403, "This action needs the reviewer role or higher.")
    assert Review.objects.count() == 0


def test_a_reviewer_excluded_from_the_project_may_not_review_it(tenant, annotator, reviewer):
    project = reviewed_project()
    TaskFactory(project=project)
    submitted = label(annotator(), project, POSITIVE)
    rita = reviewer()
    ConflictExclusionFactory(project=project, membership=rita.membership)

    response = review(rita, submitted["id"], "accept")

    assert (response.status_code, response.json()["detail"]) == (403, "You are excluded from this project.")
    assert queue(rita, project).status_code == 403
    assert Review.objects.count() == 0


def test_another_tenants_annotation_is_not_found(tenant, other_tenant, annotator, api_as):
    project = reviewed_project()
    TaskFactory(project=project)
    submitted = label(annotator(), project, POSITIVE)
    outsider = api_as(other_tenant, Role.OWNER)

    response = review(outsider, submitted["id"], "accept")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert annotation_of(submitted).review_state == "pending"


# --- the queue ----------------------------------------------------------------------------------------------------


def test_the_queue_lists_pending_work_oldest_first_with_the_task(tenant, annotator, reviewer):
    project = reviewed_project()
    first_task = TaskFactory(project=project, data={"text": "Loved it."})
    TaskFactory(project=project, data={"text": "Hated it."})
    alice, bob, rita = annotator(), annotator(), reviewer()
    first = label(alice, project, POSITIVE)
    second = label(bob, project, NEGATIVE)
    other_project = reviewed_project()
    TaskFactory(project=other_project)
    label(alice, other_project, POSITIVE)

    response = queue(rita, project)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [first["id"], second["id"]]
    assert results[0]["task"] == {
        "id": str(first_task.uuid),
        "external_id": first_task.external_id,
        "data": {"text": "Loved it."},
    }
    assert results[0]["result"] == POSITIVE
    assert (results[0]["version"], results[0]["review_level"], results[0]["supersedes"]) == (1, 1, None)
    # Not blind: the reviewer sees who labelled it.
    assert results[0]["annotator"] == {
        "pseudonym": annotator_pseudonym(project_uuid=project.uuid, member_uuid=alice.membership.uuid),
        "id": str(alice.membership.uuid),
        "email": alice.membership.user.email,
    }
    served = AuditEvent.objects.get(action="data_access.review_queue")
    assert served.target_id == str(project.uuid)
    assert served.metadata["count"] == 2
    # Decided work leaves the queue.
    assert review(rita, first["id"], "accept").status_code == 201
    assert [r["id"] for r in queue(rita, project).json()["results"]] == [second["id"]]


def test_on_a_blind_project_the_queue_shows_pseudonyms_only(tenant, annotator, reviewer):
    project = reviewed_project(blind=True, codename="Heron")
    TaskFactory(project=project)
    alice = annotator()
    label(alice, project, POSITIVE)

    response = queue(reviewer(), project)

    [item] = response.json()["results"]
    assert item["annotator"] == {
        "pseudonym": annotator_pseudonym(project_uuid=project.uuid, member_uuid=alice.membership.uuid),
        "id": None,
        "email": None,
    }
    assert alice.membership.user.email not in response.content.decode()
    assert str(alice.membership.uuid) not in response.content.decode()


@pytest.mark.parametrize("level", ["0", "3", "first", "1.5"])
def test_a_bad_queue_level_is_400_naming_level(tenant, reviewer, level):
    project = reviewed_project()

    response = queue(reviewer(), project, level)

    assert response.status_code == 400
    assert response.json()["errors"] == [{"field": "level", "message": "Must be 1 or 2.", "code": "invalid_choice"}]


def test_annotators_have_no_queue(tenant, annotator):
    project = reviewed_project()

    response = queue(annotator(), project)

    assert (response.status_code, response.json()["detail"]) == (403, "This action needs the reviewer role or higher.")


def test_a_decision_leaves_the_annotators_standing_alone(tenant, annotator, reviewer):
    project = reviewed_project(reject_returns_to="pool")
    TaskFactory(project=project)
    alice = annotator()
    submitted = label(alice, project, NEGATIVE)
    before = AnnotatorProgress.objects.values("served", "submitted").get(annotator=alice.membership)

    review(reviewer(), submitted["id"], "reject", comment="No.")

    assert AnnotatorProgress.objects.values("served", "submitted").get(annotator=alice.membership) == before
    assert annotation_of(submitted).review_state == ReviewState.REJECTED


def test_a_rejection_on_an_overlapping_task_recomputes_its_agreement(
    tenant, annotator, reviewer, django_capture_on_commit_callbacks
):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, overlap=2, review_mode="all", reject_returns_to="pool")
    task = TaskFactory(project=project)
    first = label(annotator(), project, NEGATIVE)
    label(annotator(), project, POSITIVE)

    with django_capture_on_commit_callbacks(execute=True):
        annotation_review(
            actor=reviewer().membership, annotation=annotation_of(first), decision="reject", comment="Wrong label."
        )

    agreement = TaskAgreement.objects.get(task=task)
    assert (agreement.annotations, agreement.fields, agreement.consensus) == (
        1,
        {"sentiment": None},
        {"sentiment": "positive"},
    )


def test_an_annotation_whose_assignment_is_gone_cannot_be_sent_back(tenant, reviewer):
    project = reviewed_project()
    annotation = AnnotationFactory(project=project, result=POSITIVE, review_state="pending", review_level=1)

    with pytest.raises(Conflict, match="assignment no longer exists"):
        annotation_review(actor=reviewer().membership, annotation=annotation, decision="reject", comment="No.")

    annotation.refresh_from_db()
    assert annotation.review_state == "pending"
    assert Review.objects.count() == 0
