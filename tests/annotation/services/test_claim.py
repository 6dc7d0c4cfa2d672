"""Claiming through the API: leases, double clicks, overlap, order, skip/release, eligibility and gold."""

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Annotation, AnnotatorProgress, Assignment, AssignmentState
from audit.models import AuditEvent
from projects.models import Task
from tests.annotation.conftest import act_url, next_url, submit
from tests.factories import ConflictExclusionFactory, MemberSkillFactory, ProjectFactory, SkillFactory, TaskFactory


def test_claim_returns_a_lease_with_task_data_and_records_who_saw_it(project, annotator):
    task = TaskFactory(project=project, data={"text": "Great film."})
    alice = annotator()

    response = alice.post(next_url(project))

    assert response.status_code == 201
    body = response.json()
    assert body["task"] == {
        "id": str(task.uuid),
        "external_id": task.external_id,
        "data": {"text": "Great film."},
        "suggestions": {},
    }
    assert body["state"] == "active"
    assert body["lease_token"]
    assert "is_gold" not in body
    task.refresh_from_db()
    assert (task.taken, task.done) == (1, 0)
    served = AuditEvent.objects.get(action="data_access.task_serve")
    assert served.target_id == str(task.uuid)
    assert served.actor_user_id == alice.membership.user_id
    assert AuditEvent.objects.filter(action="assignment.claim", target_id=body["id"]).count() == 1


def test_a_double_click_returns_the_same_lease(project, annotator):
    TaskFactory.create_batch(3, project=project)
    alice = annotator()

    first = alice.post(next_url(project))
    second = alice.post(next_url(project))

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["lease_token"] == first.json()["lease_token"]
    assert Assignment.objects.count() == 1


def test_overlap_one_serves_a_task_once_then_204_with_reason(project, annotator):
    TaskFactory(project=project)
    alice, bob = annotator(), annotator()

    assert alice.post(next_url(project)).status_code == 201
    response = bob.post(next_url(project))

    assert response.status_code == 204
    assert response["X-No-Work-Reason"] == "no_tasks"


def test_overlap_three_gives_each_task_to_three_distinct_annotators_breadth_first(tenant, annotator):
    project = ProjectFactory(overlap=3, label_schema={"fields": []})
    first, second = TaskFactory(project=project), TaskFactory(project=project)
    clients = [annotator() for _ in range(4)]

    served = []
    for client in clients[:3]:
        lease = client.post(next_url(project)).json()
        served.append(lease["task"]["id"])
        assert (
            client.post(
                act_url(lease, "submit"), {"lease_token": lease["lease_token"], "result": {}}, format="json"
            ).status_code
            == 201
        )

    # Breadth-first: the task already started is finished before the next one opens.
    assert served == [str(first.uuid)] * 3
    assert clients[3].post(next_url(project)).json()["task"]["id"] == str(second.uuid)
    first.refresh_from_db()
    assert (first.taken, first.done) == (3, 3)


def test_higher_priority_is_served_first(project, annotator):
    TaskFactory(project=project, priority=0)
    urgent = TaskFactory(project=project, priority=10)

    assert annotator().post(next_url(project)).json()["task"]["id"] == str(urgent.uuid)


def test_submit_records_the_annotation_with_provenance_and_is_idempotent(project, annotator):
    task = TaskFactory(project=project)
    alice = annotator()
    lease = alice.post(next_url(project)).json()

    first = submit(alice, lease, time_spent_ms=4200)
    again = submit(alice, lease, time_spent_ms=4200)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    annotation = Annotation.objects.get()
    assert annotation.result == {"sentiment": "positive"}
    assert (annotation.schema_version, annotation.time_spent_ms, annotation.task_id) == (1, 4200, task.pk)
    task.refresh_from_db()
    assert (task.taken, task.done) == (1, 1)
    assert AuditEvent.objects.filter(action="annotation.submit").count() == 1


def test_an_invalid_result_is_refused_naming_the_field_and_nothing_is_stored(project, annotator):
    TaskFactory(project=project)
    alice = annotator()
    lease = alice.post(next_url(project)).json()

    response = submit(alice, lease, value="maybe")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["result.sentiment"]
    assert Annotation.objects.count() == 0
    assert Assignment.objects.get().state == AssignmentState.ACTIVE


