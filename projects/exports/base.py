"""The shape every export format takes: begin, one call per task (returning the rows it wrote), end."""

import json
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any, ClassVar, TextIO

from projects.exports.context import ExportContext
from projects.exports.records import TaskRecord


def iso(moment: datetime) -> str:
    """A UTC timestamp as the API writes it: `2026-01-31T12:00:00.123456Z`."""
    return moment.isoformat().replace("+00:00", "Z")


def json_line(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


class ExportWriter(ABC):
    """Writes one format to a text stream, task by task, holding no more than one task in memory (COCO also
    spools its annotations to a temporary file until the images are written)."""

    extension: ClassVar[str]
    content_type: ClassVar[str]

    def __init__(self, context: ExportContext, out: TextIO) -> None:
        self.context = context
        self.out = out

    def begin(self) -> None:  # noqa: B027 - most formats have no header
        """Write what comes before the first task."""

    @abstractmethod
    def write_task(self, record: TaskRecord) -> int:
        """Write one task's output; return how many rows (lines, pairs, documents, boxes) it made."""

    def end(self) -> None:  # noqa: B027 - most formats have no trailer
        """Write what comes after the last task."""
