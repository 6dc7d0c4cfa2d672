"""Running imports: all or nothing by default, bad rows skipped and reported on request, idempotent by external_id,
updates on request, resumable after a kill at any point (nothing lost, nothing doubled), cancellable, limited."""

import gzip
import json
from typing import Any

import pytest

from audit.models import AuditEvent
from core import enqueue
from projects import config
from projects.imports import runner, staging
from projects.imports.runner import import_progress, import_run
from projects.imports.services import import_cancel
from projects.models import ImportJob, ImportRow, Task
from projects.services.projects import project_create, project_delete
from tenancy.models import Role
from tests.factories import MembershipFactory
from tests.projects import imports_support
from tests.projects.imports_support import counts, gz, imported, json_array, jsonl, rows_of, run_to_end, upload_job

# Fixtures shared by the import tests, bound here so that pytest finds them in this module.
manager = imports_support.manager
project = imports_support.project
store = imports_support.store

ROW_LIMIT = config.import_row_max_bytes()


class SimulatedKill(BaseException):
    """Like a SIGKILL, nothing in the import catches it: whatever was not committed is lost."""


@pytest.fixture
def small_batches(settings: Any) -> None:
    settings.IMPORT_BATCH_ROWS = 10


@pytest.fixture
def sent(monkeypatch: Any) -> list[tuple[str, tuple[Any, ...]]]:
    """Messages the code queued (after commit), recorded instead of sent."""
    messages: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(enqueue, "_send", lambda name, args: messages.append((name, args)))
    return messages


MIXED = (
    jsonl(rows_of(3))
    + b'{"external_id": "bad-json", "data": \n'
    + b'{"external_id": "no-data"}\n'
    + jsonl(rows_of(2, start=3))
    + b'{"external_id": "pri", "data": {"text": "x"}, "priority": "high"}\n'
)
MIXED_ERRORS = [
    {"line": 4, "field": "", "code": "malformed", "message": "Invalid JSON at column 37: Expecting value."},
    {"line": 5, "field": "data", "code": "invalid", "message": "Must be a non-empty JSON object."},
    {
        "line": 8,
        "field": "priority",
        "code": "invalid",
        "message": "Must be an integer between -1000000 and 1000000.",
    },
]


# --- the happy path ---


def test_an_import_creates_every_row_in_file_order_audits_and_cleans_up(
    store, manager, project, sent, django_capture_on_commit_callbacks
):
    job = upload_job(manager, project, jsonl(rows_of(5)))
    source = store / job.file_key

    with django_capture_on_commit_callbacks(execute=True):
        job = run_to_end(job)

    assert counts(job) == {
        "state": "succeeded",
        "rows_read": 5,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "errors": 0,
    }
    assert (job.errors, job.message, import_progress(job)) == ([], "5 created, 0 updated, 0 unchanged.", 1.0)
    assert imported(project) == [(f"ext-{i}", {"text": f"item {i}"}) for i in range(5)]
    assert ImportRow.objects.count() == 0
    assert not source.exists()  # the uploaded file goes once the job has ended
    assert sent == [("routing.dispatch", (project.organization_id, project.pk))]
    finished = AuditEvent.objects.get(action="import.finish")
    assert (finished.target_id, finished.outcome, finished.metadata) == (
        str(job.uuid),
        "success",
        {
            "project": str(project.uuid),
            "state": "succeeded",
            "rows_read": 5,
            "created": 5,
            "updated": 0,
            "unchanged": 0,
            "errors": 0,
        },
    )


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("json", json_array(rows_of(4))),
        ("json", gz(json_array(rows_of(4)))),
        ("jsonl", gz(jsonl(rows_of(4)))),
        ("csv", b"external_id,data.text\n" + b"".join(f"ext-{i},item {i}\n".encode() for i in range(4))),
    ],
    ids=["json", "json.gz", "jsonl.gz", "csv"],
)
def test_every_format_plain_or_gzip_imports_the_same_tasks(store, manager, project, fmt, content):
    job = run_to_end(upload_job(manager, project, content, fmt))

    assert (job.state, job.created_count) == ("succeeded", 4)
    assert imported(project) == [(f"ext-{i}", {"text": f"item {i}"}) for i in range(4)]


