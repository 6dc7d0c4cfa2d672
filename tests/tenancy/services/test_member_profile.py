"""Members' routing profile: languages, conflict-of-interest attributes and the organization-wide pause (admins)."""

import pytest

from audit.models import AuditEvent
from tenancy.models import Membership, Role
from tests.conftest import member_client
from tests.factories import MembershipFactory, ProjectFactory, TaskFactory


def member_url(member: Membership, action: str = "") -> str:
    return f"/api/v1/members/{member.uuid}{'/' + action if action else ''}"


def errors_of(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


def stored(member: Membership) -> Membership:
    return Membership.objects.get(pk=member.pk)


# --- languages and attributes ---


def test_admin_sets_languages_and_attributes_normalised_and_audited(tenant):
    client, admin = member_client(tenant, Role.ADMIN)
    member = MembershipFactory(role=Role.ANNOTATOR)
    body = {
        "languages": ["EN", "pt-BR", "en"],
        "attributes": {"affiliation": " Acme Pharma ", "former_employers": ["Initech", "Globex"]},
    }

    response = client.patch(member_url(member), body, format="json")

    assert response.status_code == 200
    expected_attributes = {"affiliation": "Acme Pharma", "former_employers": ["Initech", "Globex"]}
    assert (response.json()["languages"], response.json()["attributes"]) == (["en", "pt-br"], expected_attributes)
    assert (stored(member).languages, stored(member).attributes, stored(member).role) == (
        ["en", "pt-br"],
        expected_attributes,
        "annotator",
    )
    event = AuditEvent.objects.get(action="member.update")
    assert (event.target_id, event.actor_label) == (str(member.uuid), admin.user.email)
    assert event.changes == {"languages": [[], ["en", "pt-br"]], "attributes": [{}, expected_attributes]}


def test_member_detail_shows_the_routing_profile(tenant, api_as):
    member = MembershipFactory(role=Role.ANNOTATOR, languages=["de"], attributes={"affiliation": "Acme"})

    body = api_as(tenant, Role.MANAGER).get(member_url(member)).json()

    assert (body["languages"], body["attributes"], body["paused_at"], body["paused_reason"]) == (
        ["de"],
        {"affiliation": "Acme"},
        None,
        "",
    )


def test_an_unchanged_profile_writes_nothing(tenant, api_as):
    member = MembershipFactory(role=Role.ANNOTATOR, languages=["de"])

    response = api_as(tenant, Role.ADMIN).patch(member_url(member), {"languages": ["DE"]}, format="json")

    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action="member.update").exists()


def test_role_and_profile_change_together(tenant, api_as):
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = api_as(tenant, Role.ADMIN).patch(
        member_url(member), {"role": "reviewer", "languages": ["fr"]}, format="json"
    )

    assert (response.status_code, response.json()["role"], response.json()["languages"]) == (200, "reviewer", ["fr"])
    assert [e.changes for e in AuditEvent.objects.filter(action="member.update").order_by("id")] == [
        {"role": ["annotator", "reviewer"]},
        {"languages": [[], ["fr"]]},
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, [("body", "empty")]),
        ({"languages": "en"}, [("languages", "not_a_list")]),
        ({"languages": ["en", "english", 7]}, [("languages[1]", "invalid"), ("languages[2]", "invalid")]),
        ({"attributes": ["affiliation"]}, [("attributes", "not_an_object")]),
        ({"attributes": {"Affiliation": "Acme"}}, [("attributes.Affiliation", "invalid_key")]),
        ({"attributes": {"affiliation": ""}}, [("attributes.affiliation", "invalid")]),
        ({"attributes": {"affiliation": "a" * 201}}, [("attributes.affiliation", "invalid")]),
        ({"attributes": {"employers": ["Acme", 3]}}, [("attributes.employers[1]", "invalid")]),
        ({"attributes": {"affiliation": {"name": "Acme"}}}, [("attributes.affiliation", "invalid")]),
        ({"languages": ["en"], "paused_at": None}, [("paused_at", "unknown_field")]),
    ],
)
def test_bad_profile_input_names_the_field(tenant, api_as, body, expected):
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = api_as(tenant, Role.ADMIN).patch(member_url(member), body, format="json")

    assert (response.status_code, errors_of(response)) == (400, expected)
    assert (stored(member).languages, stored(member).attributes) == ([], {})
    assert not AuditEvent.objects.filter(action="member.update").exists()


def test_nobody_edits_their_own_attributes_and_admins_not_other_admins(tenant):
    client, admin = member_client(tenant, Role.ADMIN)
    other_admin = MembershipFactory(role=Role.ADMIN)
    body = {"attributes": {"affiliation": "Nobody"}}

    own = client.patch(member_url(admin), body, format="json")
    peer = client.patch(member_url(other_admin), body, format="json")

    assert (own.status_code, own.json()["detail"]) == (
        403,
        "You cannot change your own languages, attributes or pause; ask another owner or admin.",
    )
    assert (peer.status_code, peer.json()["detail"]) == (403, "Only owners may manage owners and admins.")
    assert (stored(admin).attributes, stored(other_admin).attributes) == ({}, {})


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ANNOTATOR])
def test_below_admin_cannot_edit_profiles(tenant, api_as, role):
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = api_as(tenant, role).patch(member_url(member), {"languages": ["en"]}, format="json")

    assert (response.status_code, response.json()["detail"]) == (403, "This action needs the admin role or higher.")
    assert stored(member).languages == []


