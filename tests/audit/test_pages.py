"""The audit trail page: who may open it, search and filters, keyset pages, verification, and escaping."""

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test import Client

from audit import pages
from audit.models import AuditEvent
from audit.selectors.events import EventPosition
from audit.services.sealing import audit_seal
from audit.signing import current_key_id
from core.audit.context import ActorContext, actor_context
from core.audit.record import audit_record
from tenancy.models import Role
from tests.factories import MembershipFactory

AUDIT_URL = "/audit/"
VERIFY_URL = "/audit/verify"


def _client_as(role: Role, **client_options) -> tuple[Client, object]:
    membership = MembershipFactory(role=role)
    client = Client(**client_options)
    client.force_login(membership.user)
    return client, membership


def _record(action: str, *, actor: str = "alice@lab.example", **fields) -> AuditEvent:
    with actor_context(ActorContext(user_label=actor, ip="10.0.0.7", request_id="req-0123456789")):
        return audit_record(action=action, **fields)


def _actions(response) -> list[str]:
    return [row.action for row in response.context["events"]]


def _sequences(response) -> list[int]:
    return [row.sequence for row in response.context["events"]]


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_owners_and_admins_see_the_trail_newest_first(tenant, role):
    _record("project.create", target_type="projects.project", target_id="p-1")
    _record("member.add", actor="bob@lab.example")
    client, _ = _client_as(role)

    response = client.get(AUDIT_URL)

    assert response.status_code == 200
    assert _actions(response) == ["member.add", "project.create"]
    assert response.context["key_id"] == current_key_id()
    assert current_key_id() in response.text
    assert 'href="/audit/" aria-current="page">Audit trail</a>' in response.text


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR])
@pytest.mark.parametrize(("method", "url"), [("get", AUDIT_URL), ("post", VERIFY_URL)])
def test_lower_roles_are_refused_and_the_refusal_is_recorded(tenant, role, method, url):
    _record("project.create")
    client, membership = _client_as(role)

    response = getattr(client, method)(url)

    assert response.status_code == 403
    assert "with the admin role or higher" in response.text
    assert "project.create" not in response.text
    denied = AuditEvent.objects.exclude(action="project.create").values_list(
        "action", "outcome", "target_type", "actor_label", "metadata"
    )
    assert list(denied) == [
        (
            "access.forbidden",
            "denied",
            f"ui:{'audit' if method == 'get' else 'audit-verify'}",
            membership.user.email,
            {"method": method.upper(), "path": url},
        )
    ]


def test_the_audit_link_is_shown_to_admins_only(tenant):
    admin, _ = _client_as(Role.ADMIN)
    manager, _ = _client_as(Role.MANAGER)
    link = '<a href="/audit/"'

    assert link in admin.get("/").text
    assert link not in manager.get("/").text


def test_anonymous_visitors_are_sent_to_sign_in(db):
    response = Client().get(AUDIT_URL)

    assert (response.status_code, response["Location"]) == (302, "/login/?next=/audit/")


def test_search_box_qualifiers_filter_the_events(tenant):
    _record("import.create")
    _record("import.finish", actor="bob@lab.example", outcome="failure")
    _record("member.add")
    client, _ = _client_as(Role.OWNER)

    by_action = client.get(AUDIT_URL, {"q": "action:import.*"})
    by_actor_and_outcome = client.get(AUDIT_URL, {"q": "actor:bob@lab.example outcome:failure"})

    assert _actions(by_action) == ["import.finish", "import.create"]
    assert _actions(by_actor_and_outcome) == ["import.finish"]
    assert by_action.context["form"]["q"].value() == "action:import.*"


def test_filter_fields_combine_with_the_search_box(tenant):
    _record("import.create")
    _record("import.finish", outcome="failure")
    _record("audit.verify", outcome="failure")
    _record("data_access.task_view", target_type="projects.task", target_id="task-7")
    client, _ = _client_as(Role.ADMIN)

    failed_imports = client.get(AUDIT_URL, {"q": "action:import.*", "outcome": "failure"})
    by_category = client.get(AUDIT_URL, {"category": "data_access"})
    by_target = client.get(AUDIT_URL, {"target": "task-7"})
    today = datetime.now(UTC).date().isoformat()
    in_range = client.get(AUDIT_URL, {"since": today, "until": today, "action": "audit.verify"})
    before_range = client.get(AUDIT_URL, {"until": "2000-01-01"})

    assert _actions(failed_imports) == ["import.finish"]
    assert _actions(by_category) == ["data_access.task_view"]
    assert _actions(by_target) == ["data_access.task_view"]
    assert _actions(in_range) == ["audit.verify"]
    assert _actions(before_range) == []
    assert "No events match this search." in before_range.text
    # The category select offers the categories the trail has, and keeps the chosen one selected.
    assert '<option value="data_access" selected>data_access</option>' in by_category.text


