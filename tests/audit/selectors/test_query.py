"""audit.selectors.query (the search language) and audit.selectors.events.audit_event_search (what a query finds)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.selectors.events import (
    EventPosition,
    audit_event_page,
    audit_event_search,
    audit_events_newer,
    audit_events_older,
)
from audit.selectors.query import AuditQuery, parse_search, query_from_params
from core.audit.context import ActorContext, actor_context
from core.audit.record import audit_record
from core.errors import InvalidInput
from tests.factories import MembershipFactory, ProjectFactory, TaskFactory, UserFactory

TASK = "6f1c1a52-6b9e-4d5e-9a57-6a1c1f0b2d11"
PROJECT = "0b3f3c0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


# --- parsing ---


def test_qualifiers_and_free_words_parse_into_one_query():
    query = parse_search(
        f"actor:alice action:export.* created:>2026-11-01 created:<2026-11-20 outcome:denied "
        f"target:{TASK.upper()} category:data_access project:{PROJECT} token:ab12cd34 chest pain"
    )

    assert query == AuditQuery(
        actor="alice",
        token="ab12cd34",
        action="export.*",
        category="data_access",
        target_type=None,
        target_id=TASK,
        project=PROJECT,
        outcome="denied",
        since=datetime(2026, 11, 2, tzinfo=UTC),
        until=datetime(2026, 11, 20, tzinfo=UTC),
        text=("chest", "pain"),
    )


@pytest.mark.parametrize(
    ("value", "since", "until"),
    [
        (">=2026-11-01", datetime(2026, 11, 1, tzinfo=UTC), None),
        ("<=2026-11-20", None, datetime(2026, 11, 21, tzinfo=UTC)),
        ("2026-11-05", datetime(2026, 11, 5, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC)),
        ("2026-11-01..2026-11-03", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)),
        (">2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, 0, 0, 1, tzinfo=UTC), None),
        ("<2026-11-01T10:00:00+02:00", None, datetime(2026, 11, 1, 8, tzinfo=UTC)),
    ],
)
def test_created_ranges(value, since, until):
    query = parse_search(f"created:{value}")

    assert (query.since, query.until) == (since, until)


@pytest.mark.parametrize(
    ("value", "target_type", "target_id"),
    [
        ("projects.task", "projects.task", None),
        (f"projects.task:{TASK}", "projects.task", TASK),
        ("tenancy.membership:*", "tenancy.membership", None),
        ("42", None, "42"),
    ],
)
def test_target_by_type_id_or_both(value, target_type, target_id):
    query = parse_search(f"target:{value}")

    assert (query.target_type, query.target_id) == (target_type, target_id)


def test_quoted_values_keep_their_spaces():
    assert parse_search('actor:"Dr. Alice" "chest pain"') == AuditQuery(actor="Dr. Alice", text=("chest pain",))


@pytest.mark.parametrize(
    ("q", "field"),
    [
        ("created:>yesterday", "q.created"),
        ("created:2026-13-01", "q.created"),
        ("outcome:maybe", "q.outcome"),
        ("colour:red", "q.colour"),
        ("action:ex*port", "q.action"),
        ("project:not-a-uuid", "q.project"),
        ("category:Data-Access", "q.category"),
        ("target:Bad.Type:1", "q.target"),
        ("actor:", "q.actor"),
        ('actor:"alice', "q"),
    ],
)
def test_invalid_qualifiers_name_the_qualifier(q, field):
    with pytest.raises(InvalidInput) as caught:
        parse_search(q)

    assert [e.field for e in caught.value.errors] == [field]


def test_parameters_and_search_string_combine():
    query = query_from_params(
        {"q": "outcome:denied created:>=2026-11-01", "action": "task.update", "since": "2026-11-10"}
    )

    assert query == AuditQuery(action="task.update", outcome="denied", since=datetime(2026, 11, 10, tzinfo=UTC))


def test_a_parameter_and_a_qualifier_that_disagree_are_refused():
    with pytest.raises(InvalidInput) as caught:
        query_from_params({"q": "outcome:denied", "outcome": "success"})

    assert [(e.field, e.code) for e in caught.value.errors] == [("outcome", "conflict")]


def test_an_invalid_parameter_names_the_parameter():
    with pytest.raises(InvalidInput) as caught:
        query_from_params({"until": "soon"})

    assert [e.field for e in caught.value.errors] == ["until"]


# --- what a query finds ---


def record(action: str, actor: str = "", **kwargs) -> int:
    with actor_context(ActorContext(user_label=actor, token_prefix=kwargs.pop("token", ""))):
        return audit_record(action=action, **kwargs).pk


def found(query: AuditQuery) -> list[int]:
    return list(audit_event_search(query).values_list("id", flat=True))


@pytest.fixture
def trail(tenant):
    project = ProjectFactory(organization=tenant)
    other_project = ProjectFactory(organization=tenant)
    task = TaskFactory(project=project)
    alice = MembershipFactory(organization=tenant, user=UserFactory(email="alice@lab.example"))
    ids = {
        "create": record("project.create", "alice@lab.example", target=project),
        "view": record(
            "data_access.task_view", "bob@lab.example", target=task, metadata={"project": str(project.uuid)}
        ),
        "list": record(
            "data_access.task_list",
            "carol@lab.example",
            target=project,
            metadata={"count": 2, "task_ids": [str(uuid.uuid4()), str(task.uuid)]},
        ),
        "other_list": record(
            "data_access.task_list",
            "carol@lab.example",
            target=other_project,
            metadata={"count": 1, "task_ids": [str(uuid.uuid4())]},
        ),
        "export": record("export.create", "alice@lab.example", token="ab12cd34", target=project),
        "denied": record("access.not_found", "mallory@lab.example", outcome="denied", target_type="api.x"),
    }
    return {"ids": ids, "project": project, "task": task, "alice": alice}


def test_the_empty_query_lists_everything_newest_first(trail):
    ids = trail["ids"]

    assert found(AuditQuery()) == sorted(ids.values(), reverse=True)


def test_who_saw_a_task_finds_its_views_and_the_lists_that_showed_it(trail):
    ids = trail["ids"]

    assert found(parse_search(f"target:{trail['task'].uuid}")) == [ids["list"], ids["view"]]
    assert found(parse_search(f"target:projects.task:{trail['task'].uuid}")) == [ids["list"], ids["view"]]


def test_project_finds_events_on_it_and_naming_it(trail):
    ids = trail["ids"]

    assert found(parse_search(f"project:{trail['project'].uuid}")) == [
        ids["export"],
        ids["list"],
        ids["view"],
        ids["create"],
    ]


def test_action_wildcard_actor_token_outcome_and_category(trail):
    ids = trail["ids"]

    assert found(parse_search("action:export.*")) == [ids["export"]]
    assert found(parse_search("action:data_access.task_*")) == [ids["other_list"], ids["list"], ids["view"]]
    assert found(parse_search("actor:alice")) == [ids["export"], ids["create"]]
    assert found(parse_search("actor:carol@lab.example")) == [ids["other_list"], ids["list"]]
    assert found(parse_search("token:ab12cd34")) == [ids["export"]]
    assert found(parse_search("outcome:denied")) == [ids["denied"]]
    assert found(parse_search("category:data_access actor:bob@lab.example")) == [ids["view"]]
    assert found(parse_search("target:api.x")) == [ids["denied"]]


def test_free_words_match_actor_action_or_target(trail):
    ids = trail["ids"]

    assert found(parse_search("mallory")) == [ids["denied"]]
    assert found(parse_search("task_view")) == [ids["view"]]
    assert found(parse_search("carol task_list")) == [ids["other_list"], ids["list"]]


def test_time_range(trail):
    ids = trail["ids"]
    now = datetime.now(UTC)

    assert found(AuditQuery(since=now - timedelta(hours=1), until=now + timedelta(hours=1))) == sorted(
        ids.values(), reverse=True
    )
    assert found(AuditQuery(until=now - timedelta(hours=1))) == []


def test_keyset_pages_walk_the_trail_once(trail):
    ids = sorted(trail["ids"].values(), reverse=True)

    first = audit_event_page(AuditQuery(), limit=4)
    second = audit_event_page(AuditQuery(), before=first.next_before, limit=4)

    assert [e.pk for e in first.events] == ids[:4]
    assert first.next_before == EventPosition(AuditEvent.objects.get(pk=ids[3]).occurred_at, ids[3])
    assert [e.pk for e in second.events] == ids[4:]
    assert second.next_before is None


@pytest.fixture
def clock(monkeypatch):
    """`clock(moment)`: events recorded from then on occurred at `moment` (the field's default is what sets it)."""
    field = AuditEvent._meta.get_field("occurred_at")

    def set_time(moment: datetime) -> None:
        monkeypatch.setattr(field, "_get_default", lambda: moment)

    return set_time


def test_the_list_is_ordered_by_time_then_id_and_pages_split_ties_exactly(tenant, clock):
    noon = datetime(2026, 11, 5, 12, tzinfo=UTC)
    clock(noon)
    tied = [record("project.update") for _ in range(3)]
    clock(noon - timedelta(hours=1))
    earlier_but_written_last = record("project.update")
    clock(noon + timedelta(hours=1))
    newest = record("project.update")

    walked: list[int] = []
    page = audit_event_page(AuditQuery(), limit=2)
    walked += [e.pk for e in page.events]
    while page.next_before is not None:
        page = audit_event_page(AuditQuery(), before=page.next_before, limit=2)
        walked += [e.pk for e in page.events]

    assert found(AuditQuery()) == [newest, *reversed(tied), earlier_but_written_last]
    assert walked == found(AuditQuery())
    # A page boundary falls between two events of the same microsecond: the id decides.
    assert audit_event_page(AuditQuery(), limit=2).next_before == EventPosition(noon, tied[2])


def test_older_and_newer_than_a_position_exclude_it(tenant, clock):
    noon = datetime(2026, 11, 5, 12, tzinfo=UTC)
    clock(noon)
    first, second, third = (record("project.update") for _ in range(3))
    middle = EventPosition(noon, second)
    events = audit_event_search(AuditQuery())

    assert [e.pk for e in audit_events_older(events, middle)] == [first]
    assert [e.pk for e in audit_events_newer(events, middle)] == [third]
    assert [e.pk for e in audit_events_older(events, middle.next_id())] == [second, first]
    assert [e.pk for e in audit_events_newer(events, middle.previous_id())] == [second, third]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 5, 12, 0, 0, 123456, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_a_position_token_round_trips_exactly(moment):
    position = EventPosition(moment, 9_007_199_254_740_993)

    assert EventPosition.parse(position.token()) == position


@pytest.mark.parametrize("token", ["", "42", "1-", "-1-2", "1.5-2", "1-2-3", "x-1", "1" * 18 + "-1", "1-" + "9" * 19])
def test_a_malformed_position_token_is_no_position(token):
    assert EventPosition.parse(token) is None


def _plan(sql_and_params: tuple[str, tuple], *, off: tuple[str, ...] = ("enable_seqscan", "enable_sort")) -> str:
    # A test table holds a handful of rows, where any plan is cheap (reading one index and sorting the few rows
    # found included): turn off the plans a big trail rules out. A sort still shows when no index gives the order.
    sql, params = sql_and_params
    with connection.cursor() as cursor:
        for setting in off:
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        for setting in off:
            cursor.execute(f"SET LOCAL {setting} = on")
    return plan


@pytest.mark.parametrize(
    ("q", "index"),
    [
        ("category:data_access", "audit_event_org_category_at"),
        ("action:project.create", "audit_event_org_action_at"),
        ("action:export.*", "audit_event_org_category_at"),
        ("actor:carol@lab.example", "audit_event_org_actor_at"),
        ("outcome:denied", "audit_event_org_outcome_at"),
        ("created:2026-11-05", "audit_event_org_time_id"),
    ],
)
def test_filtered_pages_are_index_scans_in_list_order_without_a_sort(trail, q, index):
    page = audit_event_search(parse_search(q))[:100]

    plan = _plan(page.query.sql_with_params())

    # Which index the planner picks for a handful of rows depends on what earlier tests left in the table's
    # statistics; what must hold is that a page is read backwards along an index, never sorted, and that the
    # index made for this filter exists (bench/audit_list.py shows it is the one used at 10 million events).
    assert "Index Scan Backward using audit_event_" in plan, plan
    assert "Sort" not in plan
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [index])
        (definition,) = cursor.fetchone()
    assert definition.startswith(f"CREATE INDEX {index} ON public.audit_auditevent USING btree (organization_id, ")
    assert definition.endswith("occurred_at, id)")


