"""The bytes of one import source, as the parsers read them: gunzipped when compressed, capped, and counted.

Offsets are positions in the decompressed bytes, so a checkpoint means the same thing for plain and gzip files:
a plain file resumes by seeking (or a ranged GET) to it, a gzip file by decompressing again from the start and
discarding up to it. Either way in constant memory; the price of resuming a compressed file is time.
"""

import gzip
import io
import zlib
from collections.abc import Callable
from typing import IO, Any

from projects.imports.errors import FileError, SourceUnavailable

GZIP_MAGIC = b"\x1f\x8b"
READ_CHUNK = 1024 * 1024
# What an import reads, for messages that refuse anything else.
SUPPORTED_FORMATS = "jsonl (.jsonl, .ndjson), json (.json) and csv (.csv), each plain or gzip-compressed (.gz)"

# The first bytes of files people export from other tools and try to import as they are. None of them can begin a
# JSON or CSV text, so recognising them costs nothing but a look at the first bytes, and the refusal can say what
# the file is instead of reporting every "row" of it as broken.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"PK\x03\x04", "a ZIP archive (an Excel .xlsx workbook is one)"),
    (0, b"PK\x05\x06", "a ZIP archive (an Excel .xlsx workbook is one)"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 document (an Excel .xls workbook is one)"),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"GIF87a", "a GIF image"),
    (0, b"GIF89a", "a GIF image"),
    (8, b"WEBP", "a WebP image"),
    (0, b"II*\x00", "a TIFF image"),
    (0, b"MM\x00*", "a TIFF image"),
    (0, b"%PDF-", "a PDF document"),
    (0, b"PAR1", "a Parquet file"),
    (0, b"SQLite format 3\x00", "an SQLite database"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"\xfd7zXZ\x00", "an xz-compressed file"),
    (0, b"(\xb5/\xfd", "a Zstandard-compressed file"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
)
SNIFF_BYTES = 16


def content_kind(head: bytes) -> str | None:
    """What a file is, from its first SNIFF_BYTES (decompressed) bytes, when it is a kind no import reads."""
    for offset, signature, kind in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return kind
    return None


def unsupported_content(label: str, kind: str) -> FileError:
    return FileError("unsupported_format", f"{label} is {kind}: imports read {SUPPORTED_FORMATS}.")


# Opens the source's raw (possibly compressed) bytes, positioned at the given raw offset.
Opener = Callable[[int], IO[bytes]]


class _CountingRaw(io.RawIOBase):
    """A raw stream over anything with read(n) (a file, an S3 body), counting the bytes it hands out."""

    def __init__(self, stream: IO[bytes], start: int) -> None:
        self._stream = stream
        self.consumed = start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._stream.read(len(buffer))
        except OSError as exc:
            raise SourceUnavailable(f"Reading the file failed ({type(exc).__name__}).") from exc
        except Exception as exc:
            # botocore and urllib3 raise their own types for a dropped or timed-out stream.
            if type(exc).__module__.split(".")[0] in ("botocore", "urllib3"):
                raise SourceUnavailable(f"Reading the file failed ({type(exc).__name__}).") from exc
            raise
        size = len(data)
        buffer[:size] = data
        self.consumed += size
        return size

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            super().close()


_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def _bad_gzip(label: str) -> FileError:
    return FileError("bad_gzip", f"{label} is not a valid gzip file, or it is truncated.")


class SourceReader:
    """Decompressed bytes from `offset` on; refuses to hand out more than `max_bytes` in all."""

    def __init__(
        self, opener: Opener, *, offset: int, gzip_hint: bool | None, max_bytes: int, label: str = "The file"
    ) -> None:
        self.label = label
        self.max_bytes = max_bytes
        # A plain file is opened at the offset itself; a compressed one (or one not yet sniffed) from the start.
        raw_start = offset if (offset and gzip_hint is False) else 0
        self._raw = _CountingRaw(opener(raw_start), raw_start)
        buffered = io.BufferedReader(self._raw, READ_CHUNK)
        if gzip_hint is None:
            gzip_hint = buffered.peek(len(GZIP_MAGIC))[: len(GZIP_MAGIC)] == GZIP_MAGIC
        self.gzip = gzip_hint
        self._stream: io.BufferedReader[_CountingRaw] | gzip.GzipFile = (
            gzip.GzipFile(fileobj=buffered, mode="rb") if self.gzip else buffered
        )
        self.offset = raw_start
        # A spreadsheet or an image among the objects of a prefix is named for what it is at the first read,
        # before any of its "rows" is reported broken.
        self._sniff = offset == 0
        while self.offset < offset:
            if not self.read(min(READ_CHUNK, offset - self.offset)):
                raise FileError("changed", f"{self.label} is shorter than when the import started reading it.")

    @property
    def raw_consumed(self) -> int:
        """Raw (compressed) bytes read so far, for progress; ahead of `offset` by up to one read buffer."""
        return self._raw.consumed

    def _count(self, data: bytes) -> bytes:
        self.offset += len(data)
        if self.offset > self.max_bytes:
            return self._over_limit()
        return data

    def _over_limit(self) -> bytes:
        if self.gzip:
            raise FileError(
                "decompressed_too_large",
                f"{self.label} decompresses to more than {self.max_bytes} bytes (IMPORT_MAX_FILE_BYTES).",
            )
        raise FileError(
            "file_too_large", f"{self.label} is larger than {self.max_bytes} bytes (IMPORT_MAX_FILE_BYTES)."
        )

    def _check_kind(self) -> None:
        self._sniff = False
        kind = content_kind(self._stream.peek(SNIFF_BYTES)[:SNIFF_BYTES])
        if kind is not None:
            raise unsupported_content(self.label, kind)

    def read(self, size: int) -> bytes:
        try:
            if self._sniff:
                self._check_kind()
            data = self._stream.read(size)
        except _GZIP_ERRORS as exc:
            raise _bad_gzip(self.label) from exc
        return self._count(data)

    def readline(self, limit: int) -> bytes:
        try:
            if self._sniff:
                self._check_kind()
            data = self._stream.readline(limit)
        except _GZIP_ERRORS as exc:
            raise _bad_gzip(self.label) from exc
        return self._count(data)

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> "SourceReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
