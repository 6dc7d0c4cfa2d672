"""Readers of the three import formats over a SourceReader, in constant memory.

Each reader yields ParsedRow(line, item, problem): `item` is the row as a task dict (None when the row is
broken), `line` the line it starts on. After each row, `position()` is the JSON-serialisable state a new reader
resumes from (see `read_rows`), so a checkpoint taken between two rows continues exactly at the next one.

A row-level problem leaves the reader in step with the file: the next row is found exactly (a JSONL line ends at
its newline; a JSON array element's end is found by tracking strings and brackets, whatever its content). A
problem after which the next row could not be told for certain (a JSON array whose brackets do not close, a CSV
quoting error, a CSV record over the row limit) is a FileError: the import stops rather than guess.
"""

import codecs
import csv
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from projects.imports.errors import FileError, RowProblem
from projects.imports.source import SourceReader
from projects.label_schema._json import index_path, key_path

FORMATS = ("jsonl", "json", "csv")
_BOM = b"\xef\xbb\xbf"
_JSON_WS = " \t\r\n"
_CHUNK = 256 * 1024

# Text no JSON column can store (NUL), or that is not Unicode (a lone surrogate from a `\ud800` escape).
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
# Bytes that were not UTF-8, as the surrogateescape decoder leaves them in the text.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class Limits:
    row_bytes: int
    field_bytes: int
    max_depth: int


class ParsedRow(NamedTuple):  # a tuple: a large import makes millions
    line: int
    item: dict[str, Any] | None
    problem: RowProblem | None


# --- JSON values ---


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:32]} is out of range")
    return value


def _max_depth(text: str) -> int:
    """The deepest bracket nesting in a JSON text, strings skipped; linear, with no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
# orjson reads an integer beyond 64 bits as a float (losing digits); a text with a run of digits that long (a
# number, or digits inside a string) is read by the standard decoder instead, which keeps it exact. Every digit
# maps to "0" here, so a run of zeros is a run of digits (a translation is far cheaper than a regex for this).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19
# The only way unstorable text (NUL, a lone surrogate) gets into a parsed string: a \u escape (raw control
# characters are invalid JSON already).
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _too_deep(text: str, *, line: int, field: str, limits: Limits) -> RowProblem | None:
    # Nesting depth never exceeds the number of opening brackets, so most rows skip the exact count.
    if text.count("{") + text.count("[") > limits.max_depth and _max_depth(text) > limits.max_depth:
        return RowProblem(line, field, "too_deep", f"JSON nested deeper than {limits.max_depth} levels.")
    return None


def _parsed_problem(value: Any, text: str, *, line: int, field: str, limits: Limits) -> RowProblem | None:
    # A parsed string is never longer in UTF-8 than the JSON text it came from, so a short text without a risky
    # escape needs no walk through its values.
    if _RISKY_ESCAPE.search(text) or (
        len(text) * 4 > limits.field_bytes and len(text.encode("utf-8", "surrogateescape")) > limits.field_bytes
    ):
        return value_problem(value, line=line, path=field, limits=limits)
    return None


def decode_json(text: str, *, line: int, field: str, limits: Limits, column: int = 1) -> tuple[Any, RowProblem | None]:
    """A JSON text parsed, or the problem with it: too deep (checked before parsing, so no recursion can blow
    up), malformed, or holding a value over the field limit or text no database can store. `column` is where
    the text starts on its line, so positions in messages are the file's."""
    problem = _too_deep(text, line=line, field=field, limits=limits)
    if problem is not None:
        return None, problem
    if _LONG_DIGITS not in text.encode("utf-8", "surrogatepass").translate(_DIGITS_TO_ZERO):
        # orjson reads a row several times faster and agrees with the standard decoder on every text it accepts
        # (it refuses NaN, infinities and lone surrogates too); what it refuses goes on below, so that the
        # standard decoder, which the messages are worded after, says what is wrong.
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return value, _parsed_problem(value, text, line=line, field=field, limits=limits)
    try:
        value = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        if exc.lineno == 1:
            where = f"column {column + exc.colno - 1}"
        else:
            where = f"line {line + exc.lineno - 1}, column {exc.colno}"
        return None, RowProblem(line, field, "malformed", f"Invalid JSON at {where}: {exc.msg}.")
    except RecursionError:
        return None, RowProblem(line, field, "too_deep", "JSON nested too deeply.")
    except ValueError as exc:  # NaN/Infinity, an out-of-range float, an integer with too many digits
        return None, RowProblem(line, field, "malformed", f"Invalid JSON: {exc}.")
    return value, _parsed_problem(value, text, line=line, field=field, limits=limits)