def test_a_stale_submit_after_reassignment_is_refused_and_the_new_holders_work_stands(project, annotator):
    task = TaskFactory(project=project)
    alice, bob = annotator(), annotator()
    old = alice.post(next_url(project)).json()
    Assignment.objects.filter(uuid=old["id"]).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    # Bob's claim runs the expiry of Alice's lapsed lease first only when it is Alice's; the reaper does it here.
    from annotation.services.leases import assignments_expire

    assert assignments_expire() == 1
    new = bob.post(next_url(project)).json()
    assert new["task"]["id"] == str(task.uuid)

    stale = submit(alice, old)
    fresh = submit(bob, new, value="negative")

    assert stale.status_code == 409
    assert stale.json()["code"] == "lease_lost"
    assert fresh.status_code == 201
    assert list(Annotation.objects.values_list("result", flat=True)) == [{"sentiment": "negative"}]
    task.refresh_from_db()
    assert (task.taken, task.done) == (1, 1)


def test_heartbeat_extends_the_lease_and_a_wrong_token_is_409(project, annotator):
    TaskFactory(project=project)
    alice = annotator()
    lease = alice.post(next_url(project)).json()
    Assignment.objects.filter(uuid=lease["id"]).update(lease_expires_at=timezone.now() + timedelta(seconds=5))

    ok = alice.post(act_url(lease, "heartbeat"), {"lease_token": lease["lease_token"]}, format="json")
    wrong = alice.post(
        act_url(lease, "heartbeat"), {"lease_token": "00000000-0000-0000-0000-000000000000"}, format="json"
    )

    assert ok.status_code == 200
    assert Assignment.objects.get().lease_expires_at > timezone.now() + timedelta(seconds=project.lease_seconds - 60)
    assert wrong.status_code == 409


def test_skip_returns_the_slot_to_others_but_never_to_the_skipper(project, annotator):
    task = TaskFactory(project=project)
    alice, bob = annotator(), annotator()
    lease = alice.post(next_url(project)).json()

    response = alice.post(
        act_url(lease, "skip"), {"lease_token": lease["lease_token"], "reason": "unclear"}, format="json"
    )

    assert response.status_code == 204
    task.refresh_from_db()
    assert task.taken == 0
    assert alice.post(next_url(project)).status_code == 204
    assert bob.post(next_url(project)).json()["task"]["id"] == str(task.uuid)


def test_release_returns_the_slot(project, annotator):
    task = TaskFactory(project=project)
    alice = annotator()
    lease = alice.post(next_url(project)).json()

    assert (
        alice.post(act_url(lease, "release"), {"lease_token": lease["lease_token"]}, format="json").status_code == 204
    )

    task.refresh_from_db()
    assert task.taken == 0
    assert Assignment.objects.get().state == AssignmentState.RELEASED


def test_someone_elses_lease_is_a_404(project, annotator):
    TaskFactory(project=project)
    alice, bob = annotator(), annotator()
    lease = alice.post(next_url(project)).json()

    assert (
        bob.post(
            act_url(lease, "submit"), {"lease_token": lease["lease_token"], "result": {}}, format="json"
        ).status_code
        == 404
    )


def test_a_lapsed_lease_of_ones_own_is_expired_by_the_next_claim(project, annotator):
    TaskFactory.create_batch(2, project=project)
    alice = annotator()
    first = alice.post(next_url(project)).json()
    Assignment.objects.filter(uuid=first["id"]).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    second = alice.post(next_url(project))

    assert second.status_code == 201
    assert second.json()["id"] != first["id"]
    assert Assignment.objects.get(uuid=first["id"]).state == AssignmentState.EXPIRED


# --- eligibility ---


