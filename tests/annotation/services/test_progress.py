"""Annotators' standing on a project as managers see and control it: the progress list, pause and unpause (with a
fresh gold record), and a dispatch run on demand."""

import pytest

from annotation.models import AnnotatorProgress, Assignment
from annotation.services import progress as progress_module
from audit.models import AuditEvent
from tenancy.models import Role
from tests.annotation.conftest import CHOICE_SCHEMA, next_url, submit
from tests.annotation.routing_support import AnnotatorProgressFactory
from tests.conftest import member_client
from tests.factories import MembershipFactory, ProjectFactory, TaskFactory

GOLD = {"sentiment": "positive"}
# The request's fixed cost (see tests/test_query_counts.py), the project named in the URL, and the page.
PROGRESS_LIST = 8


def progress_url(project, member=None, action: str = "") -> str:
    base = f"/api/v1/projects/{project.uuid}/progress/"
    return f"{base}{member.uuid}/{action}" if member is not None else base


def errors_of(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


@pytest.fixture
def manager(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    return client


@pytest.fixture
def gold_project(tenant, settings):
    """Every claim serves gold while gold is left; one wrong answer is enough to pause."""
    settings.ANNOTATION_GOLD_MIN_SAMPLES = 1
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, gold_rate=1.0, gold_min_accuracy=0.9)
    TaskFactory.create_batch(2, project=project, is_gold=True, gold_answer=GOLD)
    TaskFactory.create_batch(2, project=project)
    return project


def test_managers_see_each_annotators_standing(gold_project, annotator, manager):
    alice, bob = annotator(), annotator()
    submit(alice, alice.post(next_url(gold_project)).json(), value="positive")
    submit(bob, bob.post(next_url(gold_project)).json(), value="negative")

    response = manager.get(progress_url(gold_project))

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["member"], r["member_email"]) for r in rows] == [
        (str(alice.membership.uuid), alice.membership.user.email),
        (str(bob.membership.uuid), bob.membership.user.email),
    ]
    assert [(r["served"], r["submitted"], r["gold_scored"], r["gold_accuracy"], r["paused"]) for r in rows] == [
        (1, 1, 1, 1.0, False),
        (1, 1, 1, 0.0, True),
    ]
    assert "Gold accuracy 0% over 1 gold tasks" in rows[1]["paused_reason"]
    assert (rows[0]["qualification_state"], rows[0]["qualification_attempts"], rows[0]["qualification_accuracy"]) == (
        "not_started",
        0,
        None,
    )


def test_qualification_standing_shows_state_attempts_and_accuracy(tenant, annotator, manager):
    project = ProjectFactory(label_schema=CHOICE_SCHEMA, qualification_size=2, qualification_min_accuracy=0.9)
    TaskFactory.create_batch(2, project=project, is_gold=True, qualification=True, gold_answer=GOLD)
    alice = annotator()
    for value in ("positive", "negative"):
        submit(alice, alice.post(next_url(project)).json(), value=value)

    (row,) = manager.get(progress_url(project)).json()["results"]

    assert (row["qualification_state"], row["qualification_attempts"], row["qualification_accuracy"]) == (
        "failed",
        1,
        0.5,
    )
    assert row["locked_until"] is not None


@pytest.mark.parametrize("rows", [1, 20])
def test_progress_list_costs_the_same_at_any_size(tenant, manager, django_assert_num_queries, rows):
    project = ProjectFactory()
    AnnotatorProgressFactory.create_batch(rows, project=project)
    assert manager.get("/api/v1/me").status_code == 200  # the token's first use writes last_used_at

    with django_assert_num_queries(PROGRESS_LIST):
        response = manager.get(progress_url(project))

    assert len(response.json()["results"]) == rows


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_below_manager_sees_no_standing(tenant, api_as, role):
    project = ProjectFactory()
    AnnotatorProgressFactory(project=project)

    response = api_as(tenant, role).get(progress_url(project))

    assert (response.status_code, response.json()["detail"]) == (403, "This action needs the manager role or higher.")


def test_unpausing_restarts_the_gold_record_and_the_annotator_works_again(gold_project, annotator, tenant):
    client, manager = member_client(tenant, Role.MANAGER)
    bob = annotator()
    submit(bob, bob.post(next_url(gold_project)).json(), value="negative")
    assert bob.post(next_url(gold_project))["X-No-Work-Reason"] == "paused"

    response = client.post(progress_url(gold_project, bob.membership, "unpause"), {}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["paused"], body["paused_at"], body["paused_reason"], body["gold_scored"], body["gold_accuracy"]) == (
        False,
        None,
        "",
        0,
        None,
    )
    progress = AnnotatorProgress.objects.get(annotator=bob.membership)
    assert (progress.gold_scored, progress.gold_score_sum, progress.paused_at) == (0, 0.0, None)
    event = AuditEvent.objects.get(action="progress.unpause")
    assert (event.target_id, event.actor_label) == (str(bob.membership.uuid), manager.user.email)
    assert event.metadata == {"project": str(gold_project.uuid), "gold_accuracy_before": 0.0}
    assert event.changes["gold_scored"] == [1, 0]
    # Work again, and the one gold answer behind the pause no longer weighs on the next one.
    lease = bob.post(next_url(gold_project)).json()
    assert submit(bob, lease, value="positive").status_code == 201
    assert AnnotatorProgress.objects.get(annotator=bob.membership).paused_at is None


