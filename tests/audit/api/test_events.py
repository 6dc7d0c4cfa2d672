"""GET /api/v1/audit/events/ (search, keyset pages newest first) and /api/v1/audit/events/export (JSONL, CSV)."""

import csv
import io
import json

import pytest

from audit.models import AuditEvent
from audit.services.sealing import audit_seal
from core.audit.context import ActorContext, actor_context
from core.audit.record import audit_record
from tenancy.models import Role
from tests.factories import ProjectFactory, UserFactory

URL = "/api/v1/audit/events/"
EXPORT = "/api/v1/audit/events/export"


def record(action: str, actor: str = "", **kwargs) -> None:
    with actor_context(ActorContext(user_label=actor)):
        audit_record(action=action, **kwargs)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def admin(tenant, api_as):
    client = api_as(tenant, Role.ADMIN, user=UserFactory(email="root@lab.example"))
    project = ProjectFactory(organization=tenant)
    record("project.update", "alice@lab.example", target=project, metadata={"n": 1})
    record("export.create", "alice@lab.example", target=project)
    record("project.update", "bob@lab.example", target=project, metadata={"n": 2})
    record("access.not_found", "mallory@lab.example", outcome="denied", target_type="api.projects")
    record("export.complete", "bob@lab.example", target=project)
    client.project = project
    return client


def actions(response) -> list[tuple[str, str]]:
    return [(e["action"], e["actor"]) for e in response.json()["results"]]


def test_lists_newest_first(admin):
    response = admin.get(URL)

    assert response.status_code == 200
    assert actions(response)[:5] == [
        ("export.complete", "bob@lab.example"),
        ("access.not_found", "mallory@lab.example"),
        ("project.update", "bob@lab.example"),
        ("export.create", "alice@lab.example"),
        ("project.update", "alice@lab.example"),
    ]


def test_parameters_and_q_combine(admin):
    response = admin.get(URL, {"q": "action:export.*", "actor": "bob@lab.example"})

    assert response.status_code == 200
    assert actions(response) == [("export.complete", "bob@lab.example")]


def test_search_by_outcome_and_free_text(admin):
    assert actions(admin.get(URL, {"q": "outcome:denied"})) == [("access.not_found", "mallory@lab.example")]
    assert actions(admin.get(URL, {"q": "update alice"})) == [("project.update", "alice@lab.example")]


def test_invalid_search_is_a_400_naming_the_qualifier(admin):
    response = admin.get(URL, {"q": "created:>last-week"})

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Invalid search: 'last-week' is not a date (YYYY-MM-DD) or an ISO 8601 time.",
        "code": "invalid",
        "errors": [
            {
                "field": "q.created",
                "message": "'last-week' is not a date (YYYY-MM-DD) or an ISO 8601 time.",
                "code": "invalid",
            }
        ],
    }


def test_cursor_pages_walk_newest_first_without_repeats(admin):
    seen: list[tuple[str, str]] = []
    response = admin.get(URL, {"q": "actor:alice@lab.example actor:alice@lab.example", "page_size": 1})
    pages = 0
    while True:
        assert response.status_code == 200
        seen += actions(response)
        pages += 1
        if not response.json()["next"]:
            break
        response = admin.get(response.json()["next"])

    assert pages == 2
    assert seen == [("export.create", "alice@lab.example"), ("project.update", "alice@lab.example")]