def test_required_skills_on_project_and_task_are_enforced(tenant, annotator):
    cardiology = SkillFactory(name="cardiology")
    project = ProjectFactory(required_skills={"cardiology": 2}, label_schema={"fields": []})
    hard = TaskFactory(project=project, required_skills={"cardiology": 4}, priority=5)
    easy = TaskFactory(project=project)
    novice, expert, layman = annotator(), annotator(), annotator()
    MemberSkillFactory(membership=novice.membership, skill=cardiology, level=2)
    MemberSkillFactory(membership=expert.membership, skill=cardiology, level=5)

    refused = layman.post(next_url(project))

    assert refused.status_code == 204
    assert refused["X-No-Work-Reason"] == "missing_skills"
    assert novice.post(next_url(project)).json()["task"]["id"] == str(easy.uuid)
    assert expert.post(next_url(project)).json()["task"]["id"] == str(hard.uuid)


def test_an_expired_skill_does_not_count(tenant, annotator):
    skill = SkillFactory(name="german-law")
    project = ProjectFactory(required_skills={"german-law": 1})
    TaskFactory(project=project)
    lapsed = annotator()
    MemberSkillFactory(
        membership=lapsed.membership, skill=skill, level=5, expires_at=timezone.now() - timedelta(days=1)
    )

    assert lapsed.post(next_url(project))["X-No-Work-Reason"] == "missing_skills"


def test_task_language_must_be_one_the_member_works_in(project, annotator):
    TaskFactory(project=project, language="de")
    english = annotator()
    german = annotator()
    type(german.membership).objects.filter(pk=german.membership.pk).update(languages=["de", "en"])

    assert english.post(next_url(project)).status_code == 204
    assert german.post(next_url(project)).status_code == 201


def test_conflict_of_interest_by_member_and_by_attribute(project, annotator):
    TaskFactory(project=project)
    named, acme, other = annotator(), annotator(), annotator()
    Membership = type(acme.membership)
    Membership.objects.filter(pk=acme.membership.pk).update(attributes={"affiliation": "Acme Pharma"})
    ConflictExclusionFactory(project=project, membership=named.membership)
    ConflictExclusionFactory(project=None, membership=None, attribute="affiliation", value="acme pharma")

    for client in (named, acme):
        response = client.post(next_url(project))
        assert (response.status_code, response["X-No-Work-Reason"]) == (204, "excluded")
    assert other.post(next_url(project)).status_code == 201


def test_a_paused_project_serves_nothing(tenant, annotator):
    project = ProjectFactory(is_active=False)
    TaskFactory(project=project)

    assert annotator().post(next_url(project))["X-No-Work-Reason"] == "project_paused"


# --- gold and qualification ---

GOLD = {"sentiment": "positive"}


def test_qualification_pass_unlocks_live_work(tenant, annotator):
    from tests.annotation.conftest import CHOICE_SCHEMA

    project = ProjectFactory(label_schema=CHOICE_SCHEMA, qualification_size=2, qualification_min_accuracy=0.5)
    live = TaskFactory(project=project, priority=100)
    quiz = [TaskFactory(project=project, is_gold=True, qualification=True, gold_answer=GOLD) for _ in range(2)]
    alice = annotator()

    served = []
    for value in ("positive", "negative"):
        lease = alice.post(next_url(project)).json()
        served.append(lease["task"]["id"])
        assert submit(alice, lease, value=value).status_code == 201

    assert served == [str(t.uuid) for t in quiz]
    progress = AnnotatorProgress.objects.get()
    assert (progress.qualification_state, progress.qualification_score) == ("passed", 1.0)
    assert alice.post(next_url(project)).json()["task"]["id"] == str(live.uuid)
    assert AuditEvent.objects.filter(action="qualification.pass").count() == 1


def test_qualification_failure_locks_out_for_the_cooldown(tenant, annotator):
    from tests.annotation.conftest import CHOICE_SCHEMA

    project = ProjectFactory(
        label_schema=CHOICE_SCHEMA, qualification_size=1, qualification_min_accuracy=1.0, qualification_cooldown_hours=6
    )
    TaskFactory(project=project)
    TaskFactory(project=project, is_gold=True, qualification=True, gold_answer=GOLD)
    alice = annotator()
    lease = alice.post(next_url(project)).json()
    submit(alice, lease, value="negative")

    response = alice.post(next_url(project))

    assert response.status_code == 204
    assert response["X-No-Work-Reason"] == "qualification_locked"
    assert response["Retry-After"]
    assert AnnotatorProgress.objects.get().qualification_state == "failed"
    assert AuditEvent.objects.get(action="qualification.fail").outcome == "failure"


