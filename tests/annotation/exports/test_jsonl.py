"""The native JSONL export: one line per task holding the annotations that count, each with its provenance."""

import io
import json
from datetime import UTC, datetime

import pytest

from annotation.exports.filters import ExportFilters
from annotation.exports.jsonl import task_line_chunks
from annotation.exports.records import ExportSource, Pseudonyms, export_upper_id, task_record_chunks
from annotation.models import Annotation
from core.context import current_organization_id
from projects.models import Task
from tests.annotation import exports_support
from tests.annotation.exports_support import (
    RESULT_A1,
    RESULT_A2,
    RESULT_B1,
    RESULT_R3,
    build_world,
    iso,
    run_export,
)
from tests.factories import AnnotationFactory, TaskFactory

object_root = exports_support.object_root


def _annotation(annotation, pseudonym, review_outcome):
    return {
        "id": str(annotation.uuid),
        "result": annotation.result,
        "provenance": {
            "schema_version": 1,
            "guidelines_version": 1,
            "annotator": pseudonym,
            "time_spent_ms": annotation.time_spent_ms,
            "review_outcome": review_outcome,
            "version": annotation.version,
            "created_at": iso(annotation.created_at),
            "suggestions": {},
        },
    }


def _task(task, annotations):
    return {
        "id": str(task.uuid),
        "external_id": task.external_id,
        "data": task.data,
        "created_at": iso(task.created_at),
        "annotations": annotations,
    }


def test_each_line_is_a_task_with_the_annotations_that_count_and_their_provenance(tenant, object_root):
    w = build_world()

    job, body = run_export(w, "jsonl")

    lines = body.decode().splitlines(keepends=True)
    assert [json.loads(line) for line in lines] == [
        _task(w.t1, [_annotation(w.a1, w.pa, "accepted"), _annotation(w.b1, w.pb, "pending")]),
        # A's rejected first answer is superseded by the second: only that one counts.
        _task(w.t2, [_annotation(w.a2, w.pa, "none")]),
        # B's answer was corrected: the reviewer's version replaces it, authored by the reviewer.
        _task(w.t3, [_annotation(w.r3, w.pr, "corrected")]),
    ]
    assert [json.loads(line)["annotations"][0]["result"] for line in lines] == [RESULT_A1, RESULT_A2, RESULT_R3]
    assert json.loads(lines[0])["annotations"][1]["result"] == RESULT_B1
    # One line per task, newline-terminated; the structure compact, the stored JSON as PostgreSQL renders it.
    assert all(line.endswith("}\n") and "\n" not in line[:-1] for line in lines)
    assert lines[0].startswith(f'{{"id":"{w.t1.uuid}","external_id":"t1","data":{{"chat": {{"messages": [')
    assert f'"annotations":[{{"id":"{w.a1.uuid}","result":{{' in lines[0]
    assert job.rows == 3


def test_every_label_carries_all_provenance_keys(tenant, object_root):
    w = build_world()

    _, body = run_export(w, "jsonl")

    provenance_keys = {
        tuple(sorted(a["provenance"])) for line in body.decode().splitlines() for a in json.loads(line)["annotations"]
    }
    assert provenance_keys == {
        (
            "annotator",
            "created_at",
            "guidelines_version",
            "review_outcome",
            "schema_version",
            "suggestions",
            "time_spent_ms",
            "version",
        )
    }


def test_gold_tasks_unanswered_tasks_and_other_projects_are_left_out(tenant, object_root):
    w = build_world()

    _, body = run_export(w, "jsonl")

    assert [json.loads(line)["external_id"] for line in body.decode().splitlines()] == ["t1", "t2", "t3"]
    assert str(w.gold.uuid).encode() not in body


def _source(w, upper_id=None, **filters):
    return ExportSource(
        organization_id=current_organization_id(),
        project=w.project,
        filters=ExportFilters(**filters),
        upper_id=export_upper_id() if upper_id is None else upper_id,
        pseudonyms=Pseudonyms(w.project.organization.uuid),
    )


def _read(w, *, chunk_tasks, upper_id):
    chunks = task_record_chunks(_source(w, upper_id), chunk_tasks=chunk_tasks)
    return [[(r.external_id, [a.id for a in r.annotations]) for r in chunk] for chunk in chunks]