def test_rows_are_checked_against_the_project_schema(store, manager, tenant):
    schema = {"fields": [{"name": "entities", "type": "spans", "source": "text", "labels": ["PER"]}]}
    project = project_create(actor=manager, name="NER", label_schema=schema)
    content = jsonl([{"external_id": "a", "data": {"text": "ok"}}, {"external_id": "b", "data": {"body": "x"}}])

    job = run_to_end(upload_job(manager, project, content, skip=True))

    assert (job.created_count, job.error_count) == (1, 1)
    assert job.errors == [
        {
            "line": 2,
            "field": "data.text",
            "code": "required",
            "message": "Missing: this key is read by field 'entities'.",
        }
    ]


# --- all or nothing, or skip ---


def test_by_default_one_bad_row_means_nothing_is_imported(store, manager, project):
    job = run_to_end(upload_job(manager, project, MIXED))

    assert counts(job) == {
        "state": "failed",
        "rows_read": 8,
        "created": 0,
        "updated": 0,
        "unchanged": 0,
        "errors": 3,
    }
    assert job.errors == MIXED_ERRORS
    assert job.message == "3 rows are invalid, so nothing was imported. Fix them, or import again with skip_bad_rows."
    assert (Task.objects.count(), ImportRow.objects.count()) == (0, 0)
    assert AuditEvent.objects.get(action="import.finish").outcome == "failure"


def test_with_skip_bad_rows_the_good_rows_are_imported_and_the_bad_ones_reported(store, manager, project):
    job = run_to_end(upload_job(manager, project, MIXED, skip=True))

    assert counts(job) == {
        "state": "succeeded",
        "rows_read": 8,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "errors": 3,
    }
    assert job.errors == MIXED_ERRORS
    assert job.message == "5 created, 0 updated, 0 unchanged, 3 bad rows skipped."
    assert [external_id for external_id, _ in imported(project)] == [f"ext-{i}" for i in range(5)]


def test_only_the_first_errors_are_kept_but_all_are_counted(store, manager, project, monkeypatch):
    monkeypatch.setattr(config, "IMPORT_ERRORS_KEPT", 4)
    content = b"".join(f'{{"external_id": "e{i}"}}\n'.encode() for i in range(10)) + jsonl(rows_of(1))

    job = run_to_end(upload_job(manager, project, content, skip=True))

    assert (job.error_count, [e["line"] for e in job.errors], job.created_count) == (10, [1, 2, 3, 4], 1)


def test_a_10_mb_row_is_one_bad_row(store, manager, project):
    content = jsonl(rows_of(1)) + b'{"data": {"text": "' + b"x" * (10 * 1024 * 1024) + b'"}}\n' + jsonl(rows_of(1, 1))

    job = run_to_end(upload_job(manager, project, content, skip=True))

    assert (job.created_count, job.error_count) == (2, 1)
    assert job.errors == [
        {
            "line": 2,
            "field": "",
            "code": "row_too_large",
            "message": f"The row is larger than {ROW_LIMIT} bytes; none of it was read.",
        }
    ]


def test_a_file_error_stops_the_import_even_when_skipping_bad_rows(store, manager, project, settings):
    settings.IMPORT_BATCH_ROWS = 2
    content = b'[{"external_id": "a", "data": {"t": 1}}, {"external_id": "b", "data": {"t": 2}},\n{"data": '

    job = run_to_end(upload_job(manager, project, content, "json", skip=True))

    assert (job.state, job.created_count, Task.objects.count(), ImportRow.objects.count()) == ("failed", 0, 0, 0)
    assert job.message == "The JSON array is not closed; is the file truncated? (line 2)."
    assert job.errors == [
        {"line": 2, "field": "file", "code": "malformed_file", "message": job.message},
    ]


def test_a_compressed_bomb_is_a_file_error_and_nothing_is_imported(store, manager, project, settings):
    settings.IMPORT_MAX_FILE_BYTES = 1024 * 1024
    bomb = gzip.compress(jsonl(rows_of(2)) + b" " * (20 * 1024 * 1024))

    job = run_to_end(upload_job(manager, project, bomb, skip=True))

    assert (job.state, Task.objects.count()) == ("failed", 0)
    assert job.errors == [
        {
            "line": None,
            "field": "file",
            "code": "decompressed_too_large",
            "message": "The file decompresses to more than 1048576 bytes (IMPORT_MAX_FILE_BYTES).",
        }
    ]