def test_languages_decide_which_tasks_a_member_gets(tenant, api_as):
    project = ProjectFactory()
    TaskFactory(project=project, language="de")
    annotator, member = member_client(tenant, Role.ANNOTATOR)
    next_url = f"/api/v1/projects/{project.uuid}/next"
    assert annotator.post(next_url).status_code == 204

    api_as(tenant, Role.ADMIN).patch(member_url(member), {"languages": ["de"]}, format="json")

    assert annotator.post(next_url).status_code == 201


# --- pause ---


def test_admin_pauses_a_member_who_then_gets_no_work_and_unpauses_them(tenant):
    client, admin = member_client(tenant, Role.ADMIN)
    project = ProjectFactory()
    TaskFactory(project=project)
    annotator, member = member_client(tenant, Role.ANNOTATOR)
    next_url = f"/api/v1/projects/{project.uuid}/next"

    paused = client.post(member_url(member, "pause"), {"reason": "Contract under review"}, format="json")

    assert (paused.status_code, paused.json()["paused_reason"]) == (200, "Contract under review")
    assert paused.json()["paused_at"] is not None
    refused = annotator.post(next_url)
    assert (refused.status_code, refused["X-No-Work-Reason"]) == (204, "member_paused")

    unpaused = client.post(member_url(member, "unpause"), {}, format="json")

    assert (unpaused.status_code, unpaused.json()["paused_at"], unpaused.json()["paused_reason"]) == (200, None, "")
    assert annotator.post(next_url).status_code == 201
    pause, unpause = AuditEvent.objects.filter(action__in=["member.pause", "member.unpause"]).order_by("id")
    assert (pause.action, pause.target_id, pause.changes) == (
        "member.pause",
        str(member.uuid),
        {"paused_reason": [None, "Contract under review"]},
    )
    assert (unpause.action, unpause.changes["paused_reason"], unpause.actor_label) == (
        "member.unpause",
        ["Contract under review", None],
        admin.user.email,
    )


def test_pausing_a_paused_member_only_changes_the_reason(tenant, api_as):
    admin = api_as(tenant, Role.ADMIN)
    member = MembershipFactory(role=Role.ANNOTATOR)
    admin.post(member_url(member, "pause"), {"reason": "first"}, format="json")
    first_paused_at = stored(member).paused_at

    again = admin.post(member_url(member, "pause"), {"reason": "second"}, format="json")
    same = admin.post(member_url(member, "pause"), {"reason": "second"}, format="json")

    assert (again.status_code, same.status_code) == (200, 200)
    assert (stored(member).paused_at, stored(member).paused_reason) == (first_paused_at, "second")
    assert [e.changes for e in AuditEvent.objects.filter(action="member.pause").order_by("id")] == [
        {"paused_reason": [None, "first"]},
        {"paused_reason": ["first", "second"]},
    ]


def test_unpausing_a_member_who_is_not_paused_is_409(tenant, api_as):
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = api_as(tenant, Role.ADMIN).post(member_url(member, "unpause"), {}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "conflict")
    assert not AuditEvent.objects.filter(action="member.unpause").exists()


def test_nobody_lifts_their_own_pause(tenant):
    client, admin = member_client(tenant, Role.ADMIN)
    owner_client, _ = member_client(tenant, Role.OWNER)
    owner_client.post(member_url(admin, "pause"), {"reason": "audit"}, format="json")

    response = client.post(member_url(admin, "unpause"), {}, format="json")

    assert response.status_code == 403
    assert stored(admin).paused_at is not None


@pytest.mark.parametrize(
    ("action", "body", "expected"),
    [
        ("pause", {"reason": "r" * 301}, [("reason", "max_length")]),
        ("pause", {"reason": "x", "until": "tomorrow"}, [("until", "unknown_field")]),
        ("unpause", {"reason": "x"}, [("reason", "unknown_field")]),
    ],
)
def test_bad_pause_input_names_the_field(tenant, api_as, action, body, expected):
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = api_as(tenant, Role.ADMIN).post(member_url(member, action), body, format="json")

    assert (response.status_code, errors_of(response)) == (400, expected)
    assert not AuditEvent.objects.filter(action__startswith="member.").exists()


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ANNOTATOR])
def test_below_admin_cannot_pause(tenant, api_as, role):
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = api_as(tenant, role).post(member_url(member, "pause"), {"reason": "x"}, format="json")

    assert response.status_code == 403
    assert stored(member).paused_at is None
    assert AuditEvent.objects.filter(action="access.forbidden").count() == 1
