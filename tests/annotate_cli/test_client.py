"""The client's pieces: API root, progress bar, state file, and that it runs as an installed command and as a
module with nothing but the standard library."""

import io
import subprocess
import sys
from pathlib import Path

import pytest

from annotate_cli import __version__
from annotate_cli.client import api_root
from annotate_cli.progress import ProgressBar
from annotate_cli.state import StateFile, entry_key

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "base",
    ["https://annotate.example.org", "https://annotate.example.org/", "https://annotate.example.org/api/v1",
     "https://annotate.example.org/api/v1/"],
)  # fmt: skip
def test_the_api_root_is_found_with_or_without_its_prefix(base):
    assert api_root(base) == "https://annotate.example.org/api/v1/"


def test_a_bar_renders_share_and_amounts():
    bar = ProgressBar("downloading", unit="B")
    assert (
        bar.render(512 * 1024, 1024 * 1024) == "downloading [###############---------------]  50.0% 512.0 KiB/1.0 MiB"
    )
    assert ProgressBar("exporting").render(12345, None, "rows (running)") == "exporting 12,345 rows (running)"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_bar_redraws_in_place_and_elsewhere_it_logs_lines():
    tty = _Tty()
    bar = ProgressBar("x", stream=tty)
    bar.update(1, 4)
    bar.update(4, 4)
    bar.finish("done")
    assert tty.getvalue().count("\r") == 3
    assert tty.getvalue().endswith("100.0% 4/4 done\n")
    log = io.StringIO()
    bar = ProgressBar("x", stream=log)
    bar.update(1, 4)
    bar.update(2, 4)  # within five seconds of the last line: not logged
    bar.finish()
    assert log.getvalue().splitlines() == [
        "x [#######-----------------------]  25.0% 1/4",
        "x [###############---------------]  50.0% 2/4",
    ]
    quiet = io.StringIO()
    ProgressBar("x", stream=quiet, quiet=True).update(1, 2)
    assert quiet.getvalue() == ""


def test_the_state_file_keeps_entries_and_survives_a_corrupt_file(tmp_path):
    state = StateFile(tmp_path / "deep" / "state.json")
    key = entry_key("push", "https://x/api/v1/", "p", "file")
    assert state.get(key) is None
    state.put(key, {"job": "j1"})
    assert StateFile(tmp_path / "deep" / "state.json").get(key) == {"job": "j1"}
    state.drop(key)
    assert state.get(key) is None
    (tmp_path / "deep" / "state.json").write_text("{not json")
    assert state.get(key) is None
    assert entry_key("a", "b") != entry_key("a\x1fb")


def test_the_install_puts_an_annotate_command_next_to_the_interpreter():
    # `make install` installs the project, so its console script sits beside the environment's python.
    command = Path(sys.executable).parent / "annotate"
    assert command.is_file()
    result = subprocess.run(
        [str(command), "--help"], cwd="/", capture_output=True, text=True, check=False, env={"PATH": "/usr/bin:/bin"}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: annotate ")
    assert "{push,pull}" in result.stdout
    assert "import a file or an S3 prefix into a project" in result.stdout
    assert "export a project's results and download the file" in result.stdout


def test_it_runs_as_a_module_with_a_bare_environment():
    # No Django, no settings: the client needs only the standard library.
    result = subprocess.run(
        [sys.executable, "-m", "annotate_cli", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.stdout.strip() == f"annotate {__version__}"


def test_the_client_imports_nothing_outside_the_standard_library():
    code = (
        "import sys, annotate_cli.main; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'rest_framework', 'boto3', 'requests'}); "
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
