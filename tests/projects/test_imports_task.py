"""The `projects.import_run` task: runs a slice and queues the next while rows remain, retries a failing source
(the checkpoint keeps the progress) and gives up after a few attempts, fails the job on an unexpected error."""

from typing import Any

import pytest
from celery.exceptions import Retry

from config.celery import app
from projects.imports import runner
from projects.imports.errors import SourceUnavailable
from projects.models import ImportJob, ImportRow, Task
from tests.projects import imports_support
from tests.projects.imports_support import jsonl, rows_of, upload_job
from workers import enqueue
from workers.tasks import IMPORT_RETRIES

# Fixtures shared by the import tests, bound here so that pytest finds them in this module.
manager = imports_support.manager
project = imports_support.project
store = imports_support.store

TASK = "projects.import_run"


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


def test_an_unexpected_error_fails_the_job_and_is_raised(store, manager, project, monkeypatch):
    def broken(job: ImportJob, **kwargs: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(runner, "import_run", broken)
    job = upload_job(manager, project, jsonl(rows_of(3)))

    with pytest.raises(KeyError):
        app.tasks[TASK].apply(args=(project.organization_id, job.pk)).get()

    job = ImportJob.objects.get(pk=job.pk)
    assert (job.state, job.message) == ("failed", "The import stopped on an internal error; nothing was imported.")
