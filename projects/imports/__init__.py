"""Import jobs: datasets (JSONL, JSON array, CSV; plain or gzip) streamed from an upload or an S3 prefix into a
project's tasks, in constant memory, all or nothing unless asked to skip bad rows, idempotent and resumable.

Modules: `source` (the bytes: decompression, caps, offsets), `parsers` (rows out of the three formats), `rows`
(a row checked and turned into a task), `runner` (staging, checkpoints, the final merge), `services` (creating
and cancelling jobs), `selectors` (reading them). docs/datasets.md describes the formats for users.
"""
