"""Export filters: task status, task creation range, reviewed only; and the checks on what may be asked."""

import json
from datetime import UTC, datetime

import pytest

from annotation.exports.filters import ExportFilters, export_filters_clean
from core.errors import InvalidInput
from tests.annotation import exports_support
from tests.annotation.exports_support import (
    build_world,
    run_export,
)

object_root = exports_support.object_root


def _exported(w, **filters):
    _, body = run_export(w, "jsonl", **filters)
    return [(line["external_id"], len(line["annotations"])) for line in map(json.loads, body.decode().splitlines())]


def at(day):
    return datetime(2026, 1, day, 12, 0, tzinfo=UTC)


def test_status_done_and_open(tenant, object_root):
    w = build_world()

    assert _exported(w, status="done") == [("t1", 2), ("t3", 1)]
    assert _exported(w, status="open") == [("t2", 1)]


def test_created_range_is_half_open_on_the_tasks_creation_time(tenant, object_root):
    w = build_world()

    assert _exported(w, created_after=at(2)) == [("t2", 1), ("t3", 1)]
    assert _exported(w, created_before=at(2)) == [("t1", 2)]
    assert _exported(w, created_after=at(2), created_before=at(3)) == [("t2", 1)]


def test_reviewed_only_keeps_accepted_annotations_and_corrections(tenant, object_root):
    w = build_world()

    # t1: A's accepted one, not B's pending one; t2: A's unreviewed one is out; t3: the correction.
    assert _exported(w, reviewed_only=True) == [("t1", 1), ("t3", 1)]


def test_filters_combine(tenant, object_root):
    w = build_world()

    assert _exported(w, status="done", reviewed_only=True, created_after=at(3)) == [("t3", 1)]


def test_stored_filters_read_back_the_same():
    filters = ExportFilters(status="open", created_after=at(1), created_before=at(9), reviewed_only=True)
    assert ExportFilters.from_document(filters.to_document()) == filters
    assert ExportFilters().to_document() == {}
    assert ExportFilters(ranking_pairs="all").to_document() == {"ranking_pairs": "all"}


@pytest.mark.parametrize(
    ("export_format", "raw", "errors"),
    [
        ("jsonl", {"status": "closed"}, [("filters.status", "invalid_choice")]),
        ("jsonl", {"created_after": at(3), "created_before": at(3)}, [("filters.created_before", "invalid_range")]),
        ("jsonl", {"created_after": datetime(2026, 1, 1)}, [("filters.created_after", "invalid")]),  # noqa: DTZ001
        ("csv", {"ranking_pairs": "all"}, [("filters.ranking_pairs", "not_allowed")]),
        ("dpo", {"ranking_pairs": "some"}, [("filters.ranking_pairs", "invalid_choice")]),
        (
            "jsonl",
            {"reviewed_only": "yes", "status": "x"},
            [("filters.status", "invalid_choice"), ("filters.reviewed_only", "invalid")],
        ),
    ],
)
def test_incoherent_filters_are_refused_naming_each_problem(export_format, raw, errors):
    with pytest.raises(InvalidInput) as refused:
        export_filters_clean(export_format=export_format, raw=raw)
    assert [(e.field, e.code) for e in refused.value.errors] == errors


def test_clean_filters_are_returned():
    assert export_filters_clean(export_format="dpo", raw={"ranking_pairs": "all", "status": "done"}) == ExportFilters(
        status="done", ranking_pairs="all"
    )
