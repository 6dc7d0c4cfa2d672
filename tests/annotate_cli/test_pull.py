"""`annotate pull` end to end against a live server: create the export, follow it, download it (resuming with
HTTP Range after an interruption, from the local /files/ view and from S3 presigned URLs), check its SHA-256; and
the checks that stop it before any export is started (token, project, server, output folder)."""

import hashlib
import http.client
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from annotate_cli import pull as pull_module
from annotate_cli.client import Client
from annotate_cli.main import main
from annotate_cli.state import StateFile, entry_key
from annotation.exports.filters import ExportFilters
from annotation.exports.jsonl import JsonlWriter
from annotation.exports.runner import export_run
from annotation.exports.services import export_create
from core.context import organization_context
from projects.models import ExportJob
from projects.object_store import object_store
from tenancy.models import Role
from tests.annotation.exports import test_runner as test_exports_runner
from tests.annotation.exports_support import build_world
from tests.audit.services import test_checkpoints
from tests.factories import ApiTokenFactory, MembershipFactory, OrganizationFactory

pytestmark = pytest.mark.django_db(transaction=True)
s3_endpoint = test_checkpoints.s3_endpoint
s3_store = test_exports_runner.s3_store


@pytest.fixture
def lab(settings: Any, tmp_path: Path) -> Any:
    """A committed organization with the export world, and a manager's token."""
    settings.OBJECT_STORAGE_BUCKET = ""
    settings.OBJECT_STORAGE_ROOT = tmp_path / "objects"
    organization = OrganizationFactory()
    with organization_context(organization.pk):
        world = build_world()
        manager = MembershipFactory(role=Role.MANAGER)
        world.token = ApiTokenFactory(membership=manager, role=Role.MANAGER).raw
    world.organization = organization
    return world


