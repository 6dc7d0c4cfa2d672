"""The CSV export: one row per annotation, one column per field, every text cell formula-safe."""

import csv
import io
import json

import pytest

from annotation.exports.csv_table import FIXED_COLUMNS, cell, neutralise
from tests.annotation import exports_support
from tests.annotation.exports_support import (
    bare_world,
    build_world,
    iso,
    run_export,
)
from tests.factories import AnnotationFactory, ProjectFactory, TaskFactory

object_root = exports_support.object_root

FIELDS = [
    "sentiment",
    "topics",
    "helpfulness",
    "answer",
    "note",
    "entities",
    "vehicles",
    "preference",
    "order",
    "quality",
]


def _json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _fixed(task, annotation, pseudonym, outcome):
    return [
        str(task.uuid),
        task.external_id,
        str(annotation.uuid),
        pseudonym,
        "1",
        "1",
        str(annotation.time_spent_ms),
        outcome,
        str(annotation.version),
        iso(annotation.created_at),
        _json(task.data),
        "",
    ]


def test_rows_columns_and_cells_exactly(tenant, object_root):
    w = build_world()

    job, body = run_export(w, "csv")

    text = body.decode()
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [
        [*FIXED_COLUMNS, *FIELDS],
        [
            *_fixed(w.t1, w.a1, w.pa, "accepted"),
            "positive",
            '["bug","billing"]',
            "4",
            "DNS translates names.",
            '\'=HYPERLINK("http://evil.example")',
            '[{"end":5,"label":"PER","start":0},{"end":24,"label":"ORG","start":15},{"end":44,"label":"LOC","start":39}]',
            '[{"height":40,"label":"car","width":50,"x":20,"y":10},{"height":50,"label":"bus","width":100,"x":100,"y":50}]',
            '{"preferred":"b","strength":2}',
            '{"x":2,"y":1,"z":3}',
            '{"accuracy":4,"tone":2}',
        ],
        [
            *_fixed(w.t1, w.b1, w.pb, "pending"),
            "negative",
            "",
            "2",
            "'-1 is not an answer",
            "",
            "[]",
            "[]",
            '{"preferred":"tie"}',
            '{"x":1,"y":2,"z":3}',
            "",
        ],
        [*_fixed(w.t2, w.a2, w.pa, "none"), "positive", "", "", "Hi!", "", "", "", '{"preferred":"a"}', "", ""],
        [*_fixed(w.t3, w.r3, w.pr, "corrected"), "negative", "", "1", "", "", "", "", "", "", ""],
    ]
    assert job.rows == 4


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+41 22 000 00 00", "'+41 22 000 00 00"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=cmd|' /C calc'!A0", "'\t=cmd|' /C calc'!A0"),
        ("\r=1", "'\r=1"),
        ("plain text", "plain text"),
        ("a=1", "a=1"),
        (" =1", " =1"),
        ("", ""),
    ],
)
def test_text_that_a_spreadsheet_would_run_is_neutralised(value, expected):
    assert neutralise(value) == expected
    assert cell(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-2, "-2"),
        (3.5, "3.5"),
        (True, "true"),
        (None, ""),
        (["=x", "-y"], '["=x","-y"]'),
        ({"b": 1, "a": "=x"}, '{"a":"=x","b":1}'),
    ],
)
def test_numbers_stay_numbers_and_structures_are_canonical_json(value, expected):
    assert cell(value) == expected


def test_hostile_values_from_data_and_results_reach_the_file_neutralised(tenant, object_root):
    project = ProjectFactory(label_schema={"fields": [{"name": "comment", "type": "text"}]})
    task = TaskFactory(project=project, external_id="=cmd()", data={"text": "x"})
    AnnotationFactory(project=project, task=task, result={"comment": "@evil"})
    world = bare_world(project)

    _, body = run_export(world, "csv")

    row = list(csv.reader(io.StringIO(body.decode())))[1]
    assert (row[1], row[-1]) == ("'=cmd()", "'@evil")
    assert [c for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r")] == []


def test_a_project_without_a_schema_gets_one_result_column(tenant, object_root):
    project = ProjectFactory(label_schema={"fields": []})
    task = TaskFactory(project=project, data={"q": 1})
    AnnotationFactory(project=project, task=task, result={"free": ["form", 1]})
    world = bare_world(project)

    _, body = run_export(world, "csv")

    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == [*FIXED_COLUMNS, "result"]
    assert rows[1][-3:] == ['{"q":1}', "", '{"free":["form",1]}']
