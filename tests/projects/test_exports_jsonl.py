"""The native JSONL export: one line per task holding the annotations that count, each with its provenance."""

import json

from projects.exports.base import json_line
from projects.exports.filters import ExportFilters
from projects.exports.records import Pseudonyms, export_upper_id, task_record_chunks
from tenancy.context import current_organization_id
from tests.factories import AnnotationFactory
from tests.projects import exports_support
from tests.projects.exports_support import (
    RESULT_A1,
    RESULT_A2,
    RESULT_B1,
    RESULT_R3,
    build_world,
    iso,
    run_export,
)

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
    # Compact lines, newline-terminated, exactly as the writer renders each document.
    assert lines == [json_line(json.loads(line)) for line in lines]
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
            "time_spent_ms",
            "version",
        )
    }


def test_gold_tasks_unanswered_tasks_and_other_projects_are_left_out(tenant, object_root):
    w = build_world()

    _, body = run_export(w, "jsonl")

    assert [json.loads(line)["external_id"] for line in body.decode().splitlines()] == ["t1", "t2", "t3"]
    assert str(w.gold.uuid).encode() not in body


def _read(w, *, chunk_tasks, upper_id):
    chunks = task_record_chunks(
        organization_id=current_organization_id(),
        project=w.project,
        filters=ExportFilters(),
        upper_id=upper_id,
        pseudonyms=Pseudonyms(w.project.organization.uuid),
        chunk_tasks=chunk_tasks,
    )
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
