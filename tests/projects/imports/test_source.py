"""The bytes an import reads: gzip recognised by its content, decompression capped (a bomb is a file error),
offsets in decompressed bytes so plain and compressed files resume alike. No database."""

import gzip
import io
import os

import pytest

from projects.imports.errors import FileError, SourceUnavailable
from projects.imports.source import SourceReader


def opener_of(content: bytes, opened: list[int] | None = None):
    def open_at(offset: int) -> io.BytesIO:
        if opened is not None:
            opened.append(offset)
        return io.BytesIO(content[offset:])

    return open_at


def read_all(reader: SourceReader) -> bytes:
    chunks = []
    while chunk := reader.read(1000):
        chunks.append(chunk)
    return b"".join(chunks)


def test_plain_bytes_are_read_as_they_are_and_counted():
    reader = SourceReader(opener_of(b"line one\nline two\n"), offset=0, gzip_hint=None, max_bytes=100)

    assert (reader.readline(100), reader.gzip, reader.offset) == (b"line one\n", False, 9)
    assert read_all(reader) == b"line two\n"
    assert reader.offset == 18


def test_gzip_is_recognised_by_its_magic_bytes_whatever_the_name():
    reader = SourceReader(opener_of(gzip.compress(b"a\nb\n")), offset=0, gzip_hint=None, max_bytes=100)

    assert (read_all(reader), reader.gzip, reader.offset) == (b"a\nb\n", True, 4)


def test_a_plain_file_resumes_by_opening_at_the_offset():
    opened: list[int] = []
    reader = SourceReader(opener_of(b"0123456789"), offset=4, gzip_hint=False, max_bytes=100)
    reader_again = SourceReader(opener_of(b"0123456789", opened), offset=4, gzip_hint=False, max_bytes=100)

    assert (read_all(reader), reader_again.offset, opened) == (b"456789", 4, [4])


def test_a_gzip_file_resumes_by_decompressing_again_and_discarding_up_to_the_offset():
    opened: list[int] = []
    content = gzip.compress(b"0123456789" * 1000)
    reader = SourceReader(opener_of(content, opened), offset=9995, gzip_hint=True, max_bytes=10**6)

    assert (read_all(reader), opened) == (b"56789", [0])


def test_a_compressed_bomb_stops_at_the_cap_with_a_file_error():
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))  # 50 MiB of zeros in ~50 KiB
    reader = SourceReader(opener_of(bomb), offset=0, gzip_hint=None, max_bytes=1024 * 1024)

    with pytest.raises(FileError) as caught:
        read_all(reader)
    assert (caught.value.code, caught.value.message) == (
        "decompressed_too_large",
        "The file decompresses to more than 1048576 bytes (IMPORT_MAX_FILE_BYTES).",
    )
    assert len(bomb) < 100 * 1024


def test_a_plain_file_over_the_cap_is_a_file_error():
    reader = SourceReader(opener_of(b"x" * 101), offset=0, gzip_hint=None, max_bytes=100)

    with pytest.raises(FileError) as caught:
        read_all(reader)
    assert (caught.value.code, caught.value.message) == (
        "file_too_large",
        "The file is larger than 100 bytes (IMPORT_MAX_FILE_BYTES).",
    )


@pytest.mark.parametrize(
    "content",
    [gzip.compress(os.urandom(5000))[:-20], b"\x1f\x8b" + b"not gzip at all"],
    ids=["truncated", "corrupt"],
)
def test_a_broken_gzip_file_is_a_file_error(content):
    reader = SourceReader(opener_of(content), offset=0, gzip_hint=None, max_bytes=10**6, label="Object 'a.gz'")

    with pytest.raises(FileError) as caught:
        read_all(reader)
    assert (caught.value.code, caught.value.message) == (
        "bad_gzip",
        "Object 'a.gz' is not a valid gzip file, or it is truncated.",
    )


def test_a_gzip_file_shorter_than_its_checkpoint_is_a_file_error():
    with pytest.raises(FileError) as caught:
        SourceReader(opener_of(gzip.compress(b"short")), offset=100, gzip_hint=True, max_bytes=10**6)
    assert caught.value.code == "changed"


def test_a_dropped_connection_is_reported_as_retryable():
    class Dropping(io.RawIOBase):
        def read(self, size: int = -1) -> bytes:
            raise ConnectionResetError("peer went away")

    reader = SourceReader(lambda offset: Dropping(), offset=0, gzip_hint=False, max_bytes=100)

    with pytest.raises(SourceUnavailable, match=r"Reading the file failed \(ConnectionResetError\)\."):
        reader.read(10)


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "a ZIP archive (an Excel .xlsx workbook is one)"),
        (gzip.compress(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), "a PNG image"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40, "a WebP image"),
        (b"%PDF-1.7\n" + b"\x00" * 40, "a PDF document"),
    ],
    ids=["xlsx", "png.gz", "webp", "pdf"],
)
def test_a_spreadsheet_image_or_document_is_named_for_what_it_is(content, kind):
    reader = SourceReader(opener_of(content), offset=0, gzip_hint=None, max_bytes=1000, label="Object 'scans/a'")

    with pytest.raises(FileError) as raised:
        reader.read(10)

    assert raised.value.as_dict() == {
        "line": None,
        "field": "file",
        "code": "unsupported_format",
        "message": f"Object 'scans/a' is {kind}: imports read jsonl (.jsonl, .ndjson), json (.json) and csv (.csv), "
        "each plain or gzip-compressed (.gz).",
    }


def test_text_that_merely_starts_like_a_signature_is_read():
    reader = SourceReader(opener_of(b"PK,name\n1,a\n"), offset=0, gzip_hint=None, max_bytes=100)

    assert read_all(reader) == b"PK,name\n1,a\n"
