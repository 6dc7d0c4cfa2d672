"""The `projects.import_run` task: runs a slice and queues the next while rows remain, retries what a retry can
fix (a failing source, a lock timeout; the checkpoint keeps the progress) and gives up after a few attempts, fails
the job at once, naming the cause, on anything else (a missing privilege, a bug)."""

import copy
import io
import json
import logging
import logging.config
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery.exceptions import Retry
from django.db import OperationalError, ProgrammingError, connection
from psycopg.errors import SerializationFailure

from config.celery import app
from core import enqueue
from projects.imports import runner
from projects.imports.errors import SourceUnavailable
from projects.models import ImportJob, ImportRow, Task
from tenancy.models import Role
from tests.faults_support import revoke_from_app_role, table_locked_elsewhere
from tests.projects import imports_support
from tests.projects.imports_support import jsonl, rows_of, upload_job
from workers.tasks import IMPORT_RETRIES

# Fixtures shared by the import tests, bound here so that pytest finds them in this module.
manager = imports_support.manager
project = imports_support.project
store = imports_support.store

TASK = "projects.import_run"


@pytest.fixture
def production_logging(settings: Any) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The deployment's logging (settings.LOGGING: one JSON object per line from StructuredFormatter) at INFO,
    the default LOG_LEVEL, for the length of the test; the lines it wrote, parsed, on demand."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    config = copy.deepcopy(settings.LOGGING)
    config["root"]["level"] = "INFO"
    logging.config.dictConfig(config)
    written = io.StringIO()
    [console] = [h for h in root.handlers if h not in saved[1]]
    assert isinstance(console, logging.StreamHandler)
    console.setStream(written)  # the console handler as configured, writing where the test can read

    yield lambda: [json.loads(line) for line in written.getvalue().splitlines()]
    console.close()
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]


@pytest.fixture
def sent(monkeypatch: Any) -> list[tuple[str, tuple[Any, ...]]]:
    messages: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(enqueue, "_send", lambda name, args: messages.append((name, args)))
    return messages


def test_a_run_that_runs_out_of_time_queues_its_continuation(
    store, manager, project, settings, sent, django_capture_on_commit_callbacks
):
    settings.IMPORT_BATCH_ROWS = 5
    settings.IMPORT_SLICE_SECONDS = 0
    job = upload_job(manager, project, jsonl(rows_of(12)))

    with django_capture_on_commit_callbacks(execute=True):
        state = app.tasks[TASK].apply(args=(project.organization_id, job.pk)).get()

    assert state == "continued"
    assert sent == [(TASK, (project.organization_id, job.pk))]
    assert ImportJob.objects.get(pk=job.pk).rows_read == 5


def test_a_successful_import_logged_at_info_as_deployed_ends_the_task_in_success(
    store, manager, project, production_logging
):
    job = upload_job(manager, project, jsonl(rows_of(3)))

    result = app.tasks[TASK].apply(args=(project.organization_id, job.pk))

    assert (result.status, result.get()) == ("SUCCESS", "succeeded")
    [succeeded] = [line for line in production_logging() if line["event"] == "import.succeeded"]
    assert {k: v for k, v in succeeded.items() if k != "time"} == {
        "level": "INFO",
        "logger": "projects.imports.runner",
        "event": "import.succeeded",
        "import": str(job.uuid),
        "tasks_created": 3,
        "tasks_updated": 0,
        "rows": 3,
    }


def test_a_failing_source_is_retried_later_and_after_the_last_attempt_the_job_fails_with_nothing_kept(
    store, manager, project, monkeypatch
):
    def unreachable(job: ImportJob, **kwargs: Any) -> Any:
        raise SourceUnavailable("Reading the file failed (ReadTimeoutError).")

    monkeypatch.setattr(runner, "import_run", unreachable)
    job = upload_job(manager, project, jsonl(rows_of(3)))
    task = app.tasks[TASK]

    with pytest.raises(Retry) as retried:
        task.apply(args=(project.organization_id, job.pk)).get()
    assert (retried.value.when, ImportJob.objects.get(pk=job.pk).state) == (30, "pending")

    state = task.apply(args=(project.organization_id, job.pk), retries=IMPORT_RETRIES).get()

    job = ImportJob.objects.get(pk=job.pk)
    assert (state, job.state, job.message) == (
        "failed",
        "failed",
        "The import stopped after 6 attempts: Reading the file failed (ReadTimeoutError).",
    )
    assert (Task.objects.count(), ImportRow.objects.count()) == (0, 0)


def test_an_unexpected_error_fails_the_job_at_once_naming_it_and_is_raised(store, manager, project, monkeypatch):
    def broken(job: ImportJob, **kwargs: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(runner, "import_run", broken)
    job = upload_job(manager, project, jsonl(rows_of(3)))

    with pytest.raises(KeyError):
        app.tasks[TASK].apply(args=(project.organization_id, job.pk)).get()

    job = ImportJob.objects.get(pk=job.pk)
    assert (job.state, job.message) == (
        "failed",
        "The import stopped: an internal error (KeyError); nothing was imported.",
    )


def test_a_missing_privilege_fails_the_job_at_once_with_its_cause_in_the_api(store, manager, project, tenant, api_as):
    # Given a database whose grants miss the app role's right to stage rows
    job = upload_job(manager, project, jsonl(rows_of(3)))
    revoke_from_app_role("INSERT", ImportRow)

    # When the import runs: a retry would meet the same refusal, so there is none
    with pytest.raises(ProgrammingError):
        app.tasks[TASK].apply(args=(project.organization_id, job.pk)).get()

    # Then the job has failed, and says why, to whoever looks at it
    message = (
        "The import stopped: permission denied for table projects_importrow (InsufficientPrivilege); "
        "nothing was imported."
    )
    detail = api_as(tenant, Role.MANAGER).get(f"/api/v1/imports/{job.uuid}").json()
    assert (detail["state"], detail["message"]) == ("failed", message)
    assert (Task.objects.count(), ImportRow.objects.count()) == (0, 0)


def test_a_lock_timeout_is_retried_and_the_retry_finishes_the_import(store, manager, project):
    # Given another session holding the staging table, and a lock timeout that gives up on it
    job = upload_job(manager, project, jsonl(rows_of(3)))
    task = app.tasks[TASK]
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '100ms'")  # undone when the test's transaction rolls back

    # When the import runs while the table is locked
    with table_locked_elsewhere(ImportRow), pytest.raises(Retry) as retried:
        task.apply(args=(project.organization_id, job.pk)).get()

    # Then it is retried later, and the retry, the lock gone, imports everything
    assert (retried.value.when, ImportJob.objects.get(pk=job.pk).state) == (30, "running")
    assert task.apply(args=(project.organization_id, job.pk), retries=1).get() == "succeeded"
    assert Task.objects.filter(project=project).count() == 3


def test_a_database_that_keeps_failing_transiently_fails_the_job_naming_the_last_cause(
    store, manager, project, monkeypatch
):
    def conflicted(job: ImportJob, **kwargs: Any) -> Any:
        raise OperationalError("could not serialize") from SerializationFailure(
            "could not serialize access due to concurrent update"
        )

    monkeypatch.setattr(runner, "import_run", conflicted)
    job = upload_job(manager, project, jsonl(rows_of(3)))

    state = app.tasks[TASK].apply(args=(project.organization_id, job.pk), retries=IMPORT_RETRIES).get()

    job = ImportJob.objects.get(pk=job.pk)
    assert (state, job.state, job.message) == (
        "failed",
        "failed",
        "The import stopped after 6 attempts: could not serialize access due to concurrent update "
        "(SerializationFailure).",
    )