def test_a_manager_pauses_an_annotator_on_one_project(tenant, project, annotator, manager):
    TaskFactory.create_batch(2, project=project)
    alice = annotator()
    alice.post(next_url(project))

    response = manager.post(progress_url(project, alice.membership, "pause"), {"reason": "Spot check"}, format="json")

    assert (response.status_code, response.json()["paused"], response.json()["paused_reason"]) == (
        200,
        True,
        "Spot check",
    )
    event = AuditEvent.objects.get(action="progress.pause")
    assert (event.target_id, event.changes) == (str(alice.membership.uuid), {"paused_reason": [None, "Spot check"]})
    # The lease already out may still be finished; no new work comes.
    lease = alice.post(next_url(project))
    assert lease.status_code == 200
    assert submit(alice, lease.json()).status_code == 201
    assert alice.post(next_url(project))["X-No-Work-Reason"] == "paused"


def test_unpausing_someone_not_paused_is_409_and_a_stranger_to_the_project_404(tenant, project, annotator, manager):
    TaskFactory(project=project)
    alice = annotator()
    alice.post(next_url(project))
    never_worked = MembershipFactory(role=Role.ANNOTATOR)

    not_paused = manager.post(progress_url(project, alice.membership, "unpause"), {}, format="json")
    stranger = manager.post(progress_url(project, never_worked, "unpause"), {}, format="json")

    assert (not_paused.status_code, not_paused.json()["detail"]) == (
        409,
        f"{alice.membership.user.email} is not paused on this project.",
    )
    assert (stranger.status_code, stranger.json()["code"]) == (404, "not_found")
    assert not AuditEvent.objects.filter(action="progress.unpause").exists()


def test_nobody_lifts_their_own_pause_on_a_project(tenant, project):
    TaskFactory(project=project)
    client, me = member_client(tenant, Role.MANAGER)
    other, _ = member_client(tenant, Role.MANAGER)
    client.post(next_url(project))
    other.post(progress_url(project, me, "pause"), {"reason": "review"}, format="json")

    response = client.post(progress_url(project, me, "unpause"), {}, format="json")

    assert (response.status_code, response.json()["detail"]) == (
        403,
        "You cannot lift your own pause; ask another manager.",
    )
    assert AnnotatorProgress.objects.get(annotator=me).paused_at is not None


@pytest.mark.parametrize(
    ("action", "body", "expected"),
    [
        ("pause", {"reason": "r" * 301}, [("reason", "max_length")]),
        ("pause", {"reason": "x", "locked_until": None}, [("locked_until", "unknown_field")]),
        ("unpause", {"reset_gold": False}, [("reset_gold", "unknown_field")]),
    ],
)
def test_bad_standing_input_names_the_field(tenant, project, annotator, manager, action, body, expected):
    TaskFactory(project=project)
    alice = annotator()
    alice.post(next_url(project))

    response = manager.post(progress_url(project, alice.membership, action), body, format="json")

    assert (response.status_code, errors_of(response)) == (400, expected)
    assert AnnotatorProgress.objects.get().paused_at is None


@pytest.mark.parametrize("action", ["pause", "unpause"])
def test_an_annotator_cannot_change_standing(tenant, project, annotator, action):
    TaskFactory(project=project)
    alice, bob = annotator(), annotator()
    bob.post(next_url(project))

    response = alice.post(progress_url(project, bob.membership, action), {}, format="json")

    assert response.status_code == 403
    assert AuditEvent.objects.filter(action="access.forbidden").count() == 1


# --- dispatch on demand ---


def test_a_manager_runs_the_dispatcher_and_gets_the_counts(tenant, project, manager):
    TaskFactory.create_batch(5, project=project)
    AnnotatorProgressFactory.create_batch(2, project=project)

    response = manager.post(f"/api/v1/projects/{project.uuid}/dispatch", {}, format="json")

    assert (response.status_code, response.json()) == (200, {"annotators": 2, "queued": 5, "returned": 0})
    assert Assignment.objects.filter(state="queued").count() == 5
    event = AuditEvent.objects.get(action="project.dispatch")
    assert (event.target_id, event.metadata) == (str(project.uuid), {"annotators": 2, "queued": 5, "returned": 0})


def test_a_dispatch_with_nothing_to_do_is_still_on_record(tenant, project, manager):
    response = manager.post(f"/api/v1/projects/{project.uuid}/dispatch", format="json")

    assert (response.status_code, response.json()) == (200, {"annotators": 0, "queued": 0, "returned": 0})
    assert AuditEvent.objects.filter(action="project.dispatch").count() == 1
    assert not AuditEvent.objects.filter(action="assignment.dispatch").exists()


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_below_manager_cannot_dispatch(tenant, project, api_as, role):
    response = api_as(tenant, role).post(f"/api/v1/projects/{project.uuid}/dispatch", {}, format="json")

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="project.dispatch").exists()


def test_dispatch_refuses_a_body_field(tenant, project, manager):
    response = manager.post(f"/api/v1/projects/{project.uuid}/dispatch", {"size": 10}, format="json")

    assert (response.status_code, errors_of(response)) == (400, [("size", "unknown_field")])


def test_unpause_asks_for_a_dispatch_of_the_project(gold_project, annotator, manager, monkeypatch):
    asked: list[int] = []
    monkeypatch.setattr(
        progress_module, "dispatch_soon", lambda *, organization_id, project_id: asked.append(project_id)
    )
    bob = annotator()
    submit(bob, bob.post(next_url(gold_project)).json(), value="negative")

    manager.post(progress_url(gold_project, bob.membership, "unpause"), {}, format="json")

    assert asked == [gold_project.pk]