def test_chunks_hold_at_most_the_chunk_size_and_read_the_same_records(tenant):
    w = build_world()
    upper = export_upper_id()

    whole = _read(w, chunk_tasks=2000, upper_id=upper)
    small = _read(w, chunk_tasks=1, upper_id=upper)

    assert [len(chunk) for chunk in whole] == [3]
    # One task per chunk; t4 (unanswered) is a chunk with no record, which is not yielded; t5 (gold) is no task.
    assert small == [[record] for record in whole[0]]


def test_annotations_recorded_after_the_export_started_are_left_out(tenant):
    w = build_world()
    upper = export_upper_id()
    late = AnnotationFactory(project=w.project, task=w.t4, annotator=w.b, result={"sentiment": "mixed"})

    ids = [a for chunk in _read(w, chunk_tasks=10, upper_id=upper) for _, annotations in chunk for a in annotations]

    assert str(late.uuid) not in ids
    assert str(late.uuid) in [a for c in _read(w, chunk_tasks=10, upper_id=export_upper_id()) for _, x in c for a in x]


def _document(record):
    """A TaskRecord as the JSONL document it must export as."""
    return {
        "id": record.id,
        "external_id": record.external_id,
        "data": record.data,
        "created_at": iso(record.created_at),
        "annotations": [
            {
                "id": a.id,
                "result": a.result,
                "provenance": {
                    "schema_version": a.schema_version,
                    "guidelines_version": a.guidelines_version,
                    "annotator": a.annotator,
                    "time_spent_ms": a.time_spent_ms,
                    "review_outcome": a.review_outcome,
                    "version": a.version,
                    "created_at": iso(a.created_at),
                    "suggestions": a.suggestions,
                },
            }
            for a in record.annotations
        ],
    }


@pytest.mark.parametrize(
    ("filters", "tasks"), [({}, 3), ({"reviewed_only": True}, 2), ({"status": "done"}, 2), ({"status": "open"}, 1)]
)
@pytest.mark.parametrize("chunk_tasks", [1, 2, 10_000])
def test_lines_hold_the_same_tasks_and_annotations_as_the_records_the_other_formats_read(
    tenant, filters, tasks, chunk_tasks
):
    w = build_world()
    source = _source(w, **filters)

    out = io.BytesIO()
    counts = list(task_line_chunks(source, out, chunk_tasks=chunk_tasks))
    lines = [json.loads(line) for line in out.getvalue().decode().split("\n")[:-1]]

    records = [_document(r) for chunk in task_record_chunks(source, chunk_tasks=chunk_tasks) for r in chunk]
    assert lines == records
    assert len(lines) == tasks
    assert sum(counts) == tasks
    assert max(counts) <= chunk_tasks


def test_lines_escape_text_and_write_whole_second_times_as_the_api_does(tenant):
    w = build_world()
    awkward = 'quote " back \\ tab \t newline \n bell \x07 é 漢字 😀 \u2028'
    task = TaskFactory(project=w.project, external_id=awkward, data={"text": awkward, "n": [1, 2.5, None, True]})
    annotation = AnnotationFactory(project=w.project, task=task, annotator=w.a, result={"note": awkward})
    whole_second = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
    Task.objects.filter(pk=task.pk).update(created_at=whole_second)
    Annotation.objects.filter(pk=annotation.pk).update(created_at=whole_second.replace(microsecond=7))

    out = io.BytesIO()
    assert sum(task_line_chunks(_source(w), out)) == 4
    # Lines end at "\n" only: str.splitlines() would also split at the U+2028 inside the text.
    lines = out.getvalue().decode().split("\n")[:-1]

    assert len(lines) == 4
    assert json.loads(lines[-1]) == {
        "id": str(task.uuid),
        "external_id": awkward,
        "data": {"n": [1, 2.5, None, True], "text": awkward},
        "created_at": "2026-02-03T04:05:06Z",
        "annotations": [
            {
                "id": str(annotation.uuid),
                "result": {"note": awkward},
                "provenance": {
                    "schema_version": 1,
                    "guidelines_version": 1,
                    "annotator": w.pa,
                    "time_spent_ms": annotation.time_spent_ms,
                    "review_outcome": "none",
                    "version": 1,
                    "created_at": "2026-02-03T04:05:06.000007Z",
                    "suggestions": {},
                },
            }
        ],
    }