def test_a_deep_cursor_page_is_an_index_range_without_a_sort(trail):
    middle = AuditEvent.objects.get(pk=trail["ids"]["list"])
    page = audit_events_older(audit_event_search(parse_search("category:data_access")), EventPosition.of(middle))

    plan = _plan(page[:100].query.sql_with_params())

    assert "Index Scan Backward using audit_event_" in plan, plan
    assert "Index Cond: " in plan, plan
    assert "occurred_at <= " in plan, plan
    assert "Sort" not in plan


@pytest.mark.parametrize("q", ["target:{task}", "target:projects.task:{task}", "target:{task} category:data_access"])
def test_who_saw_a_task_is_a_range_of_the_subject_index_joined_to_its_events(trail, q):
    page = audit_event_search(parse_search(q.format(task=trail["task"].uuid)))[:100]

    plan = _plan(page.query.sql_with_params())

    # The order comes from the subject index; how a handful of events is joined to it says nothing (at 10 million
    # events each subject row is one primary-key lookup, see bench/audit_list.py).
    assert "Scan Backward using audit_subject_lookup on audit_auditsubject" in plan, plan
    assert "Index Cond: ((organization_id = " in plan, plan
    assert "AND (subject_id = " in plan, plan
    assert "Sort" not in plan


def test_the_metadata_index_for_project_exists_and_the_task_ids_index_is_gone(db):
    # Which plan a handful of rows gets says nothing; bench/audit_list.py measures these at 10 million events.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_auditevent' "
            "AND (indexname LIKE 'audit_event_org_mproject%%' OR indexname = 'audit_event_task_ids') ORDER BY 1"
        )
        rows = cursor.fetchall()

    assert rows == [
        (
            "audit_event_org_mproject_at",
            "CREATE INDEX audit_event_org_mproject_at ON public.audit_auditevent "
            "USING btree (organization_id, ((metadata -> 'project'::text)), occurred_at, id)",
        ),
    ]
