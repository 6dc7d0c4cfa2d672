"""Skills and members' verified levels: defined by admins, verified by managers, read by routing by name."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from tenancy.models import MemberSkill, Role, Skill
from tests.conftest import member_client
from tests.factories import MembershipFactory, MemberSkillFactory, ProjectFactory, SkillFactory, TaskFactory

SKILLS_URL = "/api/v1/skills/"
MEMBER_SKILL_LIST = 8


def skill_url(skill: Skill) -> str:
    return f"{SKILLS_URL}{skill.uuid}"


def member_skills_url(member) -> str:
    return f"/api/v1/members/{member.uuid}/skills/"


def errors_of(response) -> list[tuple[str, str]]:
    return [(e["field"], e["code"]) for e in response.json()["errors"]]


# --- the organization's skills ---


def test_admin_defines_a_skill_and_it_is_audited(tenant):
    client, admin = member_client(tenant, Role.ADMIN)

    response = client.post(SKILLS_URL, {"name": "cardiology", "description": "Heart"}, format="json")

    assert response.status_code == 201
    skill = Skill.objects.get()
    assert response.json() == {
        "id": str(skill.uuid),
        "name": "cardiology",
        "description": "Heart",
        "created_at": response.json()["created_at"],
    }
    event = AuditEvent.objects.get(action="skill.create")
    assert (event.target_id, event.actor_label) == (str(skill.uuid), admin.user.email)
    assert event.changes == {"name": [None, "cardiology"], "description": [None, "Heart"]}


def test_everyone_may_list_skills_only_admins_define_them(tenant, api_as):
    SkillFactory(name="cardiology")
    SkillFactory(name="german-law")
    annotator = api_as(tenant, Role.ANNOTATOR)

    listed = annotator.get(SKILLS_URL)

    assert [s["name"] for s in listed.json()["results"]] == ["cardiology", "german-law"]
    for role in (Role.ANNOTATOR, Role.MANAGER):
        response = api_as(tenant, role).post(SKILLS_URL, {"name": "x"}, format="json")
        assert (response.status_code, response.json()["detail"]) == (403, "This action needs the admin role or higher.")
    assert Skill.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "Cardiology"}, [("name", "invalid")]),
        ({"name": "heart surgery"}, [("name", "invalid")]),
        ({"name": "x" * 65}, [("name", "max_length")]),
        ({}, [("name", "required")]),
        ({"name": "cardiology", "description": "d" * 301}, [("description", "max_length")]),
        ({"name": "cardiology", "level": 3}, [("level", "unknown_field")]),
    ],
)
def test_bad_skill_input_names_the_field(tenant, api_as, body, expected):
    response = api_as(tenant, Role.ADMIN).post(SKILLS_URL, body, format="json")

    assert response.status_code == 400
    assert errors_of(response) == expected
    assert Skill.objects.count() == 0


def test_a_skill_name_is_unique_in_the_organization_only(tenant, other_tenant, api_as):
    SkillFactory(name="cardiology")

    response = api_as(tenant, Role.ADMIN).post(SKILLS_URL, {"name": "cardiology"}, format="json")
    elsewhere = api_as(other_tenant, Role.ADMIN).post(SKILLS_URL, {"name": "cardiology"}, format="json")

    assert (response.status_code, errors_of(response)) == (400, [("name", "unique")])
    assert elsewhere.status_code == 201


def test_describing_and_renaming_a_skill_are_audited(tenant, api_as):
    skill = SkillFactory(name="cardio", description="")

    response = api_as(tenant, Role.ADMIN).patch(
        skill_url(skill), {"name": "cardiology", "description": "Heart"}, format="json"
    )

    assert (response.status_code, response.json()["name"]) == (200, "cardiology")
    assert AuditEvent.objects.get(action="skill.update").changes == {
        "name": ["cardio", "cardiology"],
        "description": ["", "Heart"],
    }


def test_a_skill_that_work_requires_keeps_its_name_and_stays(tenant, api_as):
    admin = api_as(tenant, Role.ADMIN)
    by_project = SkillFactory(name="cardiology")
    by_task = SkillFactory(name="oncology")
    ProjectFactory(name="Heart study", required_skills={"cardiology": 2})
    TaskFactory(required_skills={"oncology": 1})

    renamed = admin.patch(skill_url(by_project), {"name": "heart"}, format="json")
    deleted = admin.delete(skill_url(by_task))

    assert (renamed.status_code, renamed.json()["detail"]) == (
        409,
        "The skill 'cardiology' is required by project 'Heart study'; it cannot be renamed.",
    )
    assert (deleted.status_code, deleted.json()["detail"]) == (
        409,
        "The skill 'oncology' is required by tasks; remove the requirement first.",
    )
    assert sorted(Skill.objects.values_list("name", flat=True)) == ["cardiology", "oncology"]
    assert not AuditEvent.objects.filter(action__in=["skill.update", "skill.delete"]).exists()
    # The description of a required skill may still change.
    assert admin.patch(skill_url(by_project), {"description": "Heart"}, format="json").status_code == 200


def test_deleting_a_skill_withdraws_every_level_in_it(tenant, api_as):
    skill = SkillFactory(name="cardiology")
    MemberSkillFactory.create_batch(2, skill=skill)

    response = api_as(tenant, Role.ADMIN).delete(skill_url(skill))

    assert response.status_code == 204
    assert (Skill.objects.count(), MemberSkill.objects.count()) == (0, 0)
    event = AuditEvent.objects.get(action="skill.delete")
    assert (event.target_id, event.metadata) == (str(skill.uuid), {"holders": 2})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, [("body", "empty")]),
        ({"name": "Cardio Logy"}, [("name", "invalid")]),
        ({"holders": []}, [("holders", "unknown_field")]),
    ],
)
def test_bad_skill_change_names_the_field(tenant, api_as, body, expected):
    skill = SkillFactory(name="cardiology", description="Heart")

    response = api_as(tenant, Role.ADMIN).patch(skill_url(skill), body, format="json")

    assert (response.status_code, errors_of(response)) == (400, expected)
    assert Skill.objects.values_list("name", "description").get() == ("cardiology", "Heart")


def test_renaming_to_a_taken_name_names_the_field(tenant, api_as):
    SkillFactory(name="cardiology")
    other = SkillFactory(name="cardio")

    response = api_as(tenant, Role.ADMIN).patch(skill_url(other), {"name": "cardiology"}, format="json")

    assert (response.status_code, errors_of(response)) == (400, [("name", "unique")])


# --- members' levels ---


def test_manager_verifies_a_level_then_re_verifies_it(tenant):
    client, manager = member_client(tenant, Role.MANAGER)
    member = MembershipFactory(role=Role.ANNOTATOR)
    SkillFactory(name="cardiology")
    expires = (timezone.now() + timedelta(days=365)).replace(microsecond=0)

    created = client.post(
        member_skills_url(member), {"skill": "cardiology", "level": 3, "expires_at": expires.isoformat()}, format="json"
    )
    updated = client.post(member_skills_url(member), {"skill": "cardiology", "level": 4}, format="json")

    assert (created.status_code, updated.status_code) == (201, 200)
    body = updated.json()
    assert (body["skill"], body["level"], body["verified_by"], body["expires_at"], body["current"]) == (
        "cardiology",
        4,
        manager.user.email,
        None,
        True,
    )
    held = MemberSkill.objects.get()
    assert (held.level, held.verified_by_id, held.verified_at is not None) == (4, manager.user_id, True)
    first, second = AuditEvent.objects.filter(action="member.skill_set").order_by("id")
    assert (first.target_id, first.changes) == (
        str(member.uuid),
        {"level": [None, 3], "expires_at": [None, expires.isoformat()]},
    )
    assert second.changes == {"level": [3, 4], "expires_at": [expires.isoformat(), None]}
    assert second.metadata["skill"] == "cardiology"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"skill": "cardiology", "level": 0}, [("level", "min_value")]),
        ({"skill": "cardiology", "level": 6}, [("level", "max_value")]),
        ({"skill": "cardiology"}, [("level", "required")]),
        ({"skill": "astrology", "level": 3}, [("skill", "does_not_exist")]),
        ({"skill": "cardiology", "level": 3, "expires_at": "2001-01-01T00:00:00Z"}, [("expires_at", "in_past")]),
        ({"skill": "cardiology", "level": 3, "verified_by": "me"}, [("verified_by", "unknown_field")]),
    ],
)
def test_bad_level_input_names_the_field(tenant, api_as, body, expected):
    member = MembershipFactory(role=Role.ANNOTATOR)
    SkillFactory(name="cardiology")

    response = api_as(tenant, Role.MANAGER).post(member_skills_url(member), body, format="json")

    assert (response.status_code, errors_of(response)) == (400, expected)
    assert MemberSkill.objects.count() == 0


def test_a_skill_of_another_organization_is_unknown_here(tenant, other_tenant, api_as):
    from core.context import organization_context

    with organization_context(other_tenant.pk):
        SkillFactory(name="cardiology")
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = api_as(tenant, Role.MANAGER).post(
        member_skills_url(member), {"skill": "cardiology", "level": 3}, format="json"
    )

    assert (response.status_code, errors_of(response)) == (400, [("skill", "does_not_exist")])


def test_nobody_verifies_their_own_skills_nor_a_higher_ranked_members(tenant):
    client, manager = member_client(tenant, Role.MANAGER)
    admin = MembershipFactory(role=Role.ADMIN)
    SkillFactory(name="cardiology")
    body = {"skill": "cardiology", "level": 5}

    own = client.post(member_skills_url(manager), body, format="json")
    higher = client.post(member_skills_url(admin), body, format="json")

    assert (own.status_code, own.json()["detail"]) == (403, "You cannot verify your own skills; ask another manager.")
    assert (higher.status_code, higher.json()["detail"]) == (
        403,
        "You cannot change the skills of a member whose role is above yours.",
    )
    assert MemberSkill.objects.count() == 0


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_below_manager_cannot_set_levels(tenant, api_as, role):
    member = MembershipFactory(role=Role.ANNOTATOR)
    SkillFactory(name="cardiology")

    response = api_as(tenant, role).post(member_skills_url(member), {"skill": "cardiology", "level": 5}, format="json")

    assert response.status_code == 403
    assert MemberSkill.objects.count() == 0
    assert AuditEvent.objects.filter(action="access.forbidden").count() == 1


def test_a_member_reads_their_own_levels_expired_ones_marked(tenant):
    client, me = member_client(tenant, Role.ANNOTATOR)
    MemberSkillFactory(membership=me, skill=SkillFactory(name="cardiology"), level=4)
    MemberSkillFactory(
        membership=me, skill=SkillFactory(name="oncology"), level=2, expires_at=timezone.now() - timedelta(days=1)
    )
    other = MembershipFactory(role=Role.ANNOTATOR)

    mine = client.get(member_skills_url(me))
    theirs = client.get(member_skills_url(other))

    assert [(s["skill"], s["level"], s["current"]) for s in mine.json()["results"]] == [
        ("cardiology", 4, True),
        ("oncology", 2, False),
    ]
    assert (theirs.status_code, theirs.json()["detail"]) == (403, "This action needs the manager role or higher.")


@pytest.mark.parametrize("rows", [1, 10])
def test_member_skill_list_costs_the_same_at_any_size(tenant, django_assert_num_queries, rows):
    client, _ = member_client(tenant, Role.MANAGER)
    member = MembershipFactory(role=Role.ANNOTATOR)
    verifier = MembershipFactory(role=Role.MANAGER)
    MemberSkillFactory.create_batch(rows, membership=member, verified_by=verifier.user)
    assert client.get("/api/v1/me").status_code == 200  # the token's first use writes last_used_at

    # The request's fixed cost (see tests/test_query_counts.py), the member named in the URL, and the page.
    with django_assert_num_queries(MEMBER_SKILL_LIST):
        response = client.get(member_skills_url(member))

    assert len(response.json()["results"]) == rows
    assert all(item["verified_by"] == verifier.user.email for item in response.json()["results"])


def test_withdrawing_a_level_is_audited_and_an_unheld_one_is_404(tenant, api_as):
    manager = api_as(tenant, Role.MANAGER)
    member = MembershipFactory(role=Role.ANNOTATOR)
    held = MemberSkillFactory(membership=member, skill=SkillFactory(name="cardiology"), level=3)
    unheld = SkillFactory(name="oncology")

    response = manager.delete(f"{member_skills_url(member)}{held.skill.uuid}")
    missing = manager.delete(f"{member_skills_url(member)}{unheld.uuid}")

    assert (response.status_code, missing.status_code) == (204, 404)
    assert MemberSkill.objects.count() == 0
    event = AuditEvent.objects.get(action="member.skill_remove")
    assert (event.target_id, event.changes, event.metadata["skill"]) == (
        str(member.uuid),
        {"level": [3, None]},
        "cardiology",
    )


def test_a_verified_level_opens_work_that_requires_it(tenant, api_as):
    SkillFactory(name="cardiology")
    project = ProjectFactory(required_skills={"cardiology": 3})
    TaskFactory(project=project)
    annotator, member = member_client(tenant, Role.ANNOTATOR)
    next_url = f"/api/v1/projects/{project.uuid}/next"
    assert annotator.post(next_url)["X-No-Work-Reason"] == "missing_skills"

    assert (
        api_as(tenant, Role.MANAGER)
        .post(member_skills_url(member), {"skill": "cardiology", "level": 3}, format="json")
        .status_code
        == 201
    )

    assert annotator.post(next_url).status_code == 201


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.MANAGER])
def test_below_admin_cannot_change_or_delete_skills(tenant, api_as, role):
    skill = SkillFactory(name="cardiology", description="Heart")
    client = api_as(tenant, role)

    responses = [client.patch(skill_url(skill), {"description": "x"}, format="json"), client.delete(skill_url(skill))]

    assert [(r.status_code, r.json()["detail"]) for r in responses] == [
        (403, "This action needs the admin role or higher.")
    ] * 2
    assert Skill.objects.values_list("name", "description").get() == ("cardiology", "Heart")


def test_an_annotator_cannot_withdraw_a_level(tenant, api_as):
    member = MembershipFactory(role=Role.ANNOTATOR)
    held = MemberSkillFactory(membership=member, skill=SkillFactory(name="cardiology"))

    response = api_as(tenant, Role.ANNOTATOR).delete(f"{member_skills_url(member)}{held.skill.uuid}")

    assert (response.status_code, response.json()["detail"]) == (403, "This action needs the manager role or higher.")
    assert MemberSkill.objects.count() == 1
    assert not AuditEvent.objects.filter(action="member.skill_remove").exists()
