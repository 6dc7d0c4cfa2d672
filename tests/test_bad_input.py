"""Hostile and broken request bodies: each gets a clear 4xx naming what is wrong, and nothing is written."""

import gzip
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from core.context import organization_context
from projects.models import ExportJob, ImportJob, Project, Task
from tenancy.models import ApiToken, Role
from tests.factories import ProjectFactory
from tests.projects import imports_support

# The platform's object store on local disk under the test's own folder.
store = imports_support.store

PROJECTS_URL = "/api/v1/projects/"


@pytest.fixture
def project(tenant):
    return ProjectFactory(name="Target")


@pytest.fixture
def manager(tenant, api_as):
    return api_as(tenant, Role.MANAGER)


def tasks_url(project) -> str:
    return f"/api/v1/projects/{project.uuid}/tasks/"


def written() -> tuple[int, int, int, int]:
    """What a refused request must leave as it was, in the organization in context."""
    return (Project.objects.count(), Task.objects.count(), ApiToken.objects.count(), AuditEvent.objects.count())


def post_raw(client, url: str, raw: bytes, content_type: str = "application/json"):
    return client.post(url, raw, content_type=content_type)


def error_fields(response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


# --- not JSON, or not the JSON we read ---


def test_malformed_json_is_400_with_its_position(project, manager):
    before = written()

    response = post_raw(manager, PROJECTS_URL, b'{"name": "x",}')

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["detail"].startswith("Malformed JSON at line 1, column 14:")
    assert written() == before


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("application/x-www-form-urlencoded", b"name=x"),
        ("text/plain", b'{"name": "x"}'),
        ("multipart/form-data; boundary=zz", b'--zz\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--zz--'),
    ],
)
def test_a_body_that_is_not_json_is_415(project, manager, content_type, raw):
    before = written()

    response = post_raw(manager, PROJECTS_URL, raw, content_type)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert content_type.split(";")[0] in response.json()["detail"]
    assert written() == before


def test_a_body_that_is_not_utf8_is_400(project, manager):
    before = written()

    response = post_raw(manager, PROJECTS_URL, '{"name": "Zürich"}'.encode("latin-1"))

    assert response.status_code == 400
    assert response.json()["detail"] == "Request body is not valid UTF-8 (byte 11)."
    assert written() == before


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(project, manager, constant):
    before = written()

    response = post_raw(manager, tasks_url(project), f'[{{"external_id": "a", "data": {{"v": {constant}}}}}]'.encode())

    assert response.status_code == 400
    assert constant in response.json()["detail"]
    assert written() == before


def test_a_number_that_overflows_to_infinity_is_refused(project, manager):
    before = written()

    response = post_raw(manager, tasks_url(project), b'[{"external_id": "a", "data": {"v": 1e999}}]')

    assert response.status_code == 400
    assert response.json()["detail"] == "JSON number 1e999 is out of range."
    assert written() == before


def test_an_integer_too_long_to_parse_is_refused(project, manager):
    before = written()

    response = post_raw(manager, tasks_url(project), b'[{"external_id": "a", "data": {"v": ' + b"9" * 5000 + b"}}]")

    assert response.status_code == 400
    assert response.json()["detail"] == "JSON number too long."
    assert written() == before


def test_json_nested_ten_thousand_deep_is_400_not_500(project, manager):
    before = written()

    response = post_raw(manager, tasks_url(project), b"[" * 10_000 + b"]" * 10_000)

    assert response.status_code == 400
    assert response.json()["detail"] == "JSON nested too deeply."
    assert written() == before


def test_json_deeper_than_the_limit_is_400_naming_where(project, manager, settings):
    settings.API_MAX_JSON_DEPTH = 5
    before = written()
    deep = {"a": {"b": {"c": {"d": {"e": 1}}}}}

    response = manager.post(tasks_url(project), [{"external_id": "a", "data": deep}], format="json")

    assert response.status_code == 400
    assert response.json()["detail"] == "JSON nested deeper than 5 levels at [0].data.a.b.c."
    assert written() == before


def test_a_body_over_the_limit_is_413(project, manager, settings):
    settings.API_MAX_BODY_BYTES = 1000
    before = written()
    body = json.dumps([{"external_id": "a", "data": {"text": "x" * 2000}}]).encode()

    response = post_raw(manager, tasks_url(project), body)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["detail"] == f"Request body of {len(body)} bytes exceeds the limit of 1000 bytes."
    assert written() == before


def test_a_body_just_under_the_limit_is_read(project, manager, settings):
    body = json.dumps([{"external_id": "a", "data": {"text": "x"}}]).encode()
    settings.API_MAX_BODY_BYTES = len(body)

    assert post_raw(manager, tasks_url(project), body).status_code == 201