def test_more_rows_than_the_limit_fail_the_import(store, manager, project, settings):
    settings.IMPORT_MAX_ROWS = 5

    job = run_to_end(upload_job(manager, project, jsonl(rows_of(6)), skip=True))

    assert (job.state, Task.objects.count()) == ("failed", 0)
    assert job.errors == [
        {
            "line": 6,
            "field": "file",
            "code": "too_many_rows",
            "message": "The import has more than 5 rows (IMPORT_MAX_ROWS).",
        }
    ]


# --- idempotence and updates ---


def test_running_the_same_import_again_adds_nothing(store, manager, project):
    run_to_end(upload_job(manager, project, jsonl(rows_of(4))))

    again = run_to_end(upload_job(manager, project, jsonl(rows_of(6))))

    assert counts(again) == {
        "state": "succeeded",
        "rows_read": 6,
        "created": 2,
        "updated": 0,
        "unchanged": 4,
        "errors": 0,
    }
    assert Task.objects.filter(project=project).count() == 6


def test_rows_without_external_id_are_idempotent_by_their_content(store, manager, project):
    content = jsonl([{"data": {"text": "one"}}, {"data": {"text": "two"}}])
    run_to_end(upload_job(manager, project, content))

    again = run_to_end(upload_job(manager, project, content))

    assert (again.created_count, again.unchanged_count, Task.objects.count()) == (0, 2, 2)
    assert all(task.external_id.startswith("sha256:") for task in Task.objects.all())


def test_existing_tasks_are_left_alone_unless_update_existing_is_asked(store, manager, project):
    run_to_end(upload_job(manager, project, jsonl(rows_of(3))))
    changed = jsonl(
        [
            {"external_id": "ext-0", "data": {"text": "CHANGED"}, "priority": 9},
            {"external_id": "ext-1", "data": {"text": "item 1"}},
            {"external_id": "ext-2", "data": {"text": "item 2"}, "language": "fr"},
            {"external_id": "new", "data": {"text": "new"}},
        ]
    )

    left_alone = run_to_end(upload_job(manager, project, changed))
    assert (left_alone.created_count, left_alone.updated_count, left_alone.unchanged_count) == (1, 0, 3)
    assert Task.objects.get(external_id="ext-0").data == {"text": "item 0"}

    updated = run_to_end(upload_job(manager, project, changed, update=True))
    assert (updated.created_count, updated.updated_count, updated.unchanged_count) == (0, 2, 2)
    ext0, ext2 = Task.objects.get(external_id="ext-0"), Task.objects.get(external_id="ext-2")
    assert (ext0.data, ext0.priority, ext2.language) == ({"text": "CHANGED"}, 9, "fr")


def test_update_existing_corrects_a_gold_answer_but_never_makes_a_task_gold(store, manager, project):
    run_to_end(
        upload_job(
            manager,
            project,
            jsonl(
                [
                    {"external_id": "g", "data": {"t": 1}, "gold_answer": {"label": "a"}},
                    {"external_id": "plain", "data": {"t": 1}},
                ]
            ),
        )
    )
    rows = [
        {"external_id": "g", "data": {"t": 1}, "gold_answer": {"label": "b"}},
        {"external_id": "plain", "data": {"t": 1}, "gold_answer": {"label": "b"}},
    ]

    job = run_to_end(upload_job(manager, project, jsonl(rows), update=True))

    assert (job.updated_count, job.unchanged_count) == (1, 1)
    gold, plain = Task.objects.get(external_id="g"), Task.objects.get(external_id="plain")
    assert (gold.is_gold, gold.gold_answer, plain.is_gold, plain.gold_answer) == (True, {"label": "b"}, False, None)


def test_an_external_id_twice_in_one_import_is_an_error_at_the_later_line(store, manager, project):
    content = jsonl(rows_of(2)) + jsonl([{"external_id": "ext-0", "data": {"text": "again"}}])

    failed = run_to_end(upload_job(manager, project, content))
    skipped = run_to_end(upload_job(manager, project, content, skip=True))

    duplicate = {
        "line": 3,
        "field": "external_id",
        "code": "duplicate",
        "message": "external_id 'ext-0' appears earlier in the import (line 1).",
    }
    assert (failed.state, failed.errors, failed.error_count) == ("failed", [duplicate], 1)
    assert (skipped.state, skipped.errors, skipped.created_count) == ("succeeded", [duplicate], 2)
    assert imported(project) == [("ext-0", {"text": "item 0"}), ("ext-1", {"text": "item 1"})]