def _text_problem(text: str, limit: int) -> str | None:
    if len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8", "surrogatepass")) > limit):
        return "field_too_large"
    if _BAD_TEXT.search(text):
        return "invalid_text"
    return None


_TEXT_MESSAGES = {
    "field_too_large": "Larger than {limit} bytes (IMPORT_MAX_FIELD_BYTES).",
    "invalid_text": "Contains a NUL character or an unpaired surrogate escape, which cannot be stored.",
}


def value_problem(value: Any, *, line: int, path: str, limits: Limits) -> RowProblem | None:
    """The first string (value or key) of `value` over the field limit or holding unstorable text."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            code = _text_problem(node, limits.field_bytes)
            if code:
                return RowProblem(line, where, code, _TEXT_MESSAGES[code].format(limit=limits.field_bytes))
        elif isinstance(node, dict):
            for key, child in node.items():
                child_path = key_path(where, key)
                code = _text_problem(key, limits.field_bytes)
                if code:
                    return RowProblem(line, child_path, code, _TEXT_MESSAGES[code].format(limit=limits.field_bytes))
                stack.append((child, child_path))
        elif isinstance(node, list):
            stack.extend((child, index_path(where, i)) for i, child in enumerate(node))
    return None


def _object_or_problem(value: Any, line: int) -> tuple[dict[str, Any] | None, RowProblem | None]:
    if isinstance(value, dict):
        return value, None
    return None, RowProblem(line, "", "not_an_object", "Each row must be a JSON object with a data object.")


def _too_large(line: int, limit: int) -> RowProblem:
    return RowProblem(line, "", "row_too_large", f"The row is larger than {limit} bytes; none of it was read.")


# --- JSON Lines ---


class JsonLinesReader:
    """One JSON object per line; blank lines are skipped. Position: byte offset and line number."""

    def __init__(self, source: SourceReader, position: dict[str, Any], limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.line = int(position.get("line", 0))

    def position(self) -> dict[str, Any]:
        return {"offset": self.source.offset, "line": self.line}

    def rows(self) -> Iterator[ParsedRow]:
        limit = self.limits.row_bytes
        while True:
            at_start = self.source.offset == 0
            raw = self.source.readline(limit + 2)
            if not raw:
                return
            self.line += 1
            if at_start and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if not raw.endswith(b"\n") and len(raw) >= limit + 2:
                while raw and not raw.endswith(b"\n"):  # skip the rest of the line, a chunk at a time
                    raw = self.source.readline(_CHUNK)
                yield ParsedRow(self.line, None, _too_large(self.line, limit))
                continue
            content = raw.rstrip(b"\r\n")
            if len(content) > limit:
                yield ParsedRow(self.line, None, _too_large(self.line, limit))
                continue
            if not content.strip():
                continue
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError as exc:
                message = f"Not valid UTF-8 (byte {exc.start + 1} of the line)."
                yield ParsedRow(self.line, None, RowProblem(self.line, "", "encoding", message))
                continue
            value, problem = decode_json(text, line=self.line, field="", limits=self.limits)
            if problem is None:
                item, problem = _object_or_problem(value, self.line)
                yield ParsedRow(self.line, item, problem)
            else:
                yield ParsedRow(self.line, None, problem)


# --- JSON array ---

_OUTSIDE_STRING = re.compile(r'["\[\]{}]')
_INSIDE_STRING = re.compile(r'["\\]')
_SCALAR_END = re.compile(r"[,\]\s]")
_NON_WS = re.compile(r"[^ \t\r\n]")


class JsonArrayReader:
    """Elements of one top-level JSON array, found without parsing the whole document.

    The reader scans for each element's end (tracking strings, escapes and bracket depth, with regular
    expressions jumping between the characters that matter), then parses that element alone. Memory holds one
    element at most (an element over the row limit is skipped, still scanned to its end, and reported).
    Position: byte offset and line just after the last element, and whether the array has been opened.
    """

    def __init__(self, source: SourceReader, position: dict[str, Any], limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.opened = bool(position.get("opened", False))
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
        self._buf = ""
        self._eof = False
        # Line and byte offset of the text before `_mark` in the buffer (everything before it is accounted for).
        self._mark = 0
        self._line = int(position.get("line", 1)) if self.opened else 1
        self._column = 0  # characters since the last newline (unknown after a resume; messages count from there)
        self._offset = source.offset
        self._line_at_end = self._line
        self._offset_at_end = self._offset

    def position(self) -> dict[str, Any]:
        return {"offset": self._offset_at_end, "line": self._line_at_end, "opened": self.opened}

    # buffer management

    def _advance(self, to: int) -> None:
        """Account for the text up to `to`: its lines and its bytes."""
        if to > self._mark:
            piece = self._buf[self._mark : to]
            newlines = piece.count("\n")
            self._line += newlines
            self._column = len(piece) - piece.rfind("\n") - 1 if newlines else self._column + len(piece)
            self._offset += len(piece.encode("utf-8", "surrogateescape"))
            self._mark = to

    def _fill(self, keep_from: int) -> int:
        """Drop what is before `keep_from`, read more; returns how far positions moved (0 at end of file)."""
        if self._eof:
            return -1
        self._advance(keep_from)
        self._buf = self._buf[keep_from:]
        self._mark -= keep_from
        at_start = self.source.offset == 0
        chunk = self.source.read(_CHUNK)
        if at_start and chunk.startswith(_BOM):
            chunk = chunk[len(_BOM) :]
            self._offset += len(_BOM)
        text = self._decoder.decode(chunk, final=not chunk)
        if not chunk:
            self._eof = True
        self._buf += text
        return keep_from

    def _skip_ws(self, pos: int) -> tuple[int, str]:
        """The next non-whitespace character at or after `pos` ('' at end of file), and its position."""
        while True:
            match = _NON_WS.search(self._buf, pos)
            if match:
                return match.start(), match.group()
            moved = self._fill(len(self._buf))
            if moved < 0:
                return len(self._buf), ""
            pos -= moved

    def _malformed(self, pos: int, message: str) -> FileError:
        self._advance(pos)
        return FileError("malformed_file", f"{message} (line {self._line}).", line=self._line)

    def rows(self) -> Iterator[ParsedRow]:
        pos = 0
        expect_value = False
        if not self.opened:
            pos, char = self._skip_ws(pos)
            if char != "[":
                raise self._malformed(pos, "The file is not a JSON array: it must start with '['")
            self.opened = True
            pos, char = self._skip_ws(pos + 1)
            if char == "]":
                self._close(pos + 1)
                return
            expect_value = True
        while True:
            if not expect_value:
                pos, char = self._skip_ws(pos)
                if char == "]":
                    self._close(pos + 1)
                    return
                if not char:
                    raise self._malformed(pos, "The JSON array is not closed; is the file truncated?")
                if char != ",":
                    raise self._malformed(pos, f"Expected ',' or ']' after an element, found {char!r}")
                pos, char = self._skip_ws(pos + 1)
                if not char:
                    raise self._malformed(pos, "The JSON array is not closed; is the file truncated?")
                if char in ",]":
                    raise self._malformed(pos, f"Expected an element after ',', found {char!r}")
            expect_value = False
            pos, row = self._element(pos)
            yield row

    def _close(self, pos: int) -> None:
        after, char = self._skip_ws(pos)
        if char:
            raise self._malformed(after, "Unexpected data after the end of the JSON array")
        self._advance(after)
        self._line_at_end, self._offset_at_end = self._line, self._offset

    def _element(self, start: int) -> tuple[int, ParsedRow]:
        """Scan the element starting at `start` to its end, then parse it; returns the position after it."""
        self._advance(start)
        line, column = self._line, self._column + 1
        first = self._buf[start]
        if first in "[{":
            # Fast path: the C decoder finds the element's end itself. It succeeds only on a complete object or
            # array (the closing bracket it stops at is the one the whole file has there); anything else, a
            # truncated buffer included, falls through to the scanner, which decides.
            try:
                value, end = _DECODER.raw_decode(self._buf, start)
            except (ValueError, RecursionError):
                pass
            else:
                row = self._parse(self._buf[start:end], line, column, (value,))
                self._advance(end)
                self._line_at_end, self._offset_at_end = self._line, self._offset
                return end, row
        limit = self.limits.row_bytes
        oversized = False
        depth = 0
        in_string = False
        if first in "[{":
            depth = 1
            pos = start + 1
        elif first == '"':
            in_string = True
            pos = start + 1
        else:
            pos = start
        while True:
            if first not in '[{"' and not in_string:
                match = _SCALAR_END.search(self._buf, pos)
                end = match.start() if match else -1
                pos = len(self._buf) if match is None else pos
            else:
                end = -1
                while True:
                    pattern = _INSIDE_STRING if in_string else _OUTSIDE_STRING
                    match = pattern.search(self._buf, pos)
                    if match is None:
                        pos = len(self._buf)
                        break
                    char = match.group()
                    if in_string:
                        if char == "\\":
                            if match.end() >= len(self._buf):
                                pos = match.start()  # the escaped character is in the next chunk
                                break
                            pos = match.end() + 1
                            continue
                        in_string = False
                        pos = match.end()
                        if depth == 0:
                            end = pos
                            break
                    elif char == '"':
                        in_string = True
                        pos = match.end()
                    elif char in "[{":
                        depth += 1
                        pos = match.end()
                    else:
                        depth -= 1
                        pos = match.end()
                        if depth == 0:
                            end = pos
                            break
            if end >= 0:
                break
            if not oversized and pos - start > limit:
                oversized = True
            keep = pos if oversized else start
            moved = self._fill(keep)
            if moved < 0:
                if first not in '[{"' and not in_string:
                    end = len(self._buf)  # a bare scalar running to the end of the file
                    break
                raise self._malformed(pos, "The JSON array is not closed; is the file truncated?")
            pos -= moved
            if not oversized:
                start -= moved
        row = (
            ParsedRow(line, None, _too_large(line, limit))
            if oversized
            else self._parse(self._buf[start:end], line, column)
        )
        self._advance(end)
        self._line_at_end, self._offset_at_end = self._line, self._offset
        return end, row

    def _parse(self, text: str, line: int, column: int, parsed: tuple[Any] | None = None) -> ParsedRow:
        """The element's row; `parsed` holds its value when the fast path has decoded it already."""
        limit = self.limits.row_bytes
        if len(text) > limit or len(text.encode("utf-8", "surrogateescape")) > limit:
            return ParsedRow(line, None, _too_large(line, limit))
        bad = _UNDECODABLE.search(text)
        if bad:
            bad_line = line + text.count("\n", 0, bad.start())
            return ParsedRow(line, None, RowProblem(line, "", "encoding", f"Not valid UTF-8 (line {bad_line})."))
        if parsed is None:
            value, problem = decode_json(text, line=line, field="", limits=self.limits, column=column)
        else:
            value = parsed[0]
            problem = _too_deep(text, line=line, field="", limits=self.limits) or _parsed_problem(
                value, text, line=line, field="", limits=self.limits
            )
        if problem is not None:
            return ParsedRow(line, None, problem)
        item, problem = _object_or_problem(value, line)
        return ParsedRow(line, item, problem)


