"""`annotate pull`: create an export of a project (or re-attach to one), follow it, download its file.

Nothing is started before the token and the project are checked (annotate_cli.preflight). The download resumes:
bytes already in `<output>.part` are kept and the rest is asked for with an HTTP Range request, with a fresh signed
URL each attempt (they live five minutes). The finished file is checked against the job's SHA-256 before it takes
the output's name.
"""

import argparse
from pathlib import Path
from typing import Any

from annotate_cli.client import Client, CliError, sha256_of
from annotate_cli.jobs import follow, pause, resumable
from annotate_cli.output import say
from annotate_cli.preflight import preflight
from annotate_cli.progress import ProgressBar
from annotate_cli.state import StateFile, entry_key

DOWNLOAD_ATTEMPTS = 5


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    if args.status:
        filters["status"] = args.status
    if args.created_after:
        filters["created_after"] = args.created_after
    if args.created_before:
        filters["created_before"] = args.created_before
    if args.reviewed_only:
        filters["reviewed_only"] = True
    if args.ranking_pairs:
        filters["ranking_pairs"] = args.ranking_pairs
    return filters


def _rows(job: dict[str, Any]) -> tuple[float, float | None, str]:
    return float(job.get("rows") or 0), None, f"rows ({job.get('state')})"


def _download(client: Client, job: dict[str, Any], output: Path, *, quiet: bool) -> None:
    part = output.with_name(output.name + ".part")
    bar = ProgressBar("downloading", unit="B", quiet=quiet)
    total = int(job.get("file_size") or 0) or None
    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        signed = client.call("GET", f"exports/{job['id']}/download")
        try:
            client.download(signed["url"], part, on_progress=lambda done, size: bar.update(done, size or total))
            break
        except (OSError, CliError) as exc:
            if attempt == DOWNLOAD_ATTEMPTS:
                raise
            bar.finish(f"interrupted ({exc}); resuming")
            pause(min(2**attempt, 10))
    bar.finish()
    if job.get("sha256") and sha256_of(part) != job["sha256"]:
        part.unlink()
        raise CliError("the downloaded file does not match the export's SHA-256; run the pull again.")
    part.replace(output)


def pull(client: Client, state: StateFile, args: argparse.Namespace) -> int:
    output = Path(args.output)
    if not output.parent.is_dir():
        raise CliError(f"cannot write {output}: the folder {output.parent} does not exist.")
    filters = _filters(args)
    preflight(client, str(args.project), needs="manager", to="export results")
    key = entry_key(
        "pull", client.root, args.project, args.format, repr(sorted(filters.items())), str(output.resolve())
    )
    part = output.with_name(output.name + ".part")
    entry = state.get(key)
    job: dict[str, Any] | None = None
    if args.resume and entry:
        job = client.call("GET", f"exports/{entry['job']}")
        if not args.quiet:
            say(f"Re-attached to export {job['id']} ({job['state']}).")
    if job is None:
        if part.exists():
            part.unlink()  # a partial file of an earlier export: this is a new one
        body: dict[str, Any] = {"format": args.format, "filters": filters}
        if args.storage:
            body["storage"] = args.storage
        job = client.call("POST", f"projects/{args.project}/exports/", body)
        state.put(key, {"job": job["id"], "command": "pull", "project": args.project, "output": str(output)})
        if not args.quiet:
            say(f"Started export {job['id']} ({args.format}).")
    bar = ProgressBar("exporting", quiet=args.quiet)
    export_id = job["id"]
    with resumable("The export goes on at the server; run the same command with --resume to follow it."):
        job = follow(lambda: client.call("GET", f"exports/{export_id}"), bar, interval=args.poll, measure=_rows)
    if job["state"] != "succeeded":
        say(f"Export {job['id']} {job['state']}: {job.get('message') or 'no message'}")
        state.drop(key)
        return 1
    if job.get("storage"):
        say(f"Export {job['id']} was written to storage connection {job['storage']} as {job['file_key']}.")
        state.drop(key)
        return 0
    with resumable("Run the same command with --resume to download the rest."):
        _download(client, job, output, quiet=args.quiet)
    state.drop(key)
    if not args.quiet:
        say(f"Wrote {output} ({job['rows']} rows, {job['file_size']} bytes, sha256 {job['sha256']}).")
    return 0