def test_cursor_links_walk_back_and_forth_and_split_events_of_the_same_instant(admin, monkeypatch):
    # Three more events recorded in the same microsecond: only their ids order them.
    moment = AuditEvent.objects.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
    monkeypatch.setattr(AuditEvent._meta.get_field("occurred_at"), "_get_default", lambda: moment)
    for number in range(3):
        record("project.update", "carol@lab.example", metadata={"n": number})
    newest_first = list(AuditEvent.objects.order_by("-occurred_at", "-id").values_list("sequence", "category"))

    pages = [admin.get(URL, {"page_size": 3})]
    while pages[-1].json()["next"]:
        pages.append(admin.get(pages[-1].json()["next"]))
    back = admin.get(pages[-1].json()["previous"])
    back_again = admin.get(back.json()["previous"])

    def keys(response) -> list[tuple[int, str]]:
        return [(e["sequence"], e["category"]) for e in response.json()["results"]]

    assert [key for page in pages for key in keys(page)] == newest_first
    assert len(pages) == 3
    assert pages[0].json()["previous"] is None
    assert keys(back) == keys(pages[-2])
    assert keys(back_again) == keys(pages[0])
    assert back_again.json()["previous"] is None


@pytest.mark.parametrize("cursor", ["cD00Mg==", "not base64!", "cD0xLTItMw=="])
def test_a_cursor_that_names_no_position_is_a_404(admin, cursor):
    # "p=42" (an event id alone, as cursors once were), garbage, and "p=1-2-3".
    response = admin.get(URL, {"cursor": cursor})

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found", "errors": []}


def test_export_csv_is_formula_safe_and_filtered(tenant, admin):
    record("project.update", '=HYPERLINK("http://evil")', metadata={"note": "+1"})

    response = admin.get(EXPORT, {"format": "csv", "q": "action:project.update"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert [(r["actor_label"], r["metadata"]) for r in rows] == [
        ("alice@lab.example", '{"n": 1}'),
        ("bob@lab.example", '{"n": 2}'),
        ('\'=HYPERLINK("http://evil")', '{"note": "+1"}'),
    ]


def test_export_jsonl_has_header_events_seals_and_checkpoints_and_is_recorded(tenant, admin):
    audit_seal()
    record("project.update", "carol@lab.example", target=admin.project)  # after the seal: exported, unsealed

    response = admin.get(EXPORT, {"q": "category:project"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in body(response).decode().splitlines()]
    assert [line["type"] for line in lines] == ["header", "event", "event", "event", "seal", "seal", "checkpoint"]
    assert lines[0]["organization"] == str(tenant.uuid)
    assert lines[0]["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert [(e["category"], e["sequence"], e["actor_label"]) for e in lines[1:4]] == [
        ("project", 1, "alice@lab.example"),
        ("project", 2, "bob@lab.example"),
        ("project", 3, "carol@lab.example"),
    ]
    assert [(s["category"], s["sequence"]) for s in lines[4:6]] == [("project", 1), ("project", 2)]
    assert {k: lines[6][k] for k in ("category", "first_sequence", "last_sequence", "key_id")} == {
        "category": "project",
        "first_sequence": 1,
        "last_sequence": 2,
        "key_id": lines[0]["key_id"],
    }
    assert lines[6]["head"] == lines[5]["event_hash"]
    exported = AuditEvent.objects.filter(action="audit.export").values_list("actor_label", "metadata")
    assert list(exported) == [
        ("root@lab.example", {"format": "jsonl", "filters": {"q": "category:project"}, "through_id": lines[3]["id"]})
    ]


def test_export_leaves_out_events_written_after_it_started(tenant, admin):
    response = admin.get(EXPORT, {"q": "category:audit"})

    lines = [json.loads(line) for line in body(response).decode().splitlines()]

    # Its own audit.export event is newer than the export's snapshot.
    assert [line["type"] for line in lines] == ["header"]


def test_unknown_export_format_is_a_400(admin):
    response = admin.get(EXPORT, {"format": "xlsx"})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "format", "message": "'xlsx' is not one of jsonl, csv.", "code": "invalid"}
    ]


@pytest.mark.parametrize("role", [Role.MANAGER, Role.ANNOTATOR])
def test_below_admin_may_neither_search_nor_export(tenant, api_as, role):
    client = api_as(tenant, role)

    assert client.get(URL).status_code == 403
    assert client.get(EXPORT).status_code == 403