@pytest.fixture
def requests_made(monkeypatch: Any) -> list[tuple[str, str, dict[str, str]]]:
    """Every request the client sends: method, URL path and headers."""
    sent: list[tuple[str, str, dict[str, str]]] = []
    original = http.client.HTTPConnection.request

    def record(self: Any, method: str, url: str, body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        sent.append((method, url, dict(headers or {})))
        original(self, method, url, body, headers or {}, **kwargs)

    monkeypatch.setattr(http.client.HTTPConnection, "request", record)
    return sent


def run(live_server: Any, lab: Any, tmp_path: Path, *extra: str) -> int:
    return main(
        [
            "pull",
            "--url", live_server.url,
            "--token", lab.token,
            "--project", str(lab.project.uuid),
            "--poll", "0.05",
            "--state-file", str(tmp_path / "state.json"),
            *extra,
        ]
    )  # fmt: skip


def _job(lab: Any) -> ExportJob:
    with organization_context(lab.organization.pk):
        return ExportJob.objects.get()


def _file(job: ExportJob) -> bytes:
    with object_store().open(job.file_key) as stream:
        return stream.read()


def test_pull_exports_follows_and_downloads_the_file(live_server, lab, tmp_path, capsys, requests_made):
    out = tmp_path / "out.jsonl"

    code = run(live_server, lab, tmp_path, "--format", "jsonl", "-o", str(out), "--status", "done")

    assert code == 0, capsys.readouterr()
    job = _job(lab)
    assert (job.state, job.format, job.filters) == ("succeeded", "jsonl", {"status": "done"})
    assert out.read_bytes() == _file(job)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == job.sha256
    assert [json.loads(line)["external_id"] for line in out.read_text().splitlines()] == ["t1", "t3"]
    assert not (tmp_path / "out.jsonl.part").exists()
    assert json.loads((tmp_path / "state.json").read_text()) == {}
    printed = capsys.readouterr()
    assert f"Started export {job.uuid} (jsonl)." in printed.out
    assert "exporting" in printed.err
    assert "downloading" in printed.err
    # The token goes to the API only, never with the signed file URL.
    file_requests = [headers for method, url, headers in requests_made if url.startswith("/files/")]
    assert len(file_requests) == 1
    assert "Authorization" not in file_requests[0]
    assert all("Authorization" in headers for _, url, headers in requests_made if url.startswith("/api/v1/"))


def test_an_interrupted_download_resumes_with_a_range_request(live_server, lab, tmp_path, monkeypatch, requests_made):
    out = tmp_path / "out.csv"
    monkeypatch.setattr("annotate_cli.client.CHUNK", 512)
    monkeypatch.setattr(pull_module, "pause", lambda seconds: None)
    real_download = Client.download
    attempts: list[int] = []

    def cut_once(self: Client, url: str, part: Path, *, on_progress: Any = None) -> int:
        attempts.append(part.stat().st_size if part.exists() else 0)
        if len(attempts) > 1:
            return real_download(self, url, part, on_progress=on_progress)

        def cut(done: int, total: int | None) -> None:
            if done >= 1024:
                raise ConnectionResetError("connection lost")

        return real_download(self, url, part, on_progress=cut)

    monkeypatch.setattr(Client, "download", cut_once)

    code = run(live_server, lab, tmp_path, "--format", "csv", "-o", str(out), "--quiet")

    assert code == 0
    job = _job(lab)
    assert out.read_bytes() == _file(job)
    assert attempts == [0, 1024]
    file_requests = [headers.get("Range") for method, url, headers in requests_made if url.startswith("/files/")]
    assert file_requests == [None, "bytes=1024-"]
    # Each attempt asked for a fresh signed URL (they live five minutes): two downloads on record.
    downloads = [url for method, url, _ in requests_made if url.endswith("/download")]
    assert len(downloads) == 2


def test_resume_reattaches_to_the_export_and_keeps_the_bytes_already_there(live_server, lab, tmp_path, requests_made):
    with organization_context(lab.organization.pk):
        job = export_run(
            export_create(actor=lab.owner, project=lab.project, export_format="jsonl", filters=ExportFilters())
        )
    body = _file(job)
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.part").write_bytes(body[:700])
    client_root = f"{live_server.url}/api/v1/"
    key = entry_key("pull", client_root, str(lab.project.uuid), "jsonl", repr([]), str(out.resolve()))
    StateFile(tmp_path / "state.json").put(key, {"job": str(job.uuid)})

    code = run(live_server, lab, tmp_path, "-o", str(out), "--resume", "--quiet")

    assert code == 0
    assert out.read_bytes() == body
    with organization_context(lab.organization.pk):
        assert ExportJob.objects.count() == 1  # re-attached: no second export
    assert [h.get("Range") for _, url, h in requests_made if url.startswith("/files/")] == ["bytes=700-"]
    assert not any(method == "POST" for method, _, _ in requests_made)


def test_a_failed_export_exits_1_with_its_message(live_server, lab, tmp_path, monkeypatch, capsys):
    def broken(self: Any, source: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(JsonlWriter, "write_chunks", broken)

    code = run(live_server, lab, tmp_path, "-o", str(tmp_path / "out.jsonl"), "--quiet")

    job = _job(lab)
    assert (code, job.state) == (1, "failed")
    assert f"Export {job.uuid} failed: {job.message}" in capsys.readouterr().out
    assert not (tmp_path / "out.jsonl").exists()


def test_refusals_are_reported_with_the_servers_words(live_server, lab, tmp_path, capsys):
    code = run(live_server, lab, tmp_path, "-o", str(tmp_path / "o"), "--format", "csv", "--ranking-pairs", "all")

    assert code == 2
    err = capsys.readouterr().err
    assert "annotate: The request has invalid fields. (HTTP 400)" in err
    assert "filters.ranking_pairs: Only preference-pair (dpo) exports take ranking_pairs." in err


def test_a_refused_token_or_an_unknown_project_starts_no_export(live_server, lab, tmp_path, capsys):
    out = str(tmp_path / "out.jsonl")
    bad_token = ["pull", "--url", live_server.url, "--token", "ann_nope", "--project", str(lab.project.uuid), "-o", out]
    assert main([*bad_token, "--state-file", str(tmp_path / "s.json")]) == 2
    assert capsys.readouterr().err.startswith("annotate: the token was refused: Invalid, expired or revoked token.")

    unknown = ["pull", "--url", live_server.url, "--token", lab.token, "--project", "12", "-o", out]
    assert main([*unknown, "--state-file", str(tmp_path / "s.json")]) == 2
    organization = lab.organization
    assert capsys.readouterr().err.startswith(
        f"annotate: project 12 not found in organization {organization.name} ({organization.slug}).\n"
    )
    with organization_context(organization.pk):
        assert ExportJob.objects.count() == 0


def test_an_unreachable_server_and_a_missing_folder_are_said_plainly(tmp_path, capsys):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # closed with the block: nothing listens there
    base = ["pull", "--url", url, "--token", "ann_x", "--project", "p", "--state-file", str(tmp_path / "s.json")]

    assert main([*base, "-o", str(tmp_path / "out.jsonl")]) == 2
    assert main([*base, "-o", str(tmp_path / "nowhere" / "out.jsonl")]) == 2

    assert capsys.readouterr().err == (
        f"annotate: cannot reach {url}: connection refused (is the server running, on this port?)\n"
        f"annotate: cannot write {tmp_path / 'nowhere' / 'out.jsonl'}: the folder {tmp_path / 'nowhere'} does not "
        "exist.\n"
    )


def test_missing_credentials_are_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ANNOTATE_URL", raising=False)
    monkeypatch.delenv("ANNOTATE_TOKEN", raising=False)
    assert main(["pull", "--project", "p", "-o", str(tmp_path / "x")]) == 2
    assert "ANNOTATE_URL/ANNOTATE_TOKEN" in capsys.readouterr().err


def test_pull_resumes_from_an_s3_presigned_url(live_server, lab, tmp_path, s3_store, requests_made):
    with organization_context(lab.organization.pk):
        job = export_run(
            export_create(actor=lab.owner, project=lab.project, export_format="jsonl", filters=ExportFilters())
        )
    body = _file(job)
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.part").write_bytes(body[:500])
    key = entry_key("pull", f"{live_server.url}/api/v1/", str(lab.project.uuid), "jsonl", repr([]), str(out.resolve()))
    StateFile(tmp_path / "state.json").put(key, {"job": str(job.uuid)})

    code = run(live_server, lab, tmp_path, "-o", str(out), "--resume", "--quiet")

    assert code == 0
    assert out.read_bytes() == body
    s3_gets = [(url, h) for method, url, h in requests_made if "X-Amz-Signature" in url]
    assert [h.get("Range") for _, h in s3_gets] == ["bytes=500-"]
    assert all("Authorization" not in h for _, h in s3_gets)
