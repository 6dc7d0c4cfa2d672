"""The shape every export format takes: begin, the export's tasks chunk by chunk (reporting the rows written after
each chunk, so the job's progress moves), end."""

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, TextIO

from annotation.exports.context import ExportContext
from annotation.exports.records import ExportSource, TaskRecord, task_record_chunks
from projects.label_schema.fields import Field, LabelSchema


def iso(moment: datetime) -> str:
    """A UTC timestamp as the API writes it: `2026-01-31T12:00:00.123456Z`."""
    return moment.isoformat().replace("+00:00", "Z")


def json_line(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


class ExportWriter(ABC):
    """Writes one format to a text stream, chunk by chunk, holding no more than one chunk in memory."""

    extension: ClassVar[str]
    content_type: ClassVar[str]

    def __init__(self, context: ExportContext, out: TextIO) -> None:
        self.context = context
        self.out = out

    @classmethod
    def schema_refusal(cls, schemas: Sequence[LabelSchema]) -> str | None:
        """Why this format can make nothing of a project whose label schema versions are `schemas` (so that the
        export is refused when asked for, not run into an empty file); None when it can."""
        return None

    def begin(self) -> None:  # noqa: B027 - most formats have no header
        """Write what comes before the first task."""

    @abstractmethod
    def write_chunks(self, source: ExportSource) -> Iterator[int]:
        """Read the export's tasks from `source` and write them, yielding after each chunk the rows (lines, pairs,
        documents, boxes) it made."""

    def end(self) -> None:  # noqa: B027 - most formats have no trailer
        """Write what comes after the last task."""


def has_field(schemas: Sequence[LabelSchema], kinds: tuple[type[Field], ...], where: Callable[[Any], bool]) -> bool:
    """Whether any schema version has a field of one of `kinds` that `where` accepts."""
    return any(isinstance(item, kinds) and where(item) for schema in schemas for item in schema)


class TaskRecordWriter(ExportWriter):
    """A format written task by task from TaskRecords (COCO also spools its annotations to a temporary file until
    the images are written)."""

    def write_chunks(self, source: ExportSource) -> Iterator[int]:
        for chunk in task_record_chunks(source):
            yield sum(self.write_task(record) for record in chunk)

    @abstractmethod
    def write_task(self, record: TaskRecord) -> int:
        """Write one task's output; return how many rows (lines, pairs, documents, boxes) it made."""
