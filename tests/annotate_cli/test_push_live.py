"""`annotate push` end to end against a live server and the real import endpoints: a streamed multipart upload,
the import job followed to its end, and the tasks in the project."""

import json
from pathlib import Path
from typing import Any

import pytest

from annotate_cli.main import main
from projects.models import ImportJob, Task
from tenancy.context import organization_context
from tenancy.models import Role
from tests.factories import ApiTokenFactory, MembershipFactory, OrganizationFactory, ProjectFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lab(settings: Any, tmp_path: Path) -> Any:
    settings.OBJECT_STORAGE_BUCKET = ""
    settings.OBJECT_STORAGE_ROOT = tmp_path / "objects"
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        project = ProjectFactory()
        manager = MembershipFactory(role=Role.MANAGER)
        token = ApiTokenFactory(membership=manager, role=Role.MANAGER).raw
    return organization, project, token


def _push(live_server: Any, lab: Any, tmp_path: Path, *extra: str) -> int:
    _, project, token = lab
    return main(
        ["push", *extra, "--url", live_server.url, "--token", token, "--project", str(project.uuid), "--poll", "0.05",
         "--state-file", str(tmp_path / "state.json")]
    )  # fmt: skip


def test_a_file_is_pushed_imported_and_reported(live_server, lab, tmp_path, capsys):
    organization, project, _ = lab
    rows = [{"external_id": f"item-{i}", "data": {"text": f"text {i}"}} for i in range(25)]
    source = tmp_path / "tasks.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))

    code = _push(live_server, lab, tmp_path, str(source))

    assert code == 0, capsys.readouterr()
    with organization_context(organization.pk):
        job = ImportJob.objects.get()
        assert (job.state, job.format, job.created_count) == ("succeeded", "jsonl", 25)
        assert sorted(Task.objects.filter(project=project).values_list("external_id", flat=True)) == sorted(
            row["external_id"] for row in rows
        )
    out = capsys.readouterr().out
    assert f"Import {job.uuid} succeeded: created 25, updated 0, unchanged 0, error 0" in out
    assert json.loads((tmp_path / "state.json").read_text()) == {}

    # The same file again: idempotent by external_id, nothing created twice.
    assert _push(live_server, lab, tmp_path, str(source), "--quiet") == 0
    assert "created 0, updated 0, unchanged 25, error 0" in capsys.readouterr().out


def test_bad_rows_are_reported_and_skipped_when_asked(live_server, lab, tmp_path, capsys):
    organization, project, _ = lab
    source = tmp_path / "tasks.jsonl"
    source.write_text('{"external_id": "ok", "data": {"text": "fine"}}\n{"external_id": "bad", "data": []}\n')

    assert _push(live_server, lab, tmp_path, str(source), "--quiet") == 1
    out = capsys.readouterr().out
    assert "failed" in out
    assert "  line 2: data" in out

    assert _push(live_server, lab, tmp_path, str(source), "--quiet", "--skip-bad-rows") == 0
    with organization_context(organization.pk):
        assert list(Task.objects.filter(project=project).values_list("external_id", flat=True)) == ["ok"]
