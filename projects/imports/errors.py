"""What can go wrong in an import: one row (an import may skip it) or the file itself (the import stops)."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RowProblem:
    """One problem with one row: the line the row starts on, a path inside the row, a code and a message."""

    line: int
    field: str
    code: str
    message: str

    def as_dict(self, source: str = "") -> dict[str, Any]:
        entry: dict[str, Any] = {"line": self.line, "field": self.field, "code": self.code, "message": self.message}
        if source:
            entry["object"] = source
        return entry


class FileError(Exception):
    """The file as a whole cannot be imported (too large, broken structure, refused storage): nothing is kept.

    Messages are written here, never copied from upstream responses or from the file's content.
    """

    def __init__(self, code: str, message: str, *, line: int | None = None, source: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.source = source

    def as_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"line": self.line, "field": "file", "code": self.code, "message": self.message}
        if self.source:
            entry["object"] = self.source
        return entry


class SourceUnavailable(Exception):
    """Reading the source failed in a way a later attempt may not (a dropped connection, a timeout)."""

    transient = True  # what core.faults reads: the task retries it