def test_gold_tasks_are_mixed_in_at_the_project_rate(tenant, annotator):
    from tests.annotation.conftest import CHOICE_SCHEMA

    project = ProjectFactory(label_schema=CHOICE_SCHEMA, gold_rate=0.25, overlap=1)
    TaskFactory.create_batch(12, project=project)
    for _ in range(6):
        TaskFactory(project=project, is_gold=True, gold_answer=GOLD)
    alice = annotator()

    gold = 0
    for _ in range(12):
        lease = alice.post(next_url(project)).json()
        gold += Task.objects.get(uuid=lease["task"]["id"]).is_gold
        submit(alice, lease)

    assert gold == 3


def test_low_gold_accuracy_pauses_the_annotator_with_a_reason(tenant, annotator, settings):
    from tests.annotation.conftest import CHOICE_SCHEMA

    settings.ANNOTATION_GOLD_MIN_SAMPLES = 2
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, gold_rate=1.0, gold_min_accuracy=0.9)
    TaskFactory.create_batch(3, project=project)
    for _ in range(3):
        TaskFactory(project=project, is_gold=True, gold_answer=GOLD)
    alice = annotator()
    for _ in range(2):
        submit(alice, alice.post(next_url(project)).json(), value="negative")

    response = alice.post(next_url(project))

    assert (response.status_code, response["X-No-Work-Reason"]) == (204, "paused")
    progress = AnnotatorProgress.objects.get()
    assert "below the project's 90%" in progress.paused_reason
    assert AuditEvent.objects.filter(action="qualification.pause").count() == 1


@pytest.mark.parametrize("max_active", [2])
def test_max_active_allows_a_second_lease_then_returns_the_newest(tenant, annotator, max_active):
    project = ProjectFactory(max_active_per_annotator=max_active)
    TaskFactory.create_batch(3, project=project)
    alice = annotator()

    ids = [alice.post(next_url(project)).json()["id"] for _ in range(3)]

    assert len(set(ids)) == 2
    assert ids[2] == ids[1]


# --- membership removal and lapsed skills ---


def test_removing_a_member_returns_their_live_work_and_refuses_when_they_have_annotations(tenant, annotator, api_as):
    from tenancy.models import Role

    project = ProjectFactory(overlap=1, max_active_per_annotator=2)
    first, second = TaskFactory(project=project), TaskFactory(project=project)
    admin = api_as(tenant, Role.ADMIN)
    leaver, worker = annotator(), annotator()
    leaver.post(next_url(project))
    worker_lease = worker.post(next_url(project)).json()
    submit(worker, worker_lease)

    removed = admin.delete(f"/api/v1/members/{leaver.membership.uuid}")
    refused = admin.delete(f"/api/v1/members/{worker.membership.uuid}")

    assert removed.status_code == 204
    assert refused.status_code == 409
    assert "pause the member instead" in refused.json()["detail"]
    assert sorted(Task.objects.values_list("taken", flat=True)) == [0, 1]
    assert {first.pk, second.pk} == set(Task.objects.values_list("pk", flat=True))
    assert AuditEvent.objects.get(action="member.remove").metadata["assignments_released"] == 1


def test_a_queued_task_whose_skill_lapsed_is_not_served(tenant, annotator):
    from annotation.models import AssignmentSource
    from annotation.services.dispatch import assignment_queue

    skill = SkillFactory(name="radiology")
    project = ProjectFactory(overlap=1)
    hard = TaskFactory(project=project, required_skills={"radiology": 3})
    easy = TaskFactory(project=project)
    alice = annotator()
    held = MemberSkillFactory(membership=alice.membership, skill=skill, level=4)
    assignment_queue(task=hard, membership=alice.membership, source=AssignmentSource.DISPATCH)
    held.delete()

    lease = alice.post(next_url(project)).json()

    assert lease["task"]["id"] == str(easy.uuid)
    assert Assignment.objects.get(task=hard).state == AssignmentState.REVOKED
    hard.refresh_from_db()
    assert hard.taken == 0
