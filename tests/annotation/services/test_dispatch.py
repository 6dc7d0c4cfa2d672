"""The dispatcher (scarce expertise first, queues promoted by claims, stale reservations returned) and manual
assignment and revocation by managers."""

from datetime import timedelta

from django.utils import timezone

from annotation.models import AnnotatorProgress, Assignment, AssignmentSource, AssignmentState
from annotation.services.dispatch import project_dispatch
from audit.models import AuditEvent
from projects.models import Task
from tenancy.models import Role
from tests.annotation.conftest import next_url
from tests.conftest import member_client
from tests.factories import MemberSkillFactory, ProjectFactory, SkillFactory, TaskFactory


def _seen(project, *clients):
    """Mark members as recently active on the project, as their first claim would."""
    for client in clients:
        AnnotatorProgress.objects.update_or_create(
            project=project, annotator=client.membership, defaults={"last_seen_at": timezone.now()}
        )


def test_the_scarce_expert_gets_the_tasks_only_they_can_do(tenant, annotator, settings):
    settings.ROUTING_QUEUE_SIZE = 2
    oncology = SkillFactory(name="oncology")
    project = ProjectFactory(overlap=1)
    # Higher priority first would hand the expert general work; within a priority, scarcity decides.
    general = TaskFactory.create_batch(2, project=project)
    special = TaskFactory.create_batch(2, project=project, required_skills={"oncology": 4})
    expert, generalist = annotator(), annotator()
    MemberSkillFactory(membership=expert.membership, skill=oncology, level=5)
    _seen(project, expert, generalist)

    result = project_dispatch(project=project)

    assert (result.annotators, result.queued) == (2, 4)
    queued = {a.task_id: a.annotator_id for a in Assignment.objects.filter(state=AssignmentState.QUEUED)}
    assert {queued[t.pk] for t in special} == {expert.membership.pk}
    assert {queued[t.pk] for t in general} == {generalist.membership.pk}
    assert all(t.taken == 1 for t in Task.objects.all())
    assert AuditEvent.objects.get(action="assignment.dispatch").metadata == {
        "queued": 4,
        "returned": 0,
        "annotators": 2,
    }


def test_dispatch_twice_queues_nothing_more(tenant, annotator, settings):
    settings.ROUTING_QUEUE_SIZE = 3
    project = ProjectFactory(overlap=2)
    TaskFactory.create_batch(5, project=project)
    clients = [annotator() for _ in range(2)]
    _seen(project, *clients)

    first = project_dispatch(project=project)
    second = project_dispatch(project=project)

    assert (first.queued, second.queued) == (6, 0)
    assert Assignment.objects.count() == 6
    assert sum(Task.objects.values_list("taken", flat=True)) == 6


def test_a_claim_promotes_the_queued_task_first(tenant, annotator, settings):
    settings.ROUTING_QUEUE_SIZE = 1
    project = ProjectFactory(overlap=1)
    TaskFactory(project=project, priority=5)
    later = TaskFactory(project=project, priority=0)
    alice, bob = annotator(), annotator()
    _seen(project, alice, bob)
    project_dispatch(project=project)
    bobs = Assignment.objects.get(annotator=bob.membership)

    lease = bob.post(next_url(project))

    assert lease.status_code == 201
    assert lease.json()["id"] == str(bobs.uuid)
    assert lease.json()["task"]["id"] in {str(later.uuid), str(bobs.task.uuid)}
    bobs.refresh_from_db()
    assert (bobs.state, bobs.source) == (AssignmentState.ACTIVE, AssignmentSource.DISPATCH)


def test_stale_dispatcher_reservations_return_to_the_pool(tenant, annotator, settings):
    settings.ROUTING_QUEUE_SIZE = 1
    project = ProjectFactory(overlap=1)
    task = TaskFactory(project=project)
    alice = annotator()
    _seen(project, alice)
    project_dispatch(project=project)
    Assignment.objects.update(created_at=timezone.now() - timedelta(hours=2))
    AnnotatorProgress.objects.update(last_seen_at=timezone.now() - timedelta(hours=2))

    result = project_dispatch(project=project)

    assert (result.returned, result.queued) == (1, 0)
    assert Assignment.objects.get().state == AssignmentState.REVOKED
    task.refresh_from_db()
    assert task.taken == 0


def test_manager_assigns_a_task_to_a_named_annotator_who_then_gets_it(tenant, annotator):
    project = ProjectFactory(overlap=1)
    TaskFactory(project=project, priority=9)
    chosen = TaskFactory(project=project)
    manager, _ = member_client(tenant, Role.MANAGER)
    alice = annotator()
    url = f"/api/v1/projects/{project.uuid}/assignments/"

    created = manager.post(url, {"task": str(chosen.uuid), "annotator": str(alice.membership.uuid)}, format="json")
    again = manager.post(url, {"task": str(chosen.uuid), "annotator": str(alice.membership.uuid)}, format="json")

    assert created.status_code == 201
    assert (created.json()["state"], created.json()["source"]) == ("queued", "manual")
    assert again.status_code == 409
    assert alice.post(next_url(project)).json()["task"]["id"] == str(chosen.uuid)
    listed = manager.get(url).json()["results"]
    assert [(a["task"], a["state"]) for a in listed] == [(str(chosen.uuid), "active")]
    assert "lease_token" not in listed[0]


def test_manual_assignment_respects_overlap_and_exclusions(tenant, annotator):
    from tests.factories import ConflictExclusionFactory

    project = ProjectFactory(overlap=1)
    task = TaskFactory(project=project)
    manager, _ = member_client(tenant, Role.MANAGER)
    alice, bob, excluded = annotator(), annotator(), annotator()
    ConflictExclusionFactory(project=project, membership=excluded.membership)
    url = f"/api/v1/projects/{project.uuid}/assignments/"

    refused = manager.post(url, {"task": str(task.uuid), "annotator": str(excluded.membership.uuid)}, format="json")
    manager.post(url, {"task": str(task.uuid), "annotator": str(alice.membership.uuid)}, format="json")
    full = manager.post(url, {"task": str(task.uuid), "annotator": str(bob.membership.uuid)}, format="json")

    assert refused.status_code == 400
    assert full.status_code == 409
    assert "already has its 1 annotator" in full.json()["detail"]


def test_revoke_takes_a_lease_back_and_fences_its_holder(tenant, annotator):
    project = ProjectFactory(overlap=1)
    task = TaskFactory(project=project)
    manager, _ = member_client(tenant, Role.MANAGER)
    alice = annotator()
    lease = alice.post(next_url(project)).json()

    revoked = manager.post(f"/api/v1/assignments/{lease['id']}/revoke", {"reason": "wrong expert"}, format="json")
    late = alice.post(
        f"/api/v1/assignments/{lease['id']}/submit", {"lease_token": lease["lease_token"], "result": {}}, format="json"
    )

    assert (revoked.status_code, revoked.json()["state"], revoked.json()["reason"]) == (200, "revoked", "wrong expert")
    assert late.status_code == 409
    task.refresh_from_db()
    assert task.taken == 0
    assert manager.post(f"/api/v1/assignments/{lease['id']}/revoke", {}, format="json").status_code == 409
    assert AuditEvent.objects.filter(action="assignment.revoke").count() == 1
