"""`annotate push`: import a file (uploaded) or an S3 prefix (read by the server through a storage connection) into
a project, then follow the import job.

Nothing is uploaded before the token and the project are checked (annotate_cli.preflight).

Resumable: the job id is kept in the state file under what was pushed (the file's path, size and modification
time, or the S3 location) and where; `--resume` re-attaches to it instead of starting a second import. Without
`--resume`, a push whose earlier import of the same file is still running stops and says so.
"""

import argparse
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from annotate_cli.client import Client, CliError, file_stat_key
from annotate_cli.jobs import RUNNING_STATES, follow, resumable
from annotate_cli.output import say, warn
from annotate_cli.preflight import has_label_fields, preflight, site_url
from annotate_cli.progress import ProgressBar
from annotate_cli.state import StateFile, entry_key

FORMATS = ("jsonl", "json", "csv")
_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv"}


def _format_of(args: argparse.Namespace, source: str) -> str:
    if args.format:
        return str(args.format)
    suffix = Path(urlsplit(source).path).suffix.lower()
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    raise CliError(f"cannot tell the format of {source!r} from its name; pass --format ({', '.join(FORMATS)}).")


def _measure(job: dict[str, Any]) -> tuple[float, float | None, str]:
    if isinstance(job.get("progress"), int | float):
        return float(job["progress"]) * 100, 100.0, f"{job.get('rows_read', 0)} rows ({job.get('state')})"
    return float(job.get("rows_read") or 0), None, f"rows read ({job.get('state')})"


def _storage_for(client: Client, bucket: str, given: str | None) -> str:
    """The storage connection to read `bucket` through: the one named, or the organization's only one for it."""
    if given:
        connection = client.call("GET", f"storage-connections/{given}")
        if connection.get("bucket") not in (None, bucket):
            raise CliError(f"storage connection {given} is for bucket {connection['bucket']!r}, not {bucket!r}.")
        return given
    listed = client.call("GET", "storage-connections/")
    matches = [c for c in listed.get("results", []) if c.get("bucket") == bucket]
    if len(matches) != 1:
        raise CliError(
            f"{len(matches)} storage connections are for bucket {bucket!r}; name one with --storage <connection id>."
        )
    return str(matches[0]["id"])


def _start(client: Client, args: argparse.Namespace, source: str, import_format: str, quiet: bool) -> dict[str, Any]:
    options = {"skip_bad_rows": bool(args.skip_bad_rows), "update_existing": bool(args.update_existing)}
    if source.startswith("s3://"):
        parts = urlsplit(source)
        storage = _storage_for(client, parts.netloc, args.storage)
        body = {"storage": storage, "prefix": parts.path.lstrip("/"), "format": import_format, **options}
        return dict(client.call("POST", f"projects/{args.project}/imports/", body))
    path = Path(source)
    bar = ProgressBar("uploading", unit="B", quiet=quiet)
    fields = {"format": import_format, **{k: "true" if v else "false" for k, v in options.items()}}
    job = client.upload(
        f"projects/{args.project}/imports/",
        fields=fields,
        file_field="file",
        file=path,
        on_progress=lambda done, total: bar.update(done, total),
    )
    bar.finish()
    return dict(job)


def push(client: Client, state: StateFile, args: argparse.Namespace) -> int:
    source = str(args.source)
    if not source.startswith("s3://") and not Path(source).is_file():
        raise CliError(f"no such file: {source}")
    import_format = _format_of(args, source)
    target = preflight(client, str(args.project), needs="manager", to="import tasks")
    if not has_label_fields(target.project) and not args.quiet:
        warn(
            f"note: project {args.project} has no label fields yet, so nobody can label its tasks; define them at "
            f"{site_url(client)}/projects/{args.project}/schema"
        )
    identity = source if source.startswith("s3://") else file_stat_key(Path(source))
    key = entry_key("push", client.root, args.project, identity)
    entry = state.get(key)
    job: dict[str, Any] | None = None
    if entry:
        earlier = client.call("GET", f"imports/{entry['job']}")
        if args.resume:
            job = earlier
            if not args.quiet:
                say(f"Re-attached to import {job['id']} ({job['state']}).")
        elif earlier.get("state") in RUNNING_STATES:
            say(f"Import {earlier['id']} of this file is still {earlier['state']}; follow it with --resume.")
            return 2
    elif args.resume and not args.quiet:
        say("Nothing to resume for this source and project; starting a new import.")
    if job is None:
        job = _start(client, args, source, import_format, args.quiet)
        state.put(key, {"job": job["id"], "command": "push", "project": args.project, "source": source})
        if not args.quiet:
            say(f"Started import {job['id']}.")
    bar = ProgressBar("importing", quiet=args.quiet)
    import_id = job["id"]
    with resumable("The import goes on at the server; run the same command with --resume to follow it."):
        job = follow(lambda: client.call("GET", f"imports/{import_id}"), bar, interval=args.poll, measure=_measure)
    counts = {k: job.get(k) for k in ("created_count", "updated_count", "unchanged_count", "error_count") if k in job}
    say(
        f"Import {job['id']} {job['state']}: " + ", ".join(f"{k.removesuffix('_count')} {v}" for k, v in counts.items())
    )
    for error in (job.get("errors") or [])[:20]:
        say(f"  line {error.get('line')}: {error.get('field', '')} {error.get('message', '')}".rstrip())
    if job.get("message"):
        say(f"  {job['message']}")
    state.drop(key)
    return 0 if job["state"] == "succeeded" else 1
