"""Conflict-of-interest exclusions through the API: who they keep off which project, the work they take back,
what they refuse, and who may see them (managers; never annotators)."""

import pytest

from annotation.models import Assignment, ConflictExclusion
from annotation.services import exclusions
from audit.models import AuditEvent
from core.context import organization_context
from projects.models import Task
from tenancy.models import Role
from tests.annotation.conftest import next_url
from tests.conftest import member_client
from tests.factories import ConflictExclusionFactory, MembershipFactory, ProjectFactory, TaskFactory

EXCLUSIONS_URL = "/api/v1/exclusions/"


def project_exclusions_url(project) -> str:
    return f"/api/v1/projects/{project.uuid}/exclusions/"


def errors_of(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


@pytest.fixture
def manager(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    return client


@pytest.fixture
def nudges(monkeypatch):
    """The projects a dispatch was asked for, in order."""
    asked: list[int] = []
    monkeypatch.setattr(exclusions, "dispatch_soon", lambda *, organization_id, project_id: asked.append(project_id))
    return asked


def test_excluding_a_member_keeps_them_off_the_project_only(project, annotator, manager):
    TaskFactory.create_batch(2, project=project)
    other_project = ProjectFactory()
    TaskFactory(project=other_project)
    alice, bob = annotator(), annotator()

    response = manager.post(
        project_exclusions_url(project),
        {"member": str(alice.membership.uuid), "reason": "Co-author of the study"},
        format="json",
    )

    assert response.status_code == 201
    exclusion = ConflictExclusion.objects.get()
    assert response.json() == {
        "id": str(exclusion.uuid),
        "project": str(project.uuid),
        "member": str(alice.membership.uuid),
        "member_email": alice.membership.user.email,
        "attribute": "",
        "value": "",
        "reason": "Co-author of the study",
        "created_by": exclusion.created_by.email,
        "created_at": response.json()["created_at"],
    }
    refused = alice.post(next_url(project))
    assert (refused.status_code, refused["X-No-Work-Reason"]) == (204, "excluded")
    assert alice.post(next_url(other_project)).status_code == 201
    assert bob.post(next_url(project)).status_code == 201
    event = AuditEvent.objects.get(action="exclusion.create")
    assert (event.target_id, event.metadata) == (
        str(exclusion.uuid),
        {"project": str(project.uuid), "user": alice.membership.user.email},
    )


def test_an_organization_wide_attribute_rule_matches_any_listed_value_in_any_case(project, annotator, manager):
    TaskFactory(project=project)
    alice, bob = annotator(), annotator()
    alice.membership.attributes = {"former_employers": ["Initech", "ACME Pharma"]}
    alice.membership.save(update_fields=["attributes"])

    response = manager.post(
        EXCLUSIONS_URL, {"attribute": "former_employers", "value": "acme pharma", "reason": "Sponsor"}, format="json"
    )

    assert (response.status_code, response.json()["project"]) == (201, None)
    assert alice.post(next_url(project))["X-No-Work-Reason"] == "excluded"
    assert bob.post(next_url(project)).status_code == 201


def test_a_new_rule_takes_back_the_work_the_excluded_hold_and_asks_for_a_dispatch(project, annotator, manager, nudges):
    task = TaskFactory(project=project)
    alice = annotator()
    lease = alice.post(next_url(project)).json()

    response = manager.post(project_exclusions_url(project), {"member": str(alice.membership.uuid)}, format="json")

    assert response.status_code == 201
    assignment = Assignment.objects.get(uuid=lease["id"])
    assert (assignment.state, assignment.reason) == ("revoked", "conflict-of-interest exclusion")
    assert Task.objects.get(pk=task.pk).taken == 0
    revoke = AuditEvent.objects.get(action="assignment.revoke")
    assert revoke.target_id == lease["id"]
    assert nudges == [project.pk]
    # The lease is gone: the excluded member's result is refused.
    body = {"lease_token": lease["lease_token"], "result": {"sentiment": "positive"}}
    assert alice.post(f"/api/v1/assignments/{lease['id']}/submit", body, format="json").status_code == 409


def test_a_rule_naming_nobody_revokes_nothing_and_asks_for_nothing(project, annotator, manager, nudges):
    TaskFactory(project=project)
    alice = annotator()
    alice.post(next_url(project))

    manager.post(project_exclusions_url(project), {"attribute": "affiliation", "value": "Globex"}, format="json")

    assert list(Assignment.objects.values_list("state", flat=True)) == ["active"]
    assert nudges == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, [("member", "required")]),
        ({"reason": "no one named"}, [("member", "required")]),
        ({"member": "MEMBER", "attribute": "affiliation", "value": "Acme"}, [("member", "ambiguous")]),
        ({"attribute": "affiliation"}, [("value", "required")]),
        ({"value": "Acme"}, [("member", "required"), ("attribute", "required")]),
        ({"attribute": "Affiliation", "value": "Acme"}, [("attribute", "invalid")]),
        ({"attribute": "affiliation", "value": "a" * 201}, [("value", "max_length")]),
        ({"member": "not-a-uuid"}, [("member", "invalid")]),
        ({"member": "00000000-0000-0000-0000-000000000000"}, [("member", "does_not_exist")]),
        ({"attribute": "affiliation", "value": "Acme", "project": "x"}, [("project", "unknown_field")]),
    ],
)
def test_bad_exclusion_input_names_the_field(tenant, project, manager, body, expected):
    member = MembershipFactory()
    body = {k: str(member.uuid) if v == "MEMBER" else v for k, v in body.items()}

    response = manager.post(project_exclusions_url(project), body, format="json")

    assert (response.status_code, errors_of(response)) == (400, expected)
    assert ConflictExclusion.objects.count() == 0
    assert not AuditEvent.objects.filter(action="exclusion.create").exists()