def test_every_value_reaches_the_task_exactly_as_written(store, manager, project):
    awkward = 'tab\there, newline\nthere, back\\slash \\N, quote " and \u00e9\u4e2d\U0001f600 \\u0041'
    rows = [
        {"external_id": "id\twith\ttabs\\and\nnewline", "data": {"text": awkward, "nested": {"k\\": [1.5, None]}}},
        {"external_id": "big", "data": {"n": 123456789012345678901234567890, "m": -(2**63)}, "priority": -7},
        {
            "external_id": "routed",
            "data": {"text": "x"},
            "required_skills": {"cardio\\logy": 3},
            "language": "PT-br",
            "gold_answer": {"label": "a\tb"},
        },
    ]

    job = run_to_end(upload_job(manager, project, jsonl(rows)))

    assert (job.state, job.created_count) == ("succeeded", 3)
    assert imported(project) == [(row["external_id"], row["data"]) for row in rows]
    routed = Task.objects.get(project=project, external_id="routed")
    assert (routed.required_skills, routed.language, routed.gold_answer, routed.is_gold) == (
        {"cardio\\logy": 3},
        "pt-br",
        {"label": "a\tb"},
        True,
    )
    assert Task.objects.get(project=project, external_id="big").priority == -7


def test_data_just_over_the_size_limit_is_refused_as_the_endpoint_measures_it(store, manager, project, settings):
    # Compact, the data is 43 bytes; as the endpoint measures it (json.dumps, a space after ':' and ','), 48.
    data = {"a": "xxxxxxxxxx", "b": "yyyyyyyyyy", "c": "z"}
    assert len(json.dumps(data)) == 48
    settings.PROJECTS_TASK_DATA_MAX_BYTES = 47
    rows = [{"external_id": "over", "data": data}, {"external_id": "under", "data": {"a": "xxxxxxxxxx"}}]

    job = run_to_end(upload_job(manager, project, jsonl(rows), skip=True))

    assert (job.created_count, job.error_count) == (1, 1)
    assert job.errors == [{"line": 1, "field": "data", "code": "too_large", "message": "Larger than 47 bytes."}]


# --- resuming ---


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("jsonl", jsonl(rows_of(45))),
        ("jsonl", gz(jsonl(rows_of(45)))),
        ("json", json.dumps(rows_of(45), indent=1).encode()),
        ("csv", b"external_id,data.text\n" + b"".join(f'ext-{i},"item {i}"\n'.encode() for i in range(45))),
    ],
    ids=["jsonl", "jsonl.gz", "json", "csv"],
)
def test_a_run_killed_mid_batch_resumes_after_the_last_committed_batch(
    store, manager, project, small_batches, monkeypatch, fmt, content
):
    original = staging.stage_rows
    calls: list[int] = []

    def stage_then_die(job: ImportJob, source_index: int, rows: Any) -> None:
        calls.append(len(rows))
        original(job, source_index, rows)
        if len(calls) == 3:
            raise SimulatedKill()  # the third batch was written, not committed

    monkeypatch.setattr(staging, "stage_rows", stage_then_die)
    job = upload_job(manager, project, content, fmt)

    with pytest.raises(SimulatedKill):
        import_run(job)

    job.refresh_from_db()
    assert (job.state, job.rows_read, ImportRow.objects.filter(job=job).count()) == ("running", 20, 20)
    assert job.checkpoint["source"]["position"]["line"] == {"jsonl": 20, "json": 121, "csv": 21}[fmt]
    assert 0 < import_progress(job) < 1

    monkeypatch.setattr(staging, "stage_rows", original)
    job = run_to_end(job)

    assert counts(job) == {
        "state": "succeeded",
        "rows_read": 45,
        "created": 45,
        "updated": 0,
        "unchanged": 0,
        "errors": 0,
    }
    assert imported(project) == [(f"ext-{i}", {"text": f"item {i}"}) for i in range(45)]
    assert job.checkpoint["runs"] == 2