def test_export_links_carry_the_current_filter(tenant):
    client, _ = _client_as(Role.ADMIN)

    response = client.get(AUDIT_URL, {"q": "action:export.*", "outcome": "denied", "before": "99"})

    jsonl, csv = response.context["export_jsonl_url"], response.context["export_csv_url"]
    assert jsonl == "/api/v1/audit/events/export?q=action%3Aexport.%2A&outcome=denied&format=jsonl"
    assert csv == "/api/v1/audit/events/export?q=action%3Aexport.%2A&outcome=denied&format=csv"


def test_pages_are_keyset_cursors_older_and_newer(tenant, monkeypatch):
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    for number in range(5):
        _record("project.update", metadata={"n": number})
    _record("member.add")
    client, _ = _client_as(Role.ADMIN)
    search = {"q": "action:project.*"}

    first = client.get(AUDIT_URL, search)
    second = client.get(first.context["older_url"])
    third = client.get(second.context["older_url"])
    back = client.get(third.context["newer_url"])
    newest = client.get(back.context["newer_url"])

    assert _sequences(first) == [5, 4]
    assert _sequences(second) == [3, 2]
    assert _sequences(third) == [1]
    assert _sequences(back) == [3, 2]
    assert _sequences(newest) == [5, 4]
    assert first.context["newer_url"] == ""
    assert third.context["older_url"] == ""
    events = list(AuditEvent.objects.filter(category="project").order_by("-occurred_at", "-id"))
    assert first.context["older_url"] == f"/audit/?q=action%3Aproject.%2A&before={EventPosition.of(events[1]).token()}"
    assert third.context["newer_url"] == f"/audit/?q=action%3Aproject.%2A&after={EventPosition.of(events[4]).token()}"
    assert 'rel="next"' in second.text
    assert 'rel="prev"' in second.text


@pytest.mark.parametrize("cursor", ["before", "after"])
def test_a_malformed_cursor_shows_the_newest_page(tenant, cursor):
    for number in range(3):
        _record("project.update", metadata={"n": number})
    client, _ = _client_as(Role.ADMIN)

    response = client.get(AUDIT_URL, {"category": "project", cursor: "99"})

    assert response.status_code == 200
    assert _sequences(response) == [3, 2, 1]
    assert response.context["newer_url"] == ""


def test_a_cursor_at_the_trail_end_still_links_back_to_the_events_it_names(tenant, monkeypatch):
    monkeypatch.setattr(pages, "PAGE_SIZE", 2)
    events = [_record("project.update", metadata={"n": number}) for number in range(3)]
    client, _ = _client_as(Role.ADMIN)

    past_the_oldest = client.get(AUDIT_URL, {"category": "project", "before": EventPosition.of(events[0]).token()})
    back = client.get(past_the_oldest.context["newer_url"])
    past_the_newest = client.get(AUDIT_URL, {"category": "project", "after": EventPosition.of(events[2]).token()})
    forward = client.get(past_the_newest.context["older_url"])

    assert _sequences(past_the_oldest) == []
    assert _sequences(back) == [2, 1]
    assert _sequences(past_the_newest) == []
    assert _sequences(forward) == [3, 2]


def test_a_page_costs_the_same_queries_however_many_events(tenant, django_assert_num_queries):
    for number in range(60):
        _record("project.update", metadata={"n": number})
    client, _ = _client_as(Role.ADMIN)
    client.get(AUDIT_URL)  # the session and user are loaded once; count a warm request

    # Session and user, the tenant scope's settings and savepoints, the membership and its user, the category
    # list and one page read (the "newer" probe is skipped on the first page): fixed, never one per event.
    with django_assert_num_queries(15):
        response = client.get(AUDIT_URL)

    assert len(response.context["events"]) == pages.PAGE_SIZE


