"""workers.base: every tenant task retries what a retry can fix (core.faults decides), with growing waits no
longer than half the broker's visibility timeout, and fails at once on anything else; a copy of a tenant task's
message delivered while the task still runs is dropped."""

from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from celery.exceptions import Retry
from django.db import OperationalError, ProgrammingError, connection
from psycopg.errors import DeadlockDetected, InsufficientPrivilege

from config.celery import app
from core.context import organization_context
from tests.factories import OrganizationFactory, ProjectFactory
from workers import tasks

TASK = "routing.dispatch"  # any tenant task: they all come through the one decorator


def failing_with(monkeypatch: Any, exc: Exception) -> list[int]:
    calls: list[int] = []

    def dispatch(*, project: Any) -> Any:
        calls.append(project.pk)
        raise exc

    monkeypatch.setattr(tasks, "project_dispatch", dispatch)
    return calls


def deadlock() -> OperationalError:
    wrapped = OperationalError("deadlock detected")
    wrapped.__cause__ = DeadlockDetected("deadlock detected")
    return wrapped


def test_a_transient_fault_is_retried_with_a_growing_wait(tenant, monkeypatch):
    project = ProjectFactory()
    failing_with(monkeypatch, deadlock())

    with pytest.raises(Retry) as first:
        app.tasks[TASK].apply(args=(tenant.pk, project.pk)).get()
    with pytest.raises(Retry) as fourth:
        app.tasks[TASK].apply(args=(tenant.pk, project.pk), retries=3).get()

    # Full jitter: anything from no wait up to 2**retries seconds.
    assert first.value.when in range(2)
    assert fourth.value.when in range(9)
    assert isinstance(first.value.exc, OperationalError)


def test_after_the_last_attempt_the_transient_fault_is_raised(tenant, monkeypatch):
    project = ProjectFactory()
    failing_with(monkeypatch, deadlock())

    with pytest.raises(OperationalError, match="deadlock detected"):
        app.tasks[TASK].apply(args=(tenant.pk, project.pk), retries=5).get()


def test_a_missing_privilege_fails_at_once(tenant, monkeypatch):
    project = ProjectFactory()
    refused = ProgrammingError("permission denied for table annotation_assignment")
    refused.__cause__ = InsufficientPrivilege("permission denied for table annotation_assignment")
    calls = failing_with(monkeypatch, refused)

    with pytest.raises(ProgrammingError, match="permission denied"):
        app.tasks[TASK].apply(args=(tenant.pk, project.pk)).get()

    assert calls == [project.pk]


def test_a_bug_fails_at_once(tenant, monkeypatch):
    project = ProjectFactory()
    calls = failing_with(monkeypatch, KeyError("queue"))

    with pytest.raises(KeyError):
        app.tasks[TASK].apply(args=(tenant.pk, project.pk)).get()

    assert calls == [project.pk]


def test_no_retry_waits_longer_than_half_the_visibility_timeout(tenant, monkeypatch, settings):
    # A longer countdown would outlast the visibility timeout, and a second worker would be handed the message.
    settings.CELERY_VISIBILITY_TIMEOUT_SECONDS = 4
    project = ProjectFactory()
    failing_with(monkeypatch, deadlock())

    waits = []
    for _ in range(20):
        with pytest.raises(Retry) as retried:
            app.tasks[TASK].apply(args=(tenant.pk, project.pk), retries=4).get()
        waits.append(retried.value.when)

    assert max(waits) <= 2


@pytest.mark.django_db(transaction=True)
def test_a_copy_of_a_tenant_task_delivered_while_it_still_runs_is_dropped(monkeypatch):
    # The first delivery of task "t-1" is still running elsewhere: it holds the lock on its id in its transaction.
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        project = ProjectFactory()
    calls = failing_with(monkeypatch, KeyError("never raised: must not run"))
    db = connection.settings_dict
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"]) as running:
        running.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", ["t-1", "task:t-1"])

        result = app.tasks[TASK].apply(args=(organization.pk, project.pk), task_id="t-1")

    assert (result.state, calls) == ("IGNORED", [])
    # Once that run is over, the id is free again: a later delivery runs.
    monkeypatch.setattr(tasks, "project_dispatch", lambda *, project: SimpleNamespace(queued=3))
    later = app.tasks[TASK].apply(args=(organization.pk, project.pk), task_id="t-1")
    assert (later.state, later.result) == ("SUCCESS", 3)