# --- NUL bytes and broken Unicode ---


@pytest.mark.parametrize(
    ("url_of", "body", "where"),
    [
        (lambda p: PROJECTS_URL, {"name": "bad\u0000name"}, "in name;"),
        (lambda p: tasks_url(p), [{"external_id": "a", "data": {"text": "x\u0000y"}}], "in [0].data.text;"),
        (lambda p: tasks_url(p), [{"external_id": "a\u0000", "data": {"t": 1}}], "in [0].external_id;"),
        (lambda p: tasks_url(p), [{"external_id": "a", "data": {"k\u0000": 1}}], "in a key at [0].data;"),
        (lambda p: PROJECTS_URL, {"name\u0000": "x"}, "in a key at body;"),
    ],
    ids=["project-name", "task-data", "external-id", "task-data-key", "top-level-key"],
)
def test_nul_characters_in_strings_and_keys_are_refused(project, manager, url_of, body, where):
    before = written()

    response = post_raw(manager, url_of(project), json.dumps(body).encode())

    assert response.status_code == 400
    assert response.json()["detail"].startswith("NUL character ")
    assert where in response.json()["detail"]
    assert written() == before


@pytest.mark.parametrize(
    ("url_of", "raw", "where"),
    [
        (lambda p: tasks_url(p), b'[{"external_id": "a", "data": {"t": "\\ud800"}}]', "in [0].data.t;"),
        (lambda p: PROJECTS_URL, b'{"name": "\\udc00"}', "in name;"),
        (lambda p: PROJECTS_URL, b'{"\\ud83d": "x"}', "in a key at body;"),
    ],
    ids=["task-data", "project-name", "key"],
)
def test_unpaired_surrogates_are_refused(project, manager, url_of, raw, where):
    before = written()

    response = post_raw(manager, url_of(project), raw)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("unpaired surrogate escape ")
    assert where in response.json()["detail"]
    assert written() == before


def test_a_paired_surrogate_escape_is_fine(project, manager):
    response = post_raw(manager, tasks_url(project), b'[{"external_id": "a", "data": {"t": "\\ud83d\\ude00"}}]')

    assert response.status_code == 201
    assert Task.objects.get(project=project).data == {"t": "\U0001f600"}


# --- wrong types and unknown fields ---


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ["a list"]}, "name"),
        ({"name": {"an": "object"}}, "name"),
        ({"name": None}, "name"),
        ({"name": "P", "overlap": "many"}, "overlap"),
        ({"name": "P", "overlap": 1.5}, "overlap"),
        ({"name": "P", "label_schema": "a string"}, "label_schema"),
        ({"name": "P", "settings": [1, 2]}, "settings"),
    ],
)
def test_wrong_types_name_the_field(project, manager, body, field):
    before = written()

    response = manager.post(PROJECTS_URL, body, format="json")

    assert response.status_code == 400
    assert error_fields(response) == [field]
    assert written() == before


@pytest.mark.parametrize("body", [[], "a string", 42, None])
def test_a_project_body_that_is_not_an_object_is_400(project, manager, body):
    before = written()

    response = post_raw(manager, PROJECTS_URL, json.dumps(body).encode())

    assert response.status_code == 400
    assert error_fields(response) == ["body"]
    assert written() == before


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"organization": 1}, "unknown_field"),
        ({"organization_id": 1}, "unknown_field"),
        ({"id": "00000000-0000-0000-0000-000000000001"}, "read_only"),
        ({"created_by": 1}, "unknown_field"),
        ({"guidelines_version": 9}, "read_only"),
    ],
)
def test_unknown_or_read_only_fields_in_a_project_body_are_400_by_name(project, manager, extra, code):
    before = written()

    response = manager.post(PROJECTS_URL, {"name": "P", **extra}, format="json")

    assert response.status_code == 400
    [field] = extra
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]
    assert written() == before


def test_unknown_fields_in_a_patch_are_400_and_change_nothing(project, manager):
    response = manager.patch(f"{PROJECTS_URL}{project.uuid}", {"name": "New", "organization": 2}, format="json")

    assert response.status_code == 400
    assert error_fields(response) == ["organization"]
    project.refresh_from_db()
    assert project.name == "Target"


def test_unknown_fields_in_a_token_body_are_400(tenant, manager):
    before = written()

    response = manager.post("/api/v1/tokens/", {"name": "t", "membership": 1, "key_hash": "0" * 64}, format="json")

    assert response.status_code == 400
    assert sorted(error_fields(response)) == ["key_hash", "membership"]
    assert written() == before