# --- CSV ---

_SCALAR_COLUMNS = ("external_id", "language")
_JSON_COLUMNS = ("required_skills", "gold_answer", "data", "suggestions")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


def _raise_csv_field_limit(limit: int) -> None:
    # The csv module's field limit is one process-wide number (128 KiB by default); rows are bounded here, by
    # the row limit on every physical line and record, so the module's own limit only has to stay out of the way.
    if csv.field_size_limit() < limit:
        csv.field_size_limit(limit)


@dataclass(frozen=True)
class CsvColumn:
    name: str
    kind: str  # scalar | json | bool | int | data
    path: tuple[str, ...] = ()  # for data.<a>.<b> columns: ("a", "b")


def csv_columns(header: list[str]) -> list[CsvColumn]:
    """The header's columns, checked; a FileError names the first unusable one."""
    columns: list[CsvColumn] = []
    seen: set[str] = set()
    paths: list[tuple[str, ...]] = []
    for raw in header:
        name = raw.strip()
        if name in seen:
            raise FileError("bad_header", f"Column {name!r} appears twice in the header.", line=1)
        seen.add(name)
        if name in _SCALAR_COLUMNS:
            columns.append(CsvColumn(name, "scalar"))
        elif name in _JSON_COLUMNS:
            columns.append(CsvColumn(name, "json"))
        elif name == "priority":
            columns.append(CsvColumn(name, "int"))
        elif name == "qualification":
            columns.append(CsvColumn(name, "bool"))
        elif name.startswith("data.") and all(part.strip() for part in name[5:].split(".")):
            path = tuple(name[5:].split("."))
            for other in paths:
                shorter, longer = sorted((path, other), key=len)
                if longer[: len(shorter)] == shorter:
                    raise FileError(
                        "bad_header",
                        f"Columns data.{'.'.join(other)} and {name} both set the same part of the task data.",
                        line=1,
                    )
            paths.append(path)
            columns.append(CsvColumn(name, "data", path))
        else:
            raise FileError(
                "bad_header",
                f"Unknown column {name[:100]!r}: task data goes in columns named data.<key> (or one JSON column "
                "named data); the others are external_id, priority, language, required_skills, gold_answer, "
                "qualification and suggestions.",
                line=1,
            )
    if "data" in seen and paths:
        raise FileError("bad_header", "Use either a data column (JSON) or data.<key> columns, not both.", line=1)
    if "data" not in seen and not paths:
        raise FileError("bad_header", "The header names no task data column (data.<key>, or data as JSON).", line=1)
    return columns


