"""`annotate`: the lab's command-line client. It pushes datasets into a project and pulls exports out, using only
the public HTTP API and an API token, with nothing but the Python standard library.

    annotate push data.jsonl --project <id>            # upload, then follow the import job
    annotate push s3://bucket/prefix --project <id>    # import straight from the organization's bucket
    annotate pull --project <id> --format jsonl -o out.jsonl

Server and token come from ANNOTATE_URL and ANNOTATE_TOKEN (or --url and --token). `make install` puts the
`annotate` command in .venv/bin; a copy of this package also runs as `python -m annotate_cli`.
"""

__version__ = "1.0.0"
