"""The labelling and review pages on the server: who may open them, what a blind project shows, and refusals
on record. (Their behaviour in a browser is tested in tests/browser/.)"""

import json
import uuid

import pytest
from django.test import Client

from audit.models import AuditEvent
from core.context import organization_context
from tenancy.models import Role
from tests.factories import AnnotationFactory, ConflictExclusionFactory, MembershipFactory, ProjectFactory, TaskFactory

SCHEMA = {"fields": [{"name": "label", "type": "choices", "options": ["yes", "no"]}]}


def _signed_in(role: Role) -> tuple[Client, object]:
    membership = MembershipFactory(role=role)
    client = Client()
    client.force_login(membership.user)
    return client, membership


def _json_script(response, element_id: str):
    html = response.content.decode()
    opening = f'id="{element_id}" type="application/json">'
    start = html.index(opening) + len(opening)
    return json.loads(html[start : html.index("</script>", start)])


def test_the_labelling_page_shows_a_blind_project_by_its_codename_only(tenant):
    project = ProjectFactory(name="Oncology second reads", codename="Kestrel", label_schema=SCHEMA)
    client, _ = _signed_in(Role.ANNOTATOR)
    response = client.get(f"/projects/{project.uuid}/label")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Kestrel" in body
    assert "Oncology second reads" not in body
    assert _json_script(response, "label-schema")["fields"][0]["name"] == "label"
    settings = _json_script(response, "workspace-settings")
    assert (settings["project"], settings["prefetch"]) == (str(project.uuid), False)


def test_the_heartbeat_renews_a_lease_well_before_it_ends(tenant):
    client, _ = _signed_in(Role.ANNOTATOR)
    for lease, beat in ((30, 10), (300, 60), (900, 60), (90, 30)):
        project = ProjectFactory(label_schema=SCHEMA, lease_seconds=lease, max_active_per_annotator=2)
        settings = _json_script(client.get(f"/projects/{project.uuid}/label"), "workspace-settings")
        assert (settings["heartbeat_seconds"], settings["prefetch"]) == (beat, True)


@pytest.mark.parametrize("path", ["/projects/{id}/label", "/projects/{id}/review"])
def test_another_organizations_project_is_not_found_like_a_missing_one(tenant, other_tenant, path):
    with organization_context(other_tenant.pk):
        theirs = ProjectFactory(label_schema=SCHEMA, review_mode="all")
    client, _ = _signed_in(Role.OWNER)
    foreign = client.get(path.format(id=theirs.uuid))
    missing = client.get(path.format(id=uuid.uuid4()))
    garbage = client.get(path.format(id="not-a-uuid"))
    assert foreign.status_code == missing.status_code == garbage.status_code == 404
    assert foreign.content == missing.content


def test_signed_out_visitors_are_sent_to_sign_in(tenant):
    project = ProjectFactory(label_schema=SCHEMA)
    for path in (f"/projects/{project.uuid}/label", f"/projects/{project.uuid}/review", "/review/"):
        response = Client().get(path)
        assert (response.status_code, response["Location"].split("?")[0]) == (302, "/login/")


def test_annotators_may_not_review_and_the_refusal_is_on_record(tenant):
    project = ProjectFactory(label_schema=SCHEMA, review_mode="all")
    client, membership = _signed_in(Role.ANNOTATOR)
    assert client.get("/review/").status_code == 403
    assert client.get(f"/projects/{project.uuid}/review").status_code == 403
    denied = AuditEvent.objects.filter(action="access.forbidden", actor_user_id=membership.user_id)
    assert sorted(denied.values_list("target_type", flat=True)) == ["ui:project-review", "ui:review-queue"]


def test_the_review_queue_counts_only_what_this_reviewer_may_judge(tenant):
    reviewed = ProjectFactory(name="Reviewed", label_schema=SCHEMA, review_mode="all")
    ProjectFactory(name="Unreviewed", label_schema=SCHEMA, review_mode="none")
    excluded = ProjectFactory(name="Conflicted", label_schema=SCHEMA, review_mode="all")
    client, reviewer = _signed_in(Role.REVIEWER)
    ConflictExclusionFactory(project=excluded, membership=reviewer)
    waiting = {"review_state": "pending", "review_level": 1}
    for _ in range(3):
        AnnotationFactory(project=reviewed, task=TaskFactory(project=reviewed), **waiting)
    AnnotationFactory(project=reviewed, task=TaskFactory(project=reviewed), annotator=reviewer, **waiting)  # own

    response = client.get("/review/")
    assert response.status_code == 200
    assert [(row["title"], row["level_1"]) for row in response.context["rows"]] == [("Reviewed", 3)]
    assert client.get(f"/projects/{excluded.uuid}/review").status_code == 403
    page = client.get(f"/projects/{reviewed.uuid}/review")
    assert page.status_code == 200
    assert _json_script(page, "workspace-settings")["level"] == 1


def test_a_project_without_a_form_says_so_instead_of_serving_work(tenant):
    project = ProjectFactory(label_schema={"fields": []})
    client, _ = _signed_in(Role.ANNOTATOR)
    response = client.get(f"/projects/{project.uuid}/label")
    assert response.status_code == 200
    assert "Nothing to label yet" in response.content.decode()
    assert "workspace.js" not in response.content.decode()


def test_a_manager_on_a_project_without_fields_is_sent_to_its_schema_page(tenant):
    project = ProjectFactory(label_schema={"fields": []})
    manager, _ = _signed_in(Role.MANAGER)
    annotator, _ = _signed_in(Role.ANNOTATOR)

    for_manager = manager.get(f"/projects/{project.uuid}/label").content.decode()
    for_annotator = annotator.get(f"/projects/{project.uuid}/label").content.decode()

    # The schema page is a manager's: only they are pointed there; an annotator is told who sets it up.
    assert f'<a class="button" href="/projects/{project.uuid}/schema">Define label fields</a>' in for_manager
    assert "/schema" not in for_annotator
    assert "A project manager sets it up" in for_annotator
