"""`annotate push` against a stub of the import API that the test steers (job states, refusals, storage
connections; it follows the contract in docs/datasets.md): the checks before anything is uploaded, the multipart
upload and its fields, following the job, re-attaching with --resume, S3 sources, a server that cannot be reached.
The end-to-end runs against the real endpoints are in test_push_live.py."""

import json
import socket
from pathlib import Path

import pytest

from annotate_cli import jobs
from annotate_cli.main import main
from annotate_cli.state import StateFile
from tests.annotate_cli.stub_server import TOKEN, StubState, stub_server

DONE = {"state": "succeeded", "rows_read": 3, "created_count": 2, "updated_count": 0, "unchanged_count": 1,
        "error_count": 0, "errors": [], "message": ""}  # fmt: skip


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.jsonl"
    lines = [{"external_id": f"item-{i}", "data": {"text": f"text {i}"}} for i in range(3)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def push(url: str, tmp_path: Path, *extra: str) -> int:
    return main(
        ["push", *extra, "--url", url, "--token", TOKEN, "--project", "p-1", "--poll", "0.01",
         "--state-file", str(tmp_path / "state.json")]
    )  # fmt: skip


def test_a_file_is_uploaded_as_multipart_and_the_job_followed_to_its_end(data_file, tmp_path, capsys):
    state = StubState(job_states=[{"state": "running", "rows_read": 1}, {"state": "running", "rows_read": 2}, DONE])

    with stub_server(state) as url:
        code = push(url, tmp_path, str(data_file), "--skip-bad-rows")

    assert code == 0
    (post,) = state.posts
    assert post["path"] == "/api/v1/projects/p-1/imports/"
    assert post["parts"] == {
        "format": "jsonl",
        "skip_bad_rows": "true",
        "update_existing": "false",
        "file": {"filename": "tasks.jsonl", "content": data_file.read_bytes()},
    }
    # The token and the project were checked before the upload, then the job was followed.
    assert state.gets == ["/api/v1/me", "/api/v1/projects/p-1"] + ["/api/v1/imports/job-1"] * 3
    printed = capsys.readouterr()
    assert "Started import job-1." in printed.out
    assert "Import job-1 succeeded: created 2, updated 0, unchanged 1, error 0" in printed.out
    assert "uploading" in printed.err
    assert "importing" in printed.err
    assert "note:" not in printed.err  # the project has label fields
    assert json.loads((tmp_path / "state.json").read_text()) == {}


def test_the_format_comes_from_the_name_unless_given(tmp_path):
    csv_file = tmp_path / "tasks.csv"
    csv_file.write_text("external_id,text\na,b\n")
    odd = tmp_path / "tasks.data"
    odd.write_text("{}")
    state = StubState(job_states=[DONE])

    with stub_server(state) as url:
        assert push(url, tmp_path, str(csv_file)) == 0
        assert push(url, tmp_path, str(odd)) == 2
        assert push(url, tmp_path, str(odd), "--format", "json") == 0

    assert [p["parts"]["format"] for p in state.posts] == ["csv", "json"]


def _interrupt(seconds: float) -> None:
    raise KeyboardInterrupt  # as a Ctrl-C while the job is being followed


def test_an_interrupted_push_resumes_by_reattaching_to_its_job(data_file, tmp_path, capsys, monkeypatch):
    state = StubState(job_states=[{"state": "running", "rows_read": 1}])
    with stub_server(state) as url:
        # The first run is cut off while following the job: the job id stays in the state file.
        monkeypatch.setattr(jobs, "pause", _interrupt)
        assert push(url, tmp_path, str(data_file)) == 130
        monkeypatch.setattr(jobs, "pause", lambda seconds: None)
        assert "run the same command with --resume" in capsys.readouterr().err
        assert len(StateFile(tmp_path / "state.json")._load()) == 1

        # Run again without --resume while it still runs: refused, nothing uploaded twice.
        assert push(url, tmp_path, str(data_file)) == 2
        assert "still running; follow it with --resume" in capsys.readouterr().out

        state.job_states = [{"state": "running", "rows_read": 2}, DONE]
        assert push(url, tmp_path, str(data_file), "--resume") == 0

    assert len(state.posts) == 1
    assert "Re-attached to import job-1 (running)." in capsys.readouterr().out
    assert json.loads((tmp_path / "state.json").read_text()) == {}


def test_a_changed_file_is_a_new_push(data_file, tmp_path, monkeypatch):
    state = StubState(job_states=[{"state": "running"}])
    with stub_server(state) as url:
        monkeypatch.setattr(jobs, "pause", _interrupt)
        assert push(url, tmp_path, str(data_file)) == 130
        monkeypatch.setattr(jobs, "pause", lambda seconds: None)
        data_file.write_text(data_file.read_text() + '{"data": {"text": "more"}}\n')
        state.job_states = [DONE]
        assert push(url, tmp_path, str(data_file)) == 0
    assert len(state.posts) == 2


def test_an_s3_prefix_is_imported_through_the_storage_connection_for_its_bucket(tmp_path):
    state = StubState(
        job_states=[DONE],
        connections=[
            {"id": "c-1", "name": "lake", "bucket": "lab-data"},
            {"id": "c-2", "name": "x", "bucket": "other"},
        ],
    )

    with stub_server(state) as url:
        code = push(url, tmp_path, "s3://lab-data/batches/2026/", "--format", "jsonl", "--update-existing")

    assert code == 0
    assert state.posts == [
        {
            "kind": "json",
            "path": "/api/v1/projects/p-1/imports/",
            "body": {"storage": "c-1", "prefix": "batches/2026/", "format": "jsonl", "skip_bad_rows": False,
                     "update_existing": True},
            "declared_length": state.posts[0]["declared_length"],
        }
    ]  # fmt: skip


def test_a_named_storage_connection_must_be_for_the_buckets(tmp_path, capsys):
    state = StubState(job_states=[DONE], connections=[{"id": "c-2", "name": "x", "bucket": "other"}])

    with stub_server(state) as url:
        code = push(url, tmp_path, "s3://lab-data/x/", "--format", "csv", "--storage", "c-2")

    assert (code, state.posts) == (2, [])
    assert "is for bucket 'other', not 'lab-data'" in capsys.readouterr().err


def test_a_failed_import_exits_1_listing_its_first_errors(data_file, tmp_path, capsys):
    error = {"line": 2, "field": "[1].data", "code": "invalid", "message": "Must be an object."}
    failed = {
        "state": "failed",
        "rows_read": 3,
        "created_count": 0,
        "error_count": 1,
        "message": "Bad rows.",
        "errors": [error],
    }
    state = StubState(job_states=[failed])

    with stub_server(state) as url:
        code = push(url, tmp_path, str(data_file))

    out = capsys.readouterr().out
    assert code == 1
    assert "  line 2: [1].data Must be an object." in out
    assert "  Bad rows." in out


def test_a_refused_upload_is_reported_with_the_servers_words(data_file, tmp_path, capsys):
    refusal = {"detail": "Invalid input.", "code": "invalid", "errors": [{"field": "format", "message": "Nope."}]}
    state = StubState(job_states=[DONE], refuse_with=refusal)

    with stub_server(state) as url:
        code = push(url, tmp_path, str(data_file))

    assert code == 2
    assert "annotate: Invalid input. (HTTP 400)\n  format: Nope." in capsys.readouterr().err
    assert not (tmp_path / "state.json").exists()  # no job was started, so none is remembered


def test_a_missing_file_is_a_usage_error(tmp_path, capsys):
    assert push("http://127.0.0.1:9", tmp_path, str(tmp_path / "nope.jsonl")) == 2
    assert capsys.readouterr().err == f"annotate: no such file: {tmp_path / 'nope.jsonl'}\n"


def test_a_refused_token_stops_the_push_before_anything_is_uploaded(data_file, tmp_path, capsys):
    state = StubState(job_states=[DONE])
    with stub_server(state) as url:
        code = main(["push", str(data_file), "--url", url, "--token", "wrong", "--project", "p-1", "--state-file",
                     str(tmp_path / "s.json")])  # fmt: skip

    assert (code, state.posts, state.gets) == (2, [], [])
    assert capsys.readouterr().err == (
        "annotate: the token was refused: Authentication credentials were not provided. "
        "Check --token (or ANNOTATE_TOKEN); an admin issues tokens on the API tokens page.\n"
    )


def test_a_project_the_organization_does_not_have_is_named_before_the_upload(data_file, tmp_path, capsys):
    state = StubState(job_states=[DONE])
    with stub_server(state) as url:
        code = main(["push", str(data_file), "--url", url, "--token", TOKEN, "--project", "12", "--state-file",
                     str(tmp_path / "s.json")])  # fmt: skip

    assert (code, state.posts) == (2, [])
    assert capsys.readouterr().err == (
        "annotate: project 12 not found in organization Northwind Lab (northwind).\n"
        "A project's id is in the address of its page (/projects/<id>/), a UUID such as "
        "3f2b9c1e-7d4a-4c55-9a1e-2b8f6d0c4e71.\n"
    )


def test_a_token_below_manager_is_told_which_role_importing_needs(data_file, tmp_path, capsys):
    state = StubState(job_states=[DONE], role="annotator")
    with stub_server(state) as url:
        code = push(url, tmp_path, str(data_file))

    assert (code, state.posts, state.gets) == (2, [], ["/api/v1/me"])
    assert capsys.readouterr().err == (
        "annotate: the token acts as annotator in organization Northwind Lab (northwind); to import tasks it needs "
        "the manager role or above. Ask an admin for a token with that role.\n"
    )


def test_a_project_without_label_fields_is_pushed_with_a_pointer_to_its_schema_page(data_file, tmp_path, capsys):
    state = StubState(job_states=[DONE])
    state.projects["p-1"]["label_schema"] = {"fields": []}
    with stub_server(state) as url:
        code = push(url, tmp_path, str(data_file))

    assert code == 0
    assert (
        "note: project p-1 has no label fields yet, so nobody can label its tasks; define them at "
        f"{url}/projects/p-1/schema\n"
    ) in capsys.readouterr().err


def _closed_port() -> int:
    """A loopback port nothing listens on (bound once to pick it, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_server_that_cannot_be_reached_is_named_with_the_reason_never_as_an_http_status(data_file, tmp_path, capsys):
    url = f"http://127.0.0.1:{_closed_port()}"

    code = push(url, tmp_path, str(data_file))

    err = capsys.readouterr().err
    assert code == 2
    assert err == f"annotate: cannot reach {url}: connection refused (is the server running, on this port?)\n"
    assert "HTTP" not in err


def test_a_server_lost_while_the_job_runs_leaves_the_job_to_resume(data_file, tmp_path, capsys, monkeypatch):
    state = StubState(job_states=[{"state": "running", "rows_read": 1}])
    with stub_server(state) as url:
        assert state.stop is not None
        monkeypatch.setattr(jobs, "pause", lambda seconds: state.stop and state.stop())

        code = push(url, tmp_path, str(data_file), "--quiet")

    assert code == 2
    assert capsys.readouterr().err == (
        f"annotate: cannot reach {url}: connection refused (is the server running, on this port?)\n"
        "The import goes on at the server; run the same command with --resume to follow it.\n"
    )
    assert len(StateFile(tmp_path / "state.json")._load()) == 1  # the job id is kept for --resume


def test_local_mistakes_are_said_without_an_http_status(tmp_path, capsys):
    odd = tmp_path / "tasks.data"
    odd.write_text("{}")

    assert push("http://127.0.0.1:9", tmp_path, str(odd)) == 2
    assert push("localhost:8000", tmp_path, str(odd)) == 2

    assert capsys.readouterr().err == (
        f"annotate: cannot tell the format of {str(odd)!r} from its name; pass --format (jsonl, json, csv).\n"
        "annotate: the server's URL starts with http:// or https:// (http://127.0.0.1:8000), not 'localhost:8000'.\n"
    )
