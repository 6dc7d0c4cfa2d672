"""Exports: a project's results streamed to a file in one of seven formats, by a Celery job, then downloaded
through a short-lived signed URL or written to the organization's own S3 location.

- `services`: `export_create` (queue a job), `export_download` (a signed URL, on record);
- `runner`: `export_run(job)`, what the `projects.export_run` task calls;
- `records`: which tasks and annotations an export holds, read chunk by chunk;
- one writer module per format: `jsonl`, `csv_table`, `coco`, `conll`, `dpo`, `sft`, `label_studio`.

docs/datasets.md describes each format.
"""