# --- ids of another tenant inside a body ---


def test_another_tenants_project_id_in_a_project_body_is_refused(tenant, other_tenant, project, manager):
    with organization_context(other_tenant.pk):
        foreign = ProjectFactory(name="Theirs")
    before = written()

    response = manager.post(PROJECTS_URL, {"name": "Mine", "id": str(foreign.uuid)}, format="json")

    assert response.status_code == 400
    assert error_fields(response) == ["id"]
    assert written() == before
    with organization_context(other_tenant.pk):
        assert Project.objects.get(pk=foreign.pk).name == "Theirs"


def test_another_tenants_project_id_inside_task_items_is_refused(tenant, other_tenant, project, manager):
    with organization_context(other_tenant.pk):
        foreign = ProjectFactory()
    before = written()

    response = manager.post(
        tasks_url(project),
        [
            {"external_id": "a", "data": {"t": 1}},
            {"external_id": "b", "data": {"t": 1}, "project": str(foreign.uuid), "organization": other_tenant.pk},
        ],
        format="json",
    )

    assert response.status_code == 400
    assert error_fields(response) == ["[1].organization", "[1].project"]
    assert written() == before
    with organization_context(other_tenant.pk):
        assert Task.objects.count() == 0


def test_another_tenants_project_in_the_url_is_404_and_writes_nothing(tenant, other_tenant, project, manager):
    with organization_context(other_tenant.pk):
        foreign = ProjectFactory()
    before = written()

    response = manager.post(tasks_url(foreign), [{"external_id": "a", "data": {"t": 1}}], format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found", "errors": []}
    assert written()[:3] == before[:3]
    with organization_context(other_tenant.pk):
        assert Task.objects.count() == 0


# --- duplicates ---


def test_duplicate_external_ids_in_one_request_are_named_and_nothing_is_written(project, manager):
    before = written()
    body = [
        {"external_id": "a", "data": {"t": 1}},
        {"external_id": "b", "data": {"t": 1}},
        {"external_id": "a", "data": {"t": 2}},
        {"external_id": "b", "data": {"t": 2}},
    ]

    response = manager.post(tasks_url(project), body, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["message"]) for e in response.json()["errors"]] == [
        ("[2].external_id", "Duplicate external_id 'a'; also at [0]."),
        ("[3].external_id", "Duplicate external_id 'b'; also at [1]."),
    ]
    assert written() == before


# --- files in a format an import does not read ---

SUPPORTED = "jsonl (.jsonl, .ndjson), json (.json) and csv (.csv), each plain or gzip-compressed (.gz)"
# The first bytes of each kind: enough for the import to know them, and what a real file of each begins with.
XLSX = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64


@pytest.fixture
def queued(monkeypatch) -> list[tuple[str, tuple[Any, ...]]]:
    """Messages sent once transactions commit; recorded, not run."""
    from core import enqueue

    messages: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(enqueue, "_send", lambda name, args: messages.append((name, args)))
    return messages


def imports_url(project) -> str:
    return f"/api/v1/projects/{project.uuid}/imports/"


