"""A real Celery worker on Redis, logged in as the app role: tasks find their rows only by entering the tenant
they are given, and a message is sent only once its transaction has committed."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from config.celery import app
from core.context import organization_context
from tenancy.models import Role
from tenancy.services.invitations import invitation_create
from tests.factories import MembershipFactory, OrganizationFactory
from tests.worker_support import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = REPO_ROOT


@pytest.fixture
def worker(tmp_path):
    """Start `celery worker` against the test database as the app role; stop it (by its pid) afterwards."""
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{settings.DATABASE_APP_ROLE}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "DJANGO_EMAIL_FILE_PATH": str(tmp_path / "mail"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield tmp_path / "mail", process
    app.conf.task_always_eager = was_eager
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for_files(folder: Path, count: int, timeout: float = 45.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.log")) if folder.exists() else []
        if len(files) >= count:
            return files
        time.sleep(0.2)
    return sorted(folder.glob("*.log")) if folder.exists() else []


def test_worker_sends_invitation_inside_its_tenant(worker):
    mail_dir, process = worker
    organization = OrganizationFactory(name="Heron Lab")
    with organization_context(organization.pk):
        owner = MembershipFactory(organization=organization, role=Role.OWNER)
        issued = invitation_create(
            actor=owner, organization=organization, email="expert@example.org", role=Role.ANNOTATOR
        )

    files = _wait_for_files(mail_dir, 1)
    assert len(files) == 1, process.stdout.read1() if process.poll() is not None else "worker still running"
    body = files[0].read_text()
    assert "To: expert@example.org" in body
    assert issued.accept_url in body
    assert "Heron Lab" in body


def test_rolled_back_invitation_sends_nothing(worker):
    mail_dir, _ = worker
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        owner = MembershipFactory(organization=organization, role=Role.OWNER)

    def invite_then_fail() -> None:
        with transaction.atomic(), organization_context(organization.pk):
            invitation_create(actor=owner, organization=organization, email="ghost@example.org", role=Role.ANNOTATOR)
            raise RuntimeError("abort after inviting")

    with pytest.raises(RuntimeError, match="abort after inviting"):
        invite_then_fail()
    # A committed invitation afterwards proves the worker is up; the rolled-back one must never have been queued.
    with organization_context(organization.pk):
        invitation_create(actor=owner, organization=organization, email="real@example.org", role=Role.ANNOTATOR)
    files = _wait_for_files(mail_dir, 1)
    time.sleep(1.0)
    recipients = [
        line for f in sorted(mail_dir.glob("*.log")) for line in f.read_text().splitlines() if line.startswith("To: ")
    ]
    assert len(files) >= 1
    assert recipients == ["To: real@example.org"]
