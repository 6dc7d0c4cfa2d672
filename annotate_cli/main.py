"""Command-line entry: `annotate push …` and `annotate pull …` (see `annotate --help`)."""

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from annotate_cli import __version__
from annotate_cli.client import Client, CliError
from annotate_cli.output import warn
from annotate_cli.pull import pull
from annotate_cli.push import FORMATS, push
from annotate_cli.state import StateFile, default_path

EXPORT_FORMATS = ("jsonl", "csv", "coco", "conll", "dpo", "sft", "label_studio")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="annotate", description="Push datasets to and pull exports from Annotate.")
    root.add_argument("--version", action="version", version=f"annotate {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=os.environ.get("ANNOTATE_URL", ""), help="server URL (ANNOTATE_URL)")
    common.add_argument("--token", default=os.environ.get("ANNOTATE_TOKEN", ""), help="API token (ANNOTATE_TOKEN)")
    common.add_argument("--project", required=True, help="the project's id")
    common.add_argument("--resume", action="store_true", help="re-attach to the job this command started before")
    common.add_argument("--poll", type=float, default=2.0, help="seconds between progress checks (default 2)")
    common.add_argument("--state-file", type=Path, default=None, help="where job ids are remembered")
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    commands = root.add_subparsers(dest="command", required=True)

    p = commands.add_parser("push", parents=[common], help="import a file or an S3 prefix into a project")
    p.add_argument("source", help="a local file, or s3://bucket/prefix")
    p.add_argument("--format", choices=FORMATS, help="jsonl, json or csv (default: from the file name)")
    p.add_argument("--skip-bad-rows", action="store_true", help="import the valid rows, report the others")
    p.add_argument("--update-existing", action="store_true", help="update tasks whose external_id exists")
    p.add_argument("--storage", help="storage connection id for an s3:// source (default: the one for its bucket)")

    q = commands.add_parser("pull", parents=[common], help="export a project's results and download the file")
    q.add_argument("--format", choices=EXPORT_FORMATS, default="jsonl")
    q.add_argument("-o", "--output", required=True, help="file to write")
    q.add_argument("--status", choices=("done", "open"), help="only tasks that are done, or still open")
    q.add_argument("--created-after", help="only tasks created at or after this ISO 8601 time")
    q.add_argument("--created-before", help="only tasks created before this ISO 8601 time")
    q.add_argument("--reviewed-only", action="store_true", help="only annotations a reviewer accepted or corrected")
    q.add_argument("--ranking-pairs", choices=("best_worst", "all"), help="dpo: pairs taken from rankings")
    q.add_argument("--storage", help="write the export to this storage connection instead of downloading it")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.url or not args.token:
        warn("annotate: give the server and a token (--url/--token or ANNOTATE_URL/ANNOTATE_TOKEN).")
        return 2
    if urlsplit(args.url).scheme not in ("http", "https") or not urlsplit(args.url).hostname:
        warn(f"annotate: the server's URL starts with http:// or https:// (http://127.0.0.1:8000), not {args.url!r}.")
        return 2
    client = Client(args.url, args.token)
    state = StateFile(args.state_file or default_path())
    try:
        return push(client, state, args) if args.command == "push" else pull(client, state, args)
    except CliError as exc:
        warn(f"annotate: {exc.describe()}")
        return 2
    except KeyboardInterrupt:
        warn("\nannotate: interrupted; run the same command with --resume to carry on.")
        return 130
    except OSError as exc:
        warn(f"annotate: {exc}; run the same command with --resume to carry on.")
        return 2