class _CsvLines:
    """Physical lines for the csv module: each checked against the row limit, decoded strictly (a line that is
    not UTF-8 is remembered, and decoded lossily so the csv module stays in step with the file)."""

    def __init__(self, source: SourceReader, line: int, limit: int) -> None:
        self.source = source
        self.line = line
        self.limit = limit
        self.record_bytes = 0
        self.undecodable: list[int] = []

    def __iter__(self) -> "_CsvLines":
        return self

    def __next__(self) -> str:
        at_start = self.source.offset == 0
        raw = self.source.readline(self.limit + 2)
        if not raw:
            raise StopIteration
        self.line += 1
        if at_start and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        self.record_bytes += len(raw)
        if (len(raw) >= self.limit + 2 and not raw.endswith(b"\n")) or self.record_bytes > self.limit + 2:
            raise FileError(
                "row_too_large",
                f"The CSV record ending at line {self.line} is larger than {self.limit} bytes; a CSV file cannot "
                "be read on safely past it.",
                line=self.line,
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.undecodable.append(self.line)
            return raw.decode("utf-8", "surrogateescape")


class CsvReader:
    """A header row, then one task per record (see csv_columns for the mapping). Position: byte offset, line
    and the header, so a resumed reader needs no second look at the top of the file."""

    def __init__(self, source: SourceReader, position: dict[str, Any], limits: Limits) -> None:
        self.source = source
        self.limits = limits
        self.header: list[str] | None = position.get("header")
        self._lines = _CsvLines(source, int(position.get("line", 0)), limits.row_bytes)
        self.line = self._lines.line
        _raise_csv_field_limit(limits.row_bytes + 1)

    def position(self) -> dict[str, Any]:
        return {"offset": self.source.offset, "line": self.line, "header": self.header}

    def _records(self) -> Iterator[tuple[int, list[str], bool]]:
        """(first line, cells, whether a line of it was not UTF-8), one per non-blank record."""
        reader = csv.reader(self._lines, strict=True)
        while True:
            self._lines.record_bytes = 0
            first = self._lines.line + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileError(
                    "malformed_file",
                    f"CSV quoting error in the record ending at line {self._lines.line}: {exc}.",
                    line=self._lines.line,
                ) from exc
            self.line = self._lines.line
            undecodable = bool(self._lines.undecodable) and self._lines.undecodable[-1] >= first
            self._lines.undecodable.clear()
            if record:
                yield first, record, undecodable

    def rows(self) -> Iterator[ParsedRow]:
        records = self._records()
        if self.header is None:
            for _, header, undecodable in records:
                if undecodable:
                    raise FileError("encoding", "The CSV header is not valid UTF-8.", line=1)
                self.header = [name.strip() for name in header]
                break
            else:
                raise FileError("bad_header", "The CSV file is empty: it needs a header row.", line=1)
        columns = csv_columns(self.header)
        for line, cells, undecodable in records:
            if undecodable:
                yield ParsedRow(line, None, RowProblem(line, "", "encoding", "Not valid UTF-8."))
            elif len(cells) != len(columns):
                message = f"The row has {len(cells)} cells; the header has {len(columns)} columns."
                yield ParsedRow(line, None, RowProblem(line, "", "ragged_row", message))
            else:
                item, problem = self._item(columns, cells, line)
                yield ParsedRow(line, item, problem)

    def _item(self, columns: list[CsvColumn], cells: list[str], line: int) -> tuple[Any, RowProblem | None]:
        item: dict[str, Any] = {}
        data: dict[str, Any] = {}
        limits = self.limits
        for column, cell in zip(columns, cells, strict=True):
            code = _text_problem(cell, limits.field_bytes)
            if code:
                return None, RowProblem(line, column.name, code, _TEXT_MESSAGES[code].format(limit=limits.field_bytes))
            if cell == "":
                continue  # an empty cell leaves the key out, so a column only some rows use stays optional
            if column.kind == "data":
                node = data
                for part in column.path[:-1]:
                    node = node.setdefault(part, {})
                node[column.path[-1]] = cell
            elif column.kind == "scalar":
                item[column.name] = cell
            elif column.kind == "int":
                try:
                    item[column.name] = int(cell.strip())
                except ValueError:
                    return None, RowProblem(line, column.name, "invalid", "Must be an integer.")
            elif column.kind == "bool":
                word = cell.strip().lower()
                if word not in _TRUE | _FALSE:
                    return None, RowProblem(line, column.name, "invalid", "Must be true or false.")
                item[column.name] = word in _TRUE
            else:
                value, problem = decode_json(cell, line=line, field=column.name, limits=limits)
                if problem is not None:
                    return None, problem
                item[column.name] = value
        if data:
            item["data"] = data
        return item, None


Reader = JsonLinesReader | JsonArrayReader | CsvReader


def reader_for(fmt: str, source: SourceReader, position: dict[str, Any], limits: Limits) -> Reader:
    """The reader of `fmt` over `source`, resuming from `position` (an empty dict: the start of the file)."""
    if fmt == "jsonl":
        return JsonLinesReader(source, position, limits)
    if fmt == "json":
        return JsonArrayReader(source, position, limits)
    if fmt == "csv":
        return CsvReader(source, position, limits)
    raise ValueError(f"unknown import format {fmt!r}")