def test_a_run_killed_during_the_merge_leaves_nothing_and_the_rerun_merges_once(store, manager, project, monkeypatch):
    original = staging.merge_staged

    def merge_then_die(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        raise SimulatedKill()

    monkeypatch.setattr(staging, "merge_staged", merge_then_die)
    job = upload_job(manager, project, jsonl(rows_of(12)))
    with pytest.raises(SimulatedKill):
        import_run(job)
    job.refresh_from_db()
    assert (job.state, job.checkpoint["phase"], Task.objects.count(), ImportRow.objects.count()) == (
        "running",
        "merge",
        0,
        12,
    )

    monkeypatch.setattr(staging, "merge_staged", original)
    job = run_to_end(job)

    assert (job.state, job.created_count, Task.objects.count(), ImportRow.objects.count()) == ("succeeded", 12, 12, 0)


def test_a_run_overtaken_by_a_newer_one_stops_without_staging_twice(
    store, manager, project, small_batches, monkeypatch
):
    job = upload_job(manager, project, jsonl(rows_of(35)))
    original = runner.row_task
    seen: list[int] = []

    def newer_run_starts_meanwhile(item: dict[str, Any], **kwargs: Any) -> Any:
        seen.append(kwargs["line"])
        if kwargs["line"] == 15:
            # A redelivered copy of the task begins while this run is between two batches.
            ImportJob.objects.filter(pk=job.pk).update(
                checkpoint={**ImportJob.objects.get(pk=job.pk).checkpoint, "seq": 999}
            )
        return original(item, **kwargs)

    monkeypatch.setattr(runner, "row_task", newer_run_starts_meanwhile)

    assert import_run(job).finished is True  # the old run gave up quietly at its next batch
    job.refresh_from_db()
    assert (job.state, job.rows_read, ImportRow.objects.count()) == ("running", 10, 10)

    monkeypatch.setattr(runner, "row_task", original)
    job = run_to_end(job)
    assert (job.state, job.created_count, Task.objects.count()) == ("succeeded", 35, 35)


def test_staging_rows_lost_in_a_database_crash_make_the_job_start_over(store, manager, project, small_batches):
    job = upload_job(manager, project, jsonl(rows_of(25)))
    import_run(job, time_budget=0)  # one batch staged and checkpointed, then the slice ends
    job.refresh_from_db()
    assert (job.rows_read, job.checkpoint["staged"], ImportRow.objects.filter(job=job).count()) == (10, 10, 10)
    # What crash recovery does to the (unlogged) staging table: its rows are gone, the job's checkpoint is not.
    ImportRow.objects.filter(job=job).delete()

    job = run_to_end(job)

    assert counts(job) == {
        "state": "succeeded",
        "rows_read": 25,
        "created": 25,
        "updated": 0,
        "unchanged": 0,
        "errors": 0,
    }
    assert imported(project) == [(row["external_id"], row["data"]) for row in rows_of(25)]


def test_time_slices_hand_over_until_done_and_show_progress(store, manager, project, small_batches):
    job = upload_job(manager, project, jsonl(rows_of(25)))

    first = import_run(job, time_budget=0)
    job.refresh_from_db()
    progress = import_progress(job)
    second = import_run(job, time_budget=0)
    job.refresh_from_db()

    assert (first.finished, job.rows_read) == (False, 20)
    assert 0 < progress < import_progress(job) < 1
    assert second.finished is False
    job = run_to_end(job)
    assert (job.state, job.created_count, job.checkpoint["runs"]) == ("succeeded", 25, 3)


# --- cancelling ---


def test_a_cancelled_import_stops_at_its_next_batch_and_keeps_nothing(store, manager, project, small_batches):
    job = upload_job(manager, project, jsonl(rows_of(30)))
    import_run(job, time_budget=0)
    assert ImportRow.objects.count() == 10

    cancelled = import_cancel(actor=manager, job=job)
    outcome = import_run(job)

    assert (cancelled.state, outcome.finished) == ("cancelled", True)
    job.refresh_from_db()
    assert (job.state, Task.objects.count(), ImportRow.objects.count()) == ("cancelled", 0, 0)
    assert job.message == "Cancelled; nothing was imported."
    assert AuditEvent.objects.get(action="import.cancel").changes == {"state": ["running", "cancelled"]}


def test_an_import_whose_project_was_deleted_midway_just_stops(store, manager, project, small_batches):
    job = upload_job(manager, project, jsonl(rows_of(25)))
    import_run(job, time_budget=0)
    project_delete(actor=MembershipFactory(organization=project.organization, role=Role.ADMIN), project=project)

    assert import_run(job).finished is True
    assert (ImportJob.objects.count(), ImportRow.objects.count(), Task.objects.count()) == (0, 0, 0)