def test_an_invalid_search_shows_the_error_next_to_the_box_with_status_400(tenant):
    _record("project.create")
    client, _ = _client_as(Role.ADMIN)

    response = client.get(AUDIT_URL, {"q": "outcome:maybe"})

    assert response.status_code == 400
    assert response.context["search_error"] == "Invalid search: 'maybe' is not one of success, denied, failure."
    assert re.search(r'<p class="field-error" id="search-error" role="alert">Invalid search: ', response.text)
    assert 'aria-invalid="true"' in response.text
    assert response.context["events"] == []


def test_an_invalid_filter_field_is_reported_on_that_field(tenant):
    client, _ = _client_as(Role.ADMIN)

    response = client.get(AUDIT_URL, {"since": "yesterday"})

    assert response.status_code == 400
    assert response.context["search_error"] == ""
    assert response.context["form"].errors == {"since": ["'yesterday' is not a date (YYYY-MM-DD) or an ISO 8601 time."]}


def test_verify_posts_with_csrf_shows_the_counts_and_is_recorded(tenant):
    for _ in range(3):
        _record("project.update")
    audit_seal()
    _record("project.update")
    client, membership = _client_as(Role.ADMIN, enforce_csrf_checks=True)
    page = client.get(AUDIT_URL)
    token = page.cookies["csrftoken"].value

    refused = client.post(VERIFY_URL)
    response = client.post(VERIFY_URL, {"csrfmiddlewaretoken": token})

    assert refused.status_code == 403
    assert response.status_code == 200
    assert "<strong>Verified:</strong> 3 events in 1 checkpoint, 1 not yet sealed." in response.text
    event = AuditEvent.objects.get(action="audit.verify")
    assert (event.outcome, event.actor_label) == ("success", membership.user.email)
    # The same record as a verification through the API (audit.services.verification).
    assert event.metadata == {
        "category": None,
        "ok": True,
        "events_checked": 3,
        "checkpoints_checked": 1,
        "unsealed_events": 1,
        "first_problem": None,
    }
    # The verification is itself on the trail that is then listed.
    assert _actions(response)[0] == "audit.verify"


def test_verify_keeps_the_current_search(tenant):
    _record("project.update")
    _record("member.add")
    client, _ = _client_as(Role.OWNER)

    response = client.post(f"{VERIFY_URL}?q=action:member.*")

    assert _actions(response) == ["member.add"]
    assert 'action="/audit/verify?q=action%3Amember.%2A"' in response.text


def test_verify_names_the_first_altered_event(tenant):
    for _ in range(3):
        _record("project.update")
    audit_seal()
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE audit_auditevent SET actor_label = 'mallory' WHERE category = 'project' AND sequence = 2"
        )
        cursor.execute("SET session_replication_role = origin")
        cursor.execute("SET ROLE annotate_app")
    client, _ = _client_as(Role.OWNER)

    response = client.post(VERIFY_URL)

    assert response.status_code == 200
    assert '<div class="alert alert-block" role="alert" id="verify-result">' in response.text
    assert "<strong>Verification failed at event <code>project #2</code></strong>" in response.text
    assert '<span class="kind">altered</span>' in response.text
    assert "<p>Event project #2 does not match its seal.</p>" in response.text
    event = AuditEvent.objects.get(action="audit.verify")
    assert event.outcome == "failure"
    assert event.metadata["first_problem"] == {
        "category": "project",
        "kind": "altered",
        "message": "Event project #2 does not match its seal.",
        "sequence": 2,
    }


def test_changes_and_metadata_are_rendered_as_text(tenant):
    _record(
        "project.update",
        changes={"name": ["Old", "<b>New</b>"]},
        metadata={"note": "<script>alert(1)</script>"},
        target_type="projects.project",
        target_id="<img src=x>",
    )
    client, _ = _client_as(Role.ADMIN)

    response = client.get(AUDIT_URL)

    assert "<script>alert(1)</script>" not in response.text
    assert "<b>New</b>" not in response.text
    assert "<img src=x>" not in response.text
    assert "<dt>note</dt><dd><code>&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;</code></dd>" in response.text
    assert "<dt>name</dt><dd><code>&quot;Old&quot; → &quot;&lt;b&gt;New&lt;/b&gt;&quot;</code></dd>" in response.text
    assert "&lt;img src=x&gt;" in response.text
    assert "<summary>changes: name · metadata: note</summary>" in response.text


def test_an_empty_trail_says_so(tenant):
    client, _ = _client_as(Role.OWNER)

    response = client.get(AUDIT_URL)

    assert response.status_code == 200
    assert "No events yet." in response.text