def test_another_organizations_member_cannot_be_named(tenant, other_tenant, project, manager):
    with organization_context(other_tenant.pk):
        stranger = MembershipFactory()

    response = manager.post(project_exclusions_url(project), {"member": str(stranger.uuid)}, format="json")

    assert (response.status_code, errors_of(response)) == (400, [("member", "does_not_exist")])


def test_the_same_rule_twice_is_409(tenant, project, manager):
    body = {"attribute": "affiliation", "value": "Acme"}
    assert manager.post(project_exclusions_url(project), body, format="json").status_code == 201

    response = manager.post(project_exclusions_url(project), {**body, "value": "ACME"}, format="json")

    assert (response.status_code, response.json()["detail"]) == (409, "The same exclusion already exists.")
    assert ConflictExclusion.objects.count() == 1


def test_lists_show_a_projects_rules_with_the_organization_wide_ones_and_the_organization_all(tenant, manager):
    project, other = ProjectFactory(), ProjectFactory()
    own = ConflictExclusionFactory(project=project)
    everywhere = ConflictExclusionFactory(project=None, membership=None, attribute="affiliation", value="Acme")
    elsewhere = ConflictExclusionFactory(project=other)

    on_project = manager.get(project_exclusions_url(project)).json()["results"]
    in_organization = manager.get(EXCLUSIONS_URL).json()["results"]

    assert [e["id"] for e in on_project] == [str(own.uuid), str(everywhere.uuid)]
    assert [e["id"] for e in in_organization] == [str(own.uuid), str(everywhere.uuid), str(elsewhere.uuid)]


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_below_manager_never_sees_or_changes_exclusions(tenant, project, role):
    client, me = member_client(tenant, role)
    rule = ConflictExclusionFactory(project=project, membership=me, reason="Consults for the sponsor")

    responses = [
        client.get(EXCLUSIONS_URL),
        client.get(project_exclusions_url(project)),
        client.post(EXCLUSIONS_URL, {"attribute": "affiliation", "value": "Acme"}, format="json"),
        client.delete(f"{EXCLUSIONS_URL}{rule.uuid}"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert all("Consults" not in r.content.decode() for r in responses)
    assert ConflictExclusion.objects.count() == 1
    # The refusal to serve names the kind of reason, never the rule.
    TaskFactory(project=project)
    refused = client.post(next_url(project))
    assert (refused.status_code, refused.content, refused["X-No-Work-Reason"]) == (204, b"", "excluded")


def test_removing_a_rule_lets_the_member_work_again_and_is_audited(project, annotator, manager, nudges):
    TaskFactory(project=project)
    alice = annotator()
    rule = ConflictExclusionFactory(project=project, membership=alice.membership)
    assert alice.post(next_url(project)).status_code == 204

    response = manager.delete(f"{EXCLUSIONS_URL}{rule.uuid}")

    assert response.status_code == 204
    assert ConflictExclusion.objects.count() == 0
    assert alice.post(next_url(project)).status_code == 201
    event = AuditEvent.objects.get(action="exclusion.delete")
    assert (event.target_id, event.changes["member"]) == (str(rule.uuid), [str(alice.membership.uuid), None])
    assert nudges == [project.pk]


def test_nobody_lifts_a_rule_that_keeps_themselves_out(tenant, project):
    client, me = member_client(tenant, Role.MANAGER)
    me.attributes = {"affiliation": "Acme"}
    me.save(update_fields=["attributes"])
    by_name = ConflictExclusionFactory(project=project, membership=me)
    by_attribute = ConflictExclusionFactory(project=None, membership=None, attribute="affiliation", value="acme")

    responses = [client.delete(f"{EXCLUSIONS_URL}{rule.uuid}") for rule in (by_name, by_attribute)]

    assert [(r.status_code, r.json()["detail"]) for r in responses] == [
        (403, "This exclusion applies to you; another manager must remove it.")
    ] * 2
    assert ConflictExclusion.objects.count() == 2


def test_an_unknown_exclusion_is_404(tenant, manager):
    response = manager.delete(f"{EXCLUSIONS_URL}00000000-0000-0000-0000-000000000000")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