def uploaded(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def stored_files(store) -> list[Any]:
    return [path for path in store.rglob("*") if path.is_file()] if store.exists() else []


@pytest.mark.parametrize(
    ("name", "content", "extension"),
    [("sheet.xlsx", XLSX, "xlsx"), ("scan.png", PNG, "png"), ("sheet.xlsx.gz", gzip.compress(XLSX), "xlsx")],
    ids=["xlsx", "png", "xlsx.gz"],
)
def test_a_file_whose_name_says_an_unsupported_format_is_415_naming_it(
    project, manager, store, queued, name, content, extension
):
    before = written()

    response = manager.post(imports_url(project), {"file": uploaded(name, content)})

    message = (
        f"Unsupported file format .{extension}: imports read {SUPPORTED}. Convert the file; or, if it is one of "
        "these under another name, name its format."
    )
    assert (response.status_code, response.json()) == (
        415,
        {"detail": message, "code": "unsupported_format", "errors": [
            {"field": "file", "message": message, "code": "unsupported_format"}]},
    )  # fmt: skip
    assert (written(), ImportJob.objects.count(), queued, stored_files(store)) == (before, 0, [], [])


@pytest.mark.parametrize(
    ("name", "fields", "content", "kind", "fmt"),
    [
        ("data.csv", {}, PNG, "a PNG image", "csv"),
        ("sheet.xlsx", {"format": "csv"}, XLSX, "a ZIP archive (an Excel .xlsx workbook is one)", "csv"),
        ("rows.jsonl.gz", {}, gzip.compress(XLSX), "a ZIP archive (an Excel .xlsx workbook is one)", "jsonl"),
    ],
    ids=["png-named-csv", "xlsx-said-to-be-csv", "gzipped-xlsx-named-jsonl"],
)
def test_a_file_whose_content_is_an_unsupported_format_is_415_whatever_its_name(
    project, manager, store, queued, name, fields, content, kind, fmt
):
    before = written()

    response = manager.post(imports_url(project), {"file": uploaded(name, content), **fields})

    message = f"Unsupported file format: the file is {kind}, not {fmt}. Imports read {SUPPORTED}."
    assert (response.status_code, response.json()["detail"], response.json()["code"]) == (
        415,
        message,
        "unsupported_format",
    )
    assert (written(), ImportJob.objects.count(), queued, stored_files(store)) == (before, 0, [], [])


def test_a_csv_with_bad_rows_names_each_by_its_line_and_imports_nothing(
    project, manager, store, django_capture_on_commit_callbacks
):
    lines = [
        b"external_id,data.text,priority",
        b"a,hello,1",
        b"b,world,high",  # line 3: not an integer
        b'c,"two',  # line 4: a record over two lines, with one cell too many
        b'lines",2,extra',
        b"d,fine,3",
    ]
    content = b"\n".join(lines) + b"\n"

    with django_capture_on_commit_callbacks(execute=True):  # the import runs eagerly, in this process
        response = manager.post(imports_url(project), {"file": uploaded("rows.csv", content)})
    job = manager.get(f"/api/v1/imports/{response.json()['id']}").json()

    assert response.status_code == 202
    assert (job["state"], job["message"], job["rows_read"], job["error_count"]) == (
        "failed",
        "2 rows are invalid, so nothing was imported. Fix them, or import again with skip_bad_rows.",
        4,
        2,
    )
    assert job["errors"] == [
        {"line": 3, "field": "priority", "code": "invalid", "message": "Must be an integer."},
        {"line": 4, "field": "", "code": "ragged_row", "message": "The row has 4 cells; the header has 3 columns."},
    ]
    assert Task.objects.count() == 0


# --- exports the project's label schema cannot make ---

CHOICES_ONLY = {"fields": [{"name": "label", "type": "choices", "options": ["a", "b"]}]}
NOTE_ONLY = {"fields": [{"name": "note", "type": "text"}]}


@pytest.mark.parametrize(
    ("schema", "export_format", "reason"),
    [
        (CHOICES_ONLY, "coco", "COCO is made from boxes fields, and the project's label schema has none."),
        (CHOICES_ONLY, "conll", "CoNLL is made from spans fields, and the project's label schema has none."),
        (
            CHOICES_ONLY,
            "dpo",
            "DPO pairs are made from pairwise or ranking fields, and the project's label schema has neither.",
        ),
        (
            NOTE_ONLY,
            "sft",
            "SFT examples are made from text fields with a source (the prompt or chat they answer), and the "
            "project's label schema has none.",
        ),
        ({}, "coco", "COCO is made from boxes fields, and the project's label schema has none."),
    ],
    ids=["coco", "conll", "dpo", "sft-without-source", "no-schema"],
)
def test_an_export_the_schema_cannot_make_is_refused_up_front(tenant, manager, queued, schema, export_format, reason):
    project = ProjectFactory(label_schema=schema)
    before = written()

    response = manager.post(f"/api/v1/projects/{project.uuid}/exports/", {"format": export_format}, format="json")

    assert (response.status_code, response.json()) == (
        400,
        {"detail": reason, "code": "invalid", "errors": [
            {"field": "format", "message": reason, "code": "unsupported_by_schema"}]},
    )  # fmt: skip
    assert (written(), ExportJob.objects.count(), queued) == (before, 0, [])


def test_a_format_an_older_schema_version_could_make_is_accepted(tenant, manager, queued):
    # Boxes drawn under version 1 are still exported under it, after version 2 dropped the field.
    boxes = {"fields": [{"name": "cars", "type": "boxes", "source": "image", "labels": ["car"]}]}
    created = manager.post(PROJECTS_URL, {"name": "Cars", "label_schema": boxes}, format="json").json()
    changed = manager.patch(
        f"{PROJECTS_URL}{created['id']}", {"label_schema": CHOICES_ONLY, "new_schema_version": True}, format="json"
    )
    assert changed.json()["schema_version"] == 2

    response = manager.post(f"{PROJECTS_URL}{created['id']}/exports/", {"format": "coco"}, format="json")

    assert response.status_code == 202, response.json()
    assert ExportJob.objects.get().format == "coco"
