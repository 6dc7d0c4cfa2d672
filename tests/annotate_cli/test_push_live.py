"""`annotate push` end to end against a live server and the real import endpoints: a streamed multipart upload,
the import job followed to its end, and the tasks in the project; a refused token, another organization's project
and a token whose role is too low each stop the push before anything is uploaded, in the server's terms."""

import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from annotate_cli.main import main
from core.context import organization_context
from projects.models import ImportJob, Task
from tenancy.models import ApiToken, Role
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


def _imports(organization: Any) -> int:
    with organization_context(organization.pk):
        return ImportJob.objects.count()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.jsonl"
    path.write_text('{"external_id": "a", "data": {"text": "fine"}}\n')
    return path


def test_a_revoked_token_is_refused_before_the_upload(live_server, lab, tmp_path, source, capsys):
    organization, _, _ = lab
    with organization_context(organization.pk):
        ApiToken.objects.update(revoked_at=timezone.now())

    code = _push(live_server, lab, tmp_path, str(source))

    assert code == 2
    assert capsys.readouterr().err.startswith(
        "annotate: the token was refused: Invalid, expired or revoked token. Check --token (or ANNOTATE_TOKEN)"
    )
    assert _imports(organization) == 0


def test_another_organizations_project_is_not_found_in_the_tokens_organization(
    live_server, lab, tmp_path, source, capsys
):
    organization, _, token = lab
    elsewhere = OrganizationFactory(name="Elsewhere")
    with organization_context(elsewhere.pk):
        foreign = ProjectFactory()

    code = main(
        ["push", str(source), "--url", live_server.url, "--token", token, "--project", str(foreign.uuid),
         "--state-file", str(tmp_path / "state.json")]
    )  # fmt: skip

    assert code == 2
    assert capsys.readouterr().err == (
        f"annotate: project {foreign.uuid} not found in organization {organization.name} ({organization.slug}).\n"
        "A project's id is in the address of its page (/projects/<id>/).\n"
    )
    assert _imports(organization) == 0
    assert _imports(elsewhere) == 0


def test_an_annotators_token_is_told_it_cannot_import(live_server, lab, tmp_path, source, capsys):
    organization, project, _ = lab
    with organization_context(organization.pk):
        annotator = ApiTokenFactory(membership=MembershipFactory(role=Role.ANNOTATOR)).raw

    code = main(
        ["push", str(source), "--url", live_server.url, "--token", annotator, "--project", str(project.uuid),
         "--state-file", str(tmp_path / "state.json")]
    )  # fmt: skip

    assert code == 2
    assert capsys.readouterr().err == (
        f"annotate: the token acts as annotator in organization {organization.name} ({organization.slug}); to import "
        "tasks it needs the manager role or above. Ask an admin for a token with that role.\n"
    )
    assert _imports(organization) == 0


def test_a_project_without_label_fields_gets_a_pointer_to_its_schema_page(live_server, lab, tmp_path, source, capsys):
    _, project, _ = lab  # the factory's project has no fields

    assert _push(live_server, lab, tmp_path, str(source)) == 0

    assert (
        f"note: project {project.uuid} has no label fields yet, so nobody can label its tasks; define them at "
        f"{live_server.url}/projects/{project.uuid}/schema\n"
    ) in capsys.readouterr().err
