"""The three import formats, row by row: what each row becomes, each bad row's exact problem (line, field, code,
message), the file-level errors, and resuming from any row's position. No database."""

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projects.imports import parsers
from projects.imports.errors import FileError
from projects.imports.parsers import Limits, csv_columns, reader_for
from projects.imports.source import SourceReader

LIMITS = Limits(row_bytes=2 * 1024 * 1024 + 65536, field_bytes=1024 * 1024, max_depth=64)


def source(content: bytes, offset: int = 0, *, gzip: bool | None = None) -> SourceReader:
    return SourceReader(
        lambda at: io.BytesIO(content[at:]),
        offset=offset,
        gzip_hint=False if offset and gzip is None else gzip,
        max_bytes=10**10,
    )


def parse(fmt: str, content: bytes, position: dict[str, Any] | None = None, limits: Limits = LIMITS) -> list[Any]:
    """Every row as (line, item, (field, code, message) or None)."""
    position = position or {}
    reader = reader_for(fmt, source(content, int(position.get("offset", 0))), position, limits)
    return [
        (
            row.line,
            row.item,
            None if row.problem is None else (row.problem.field, row.problem.code, row.problem.message),
        )
        for row in reader.rows()
    ]


def positions(fmt: str, content: bytes, limits: Limits = LIMITS) -> list[tuple[Any, dict[str, Any]]]:
    reader = reader_for(fmt, source(content), {}, limits)
    return [(row.item, reader.position()) for row in reader.rows()]


def file_error(fmt: str, content: bytes, limits: Limits = LIMITS) -> tuple[str, str, int | None]:
    with pytest.raises(FileError) as caught:
        parse(fmt, content, limits=limits)
    return caught.value.code, caught.value.message, caught.value.line


# --- JSON Lines ---


def test_jsonl_rows_with_their_lines_blank_lines_crlf_and_a_byte_order_mark():
    content = b'\xef\xbb\xbf{"data": {"t": 1}}\r\n\n  \n{"external_id": "b", "data": {"t": "\xc3\xa9"}}'

    assert parse("jsonl", content) == [
        (1, {"data": {"t": 1}}, None),
        (4, {"external_id": "b", "data": {"t": "é"}}, None),
    ]


def test_jsonl_bad_rows_each_name_their_line_and_problem():
    content = b"\n".join(
        [
            b'{"data": {"t": 1}}',
            b'{"data": ',
            b'{"data": {"t": "caf\xe9"}}',
            b"[1, 2]",
            b'{"data": {"t": NaN}}',
            b"{" * 10_000 + b"}" * 10_000,
            b'{"data": {"t": "nul \\u0000"}}',
            b'{"data": {"t": "half \\ud800"}}',
            b'{"data": {"t": 2}}',
        ]
    )

    assert parse("jsonl", content) == [
        (1, {"data": {"t": 1}}, None),
        (2, None, ("", "malformed", "Invalid JSON at column 10: Expecting value.")),
        (3, None, ("", "encoding", "Not valid UTF-8 (byte 20 of the line).")),
        (4, None, ("", "not_an_object", "Each row must be a JSON object with a data object.")),
        (5, None, ("", "malformed", "Invalid JSON: NaN is not valid JSON.")),
        (6, None, ("", "too_deep", "JSON nested deeper than 64 levels.")),
        (7, None, ("data.t", "invalid_text", parsers._TEXT_MESSAGES["invalid_text"])),
        (8, None, ("data.t", "invalid_text", parsers._TEXT_MESSAGES["invalid_text"])),
        (9, {"data": {"t": 2}}, None),
    ]


def test_jsonl_a_10_mb_line_is_skipped_unread_and_the_next_row_still_found():
    content = b'{"data": {"t": "' + b"x" * (10 * 1024 * 1024) + b'"}}\n{"data": {"t": 2}}\n'

    assert parse("jsonl", content) == [
        (1, None, ("", "row_too_large", f"The row is larger than {LIMITS.row_bytes} bytes; none of it was read.")),
        (2, {"data": {"t": 2}}, None),
    ]


def test_a_field_over_the_field_limit_is_named_by_its_path():
    limits = Limits(row_bytes=10_000, field_bytes=1000, max_depth=64)
    content = json.dumps({"data": {"turns": [{"text": "ok"}, {"text": "y" * 1001}]}}).encode()

    assert parse("jsonl", content, limits=limits) == [
        (1, None, ("data.turns[1].text", "field_too_large", "Larger than 1000 bytes (IMPORT_MAX_FIELD_BYTES).")),
    ]


def test_a_key_over_the_field_limit_is_refused_too():
    limits = Limits(row_bytes=10_000, field_bytes=100, max_depth=64)
    content = json.dumps({"data": {"k" * 101: 1}}).encode()

    [(line, item, (field, code, _))] = parse("jsonl", content, limits=limits)
    assert (line, item, code, field.startswith("data.kkk")) == (1, None, "field_too_large", True)


def test_jsonl_positions_resume_exactly_at_the_next_row():
    content = b'{"data": {"n": 1}}\n\n{"data": {"n": 2}}\n{"data": {"n": 3}}\n'
    seen = positions("jsonl", content)

    assert [position for _, position in seen] == [
        {"offset": 19, "line": 1},
        {"offset": 39, "line": 3},
        {"offset": 58, "line": 4},
    ]
    assert parse("jsonl", content, seen[0][1]) == [(3, {"data": {"n": 2}}, None), (4, {"data": {"n": 3}}, None)]
    assert parse("jsonl", content, seen[-1][1]) == []


# --- JSON array ---


def test_json_array_elements_with_the_line_each_starts_on():
    content = b'\xef\xbb\xbf [\n {"data": {"t": "a,]}\\"["}},\n\n  {"data":\n {"t": 2}} ]\n'

    assert parse("json", content) == [(2, {"data": {"t": 'a,]}"['}}, None), (4, {"data": {"t": 2}}, None)]


def test_an_empty_array_has_no_rows():
    assert parse("json", b" [ ] ") == []


def test_json_array_bad_elements_are_rows_the_reader_steps_over():
    content = (
        b'[{"data": {"t": 1}}, 7, "text", {"data": {"t": tru}},\n'
        + b"[" * 10_000
        + b"]" * 10_000
        + b',\n{"data": {"t": "\xff"}}, {"data": {"t": 2}}]'
    )

    assert parse("json", content) == [
        (1, {"data": {"t": 1}}, None),
        (1, None, ("", "not_an_object", "Each row must be a JSON object with a data object.")),
        (1, None, ("", "not_an_object", "Each row must be a JSON object with a data object.")),
        (1, None, ("", "malformed", "Invalid JSON at column 48: Expecting value.")),
        (2, None, ("", "too_deep", "JSON nested deeper than 64 levels.")),
        (3, None, ("", "encoding", "Not valid UTF-8 (line 3).")),
        (3, {"data": {"t": 2}}, None),
    ]


def test_json_array_element_of_10_mb_is_skipped_and_the_next_one_found():
    content = b'[{"data": {"t": "' + b"x" * (10 * 1024 * 1024) + b'"}},\n{"data": {"t": 2}}]'

    assert parse("json", content) == [
        (1, None, ("", "row_too_large", f"The row is larger than {LIMITS.row_bytes} bytes; none of it was read.")),
        (2, {"data": {"t": 2}}, None),
    ]


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        (b'{"data": {}}', "The file is not a JSON array: it must start with '[' (line 1).", 1),
        (b"", "The file is not a JSON array: it must start with '[' (line 1).", 1),
        (b'[{"data": {"t": 1}},\n{"data": ', "The JSON array is not closed; is the file truncated? (line 2).", 2),
        (b'[{"data": {"t": 1}}', "The JSON array is not closed; is the file truncated? (line 1).", 1),
        (b'[{"data": {}},]', "Expected an element after ',', found ']' (line 1).", 1),
        (b'[{"data": {}}}]', "Expected ',' or ']' after an element, found '}' (line 1).", 1),
        (b'[{"data": {}}]\n[]', "Unexpected data after the end of the JSON array (line 2).", 2),
    ],
)
def test_a_json_file_whose_structure_breaks_is_a_file_error(content, message, line):
    assert file_error("json", content) == ("malformed_file", message, line)


def test_json_array_positions_resume_exactly_at_the_next_element():
    content = b'[\n{"data": {"n": 1}} ,\n{"data": {"n": 2}},{"data": {"n": 3}}\n]'
    seen = positions("json", content)

    assert [position["line"] for _, position in seen] == [2, 3, 3]
    assert parse("json", content, seen[0][1]) == [(3, {"data": {"n": 2}}, None), (3, {"data": {"n": 3}}, None)]
    assert parse("json", content, seen[-1][1]) == []


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
) | st.sampled_from(['",]}{[', "\\", '\\"', "é€😀", "\n\t"])
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT, lambda inner: st.lists(inner, max_size=4), max_leaves=8
)
_ROWS = st.lists(st.fixed_dictionaries({"data": st.dictionaries(_TEXT, _VALUES, max_size=4)}), max_size=8)


@settings(max_examples=150, deadline=None)
@given(rows=_ROWS, indent=st.sampled_from([None, 0, 2]), chunk=st.integers(min_value=1, max_value=40))
def test_json_array_reader_agrees_with_json_loads_at_any_chunk_size_and_resumes_anywhere(rows, indent, chunk):
    content = json.dumps(rows, indent=indent, ensure_ascii=False).encode()
    original = parsers._CHUNK
    parsers._CHUNK = chunk  # elements, strings and escapes then straddle read boundaries
    try:
        seen = positions("json", content)
        assert [item for item, _ in seen] == rows
        for index, (_, position) in enumerate(seen):
            assert [item for _, item, _ in parse("json", content, position)] == rows[index + 1 :]
    finally:
        parsers._CHUNK = original


# --- CSV ---


def test_csv_maps_data_columns_and_task_fields():
    content = (
        b"\xef\xbb\xbfexternal_id,data.text,data.meta.source,priority,qualification,gold_answer\r\n"
        b'a,"Hello, ""world""\nsecond line",web,3,false,\r\n'
        b"b,Only text,,,,\r\n"
        b'c,Gold,,0,yes,"{""label"": ""x""}"\r\n'
    )

    assert parse("csv", content) == [
        (
            2,
            {
                "external_id": "a",
                "priority": 3,
                "qualification": False,
                "data": {"text": 'Hello, "world"\nsecond line', "meta": {"source": "web"}},
            },
            None,
        ),
        (4, {"external_id": "b", "data": {"text": "Only text"}}, None),
        (
            5,
            {
                "external_id": "c",
                "priority": 0,
                "qualification": True,
                "gold_answer": {"label": "x"},
                "data": {"text": "Gold"},
            },
            None,
        ),
    ]


def test_csv_with_a_json_data_column():
    content = b'external_id,data\nx,"{""text"": ""hi"", ""n"": [1, 2]}"\n'

    assert parse("csv", content) == [(2, {"external_id": "x", "data": {"text": "hi", "n": [1, 2]}}, None)]


def test_csv_bad_rows_each_name_their_line_and_problem():
    deep = '"' + "[" * 10_000 + "]" * 10_000 + '"'
    content = (
        "external_id,data.text,priority,data_json\n".replace(",data_json", "")
        + "a,one,1\n"
        + "b,two\n"
        + "c,three,1,extra\n"
        + "d,four,high\n"
        + "e,caf\udce9,1\n"
        + "f,six,1\n"
    ).encode("utf-8", "surrogateescape")
    json_content = f"external_id,data\nok,{{}}\ndeep,{deep}\nbad,{{nope}}\n".encode()

    assert parse("csv", content) == [
        (2, {"external_id": "a", "priority": 1, "data": {"text": "one"}}, None),
        (3, None, ("", "ragged_row", "The row has 2 cells; the header has 3 columns.")),
        (4, None, ("", "ragged_row", "The row has 4 cells; the header has 3 columns.")),
        (5, None, ("priority", "invalid", "Must be an integer.")),
        (6, None, ("", "encoding", "Not valid UTF-8.")),
        (7, {"external_id": "f", "priority": 1, "data": {"text": "six"}}, None),
    ]
    assert parse("csv", json_content) == [
        (2, {"external_id": "ok", "data": {}}, None),
        (3, None, ("data", "too_deep", "JSON nested deeper than 64 levels.")),
        (
            4,
            None,
            ("data", "malformed", "Invalid JSON at column 2: Expecting property name enclosed in double quotes."),
        ),
    ]


def test_csv_cell_over_the_field_limit_names_its_column():
    limits = Limits(row_bytes=10_000, field_bytes=100, max_depth=64)
    content = b"data.text\n" + b"y" * 101 + b"\nfine\n"

    assert parse("csv", content, limits=limits) == [
        (2, None, ("data.text", "field_too_large", "Larger than 100 bytes (IMPORT_MAX_FIELD_BYTES).")),
        (3, {"data": {"text": "fine"}}, None),
    ]


def test_a_10_mb_csv_field_stops_the_file_since_no_next_record_can_be_trusted():
    content = b"external_id,data.text\na," + b"x" * (10 * 1024 * 1024) + b"\nb,fine\n"

    code, message, line = file_error("csv", content)
    assert (code, line) == ("row_too_large", 2)
    assert message == (
        f"The CSV record ending at line 2 is larger than {LIMITS.row_bytes} bytes; a CSV file cannot be read on "
        "safely past it."
    )


def test_a_csv_quoting_error_is_a_file_error():
    assert file_error("csv", b'data.text\n"open "quote" here\n') == (
        "malformed_file",
        "CSV quoting error in the record ending at line 2: ',' expected after '\"'.",
        2,
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("data.text,data.text", "Column 'data.text' appears twice in the header."),
        (
            "external_id,text",
            "Unknown column 'text': task data goes in columns named data.<key> (or one JSON column "
            "named data); the others are external_id, priority, language, required_skills, gold_answer, "
            "qualification and suggestions.",
        ),
        ("external_id,priority", "The header names no task data column (data.<key>, or data as JSON)."),
        ("data,data.text", "Use either a data column (JSON) or data.<key> columns, not both."),
        ("data.a,data.a.b", "Columns data.a and data.a.b both set the same part of the task data."),
    ],
)
def test_unusable_csv_headers_are_file_errors(header, message):
    with pytest.raises(FileError) as caught:
        csv_columns(header.split(","))
    assert (caught.value.code, caught.value.message, caught.value.line) == ("bad_header", message, 1)


def test_an_empty_csv_file_is_a_file_error():
    assert file_error("csv", b"") == ("bad_header", "The CSV file is empty: it needs a header row.", 1)


def test_csv_positions_carry_the_header_and_resume_at_the_next_record():
    content = b'data.text,priority\n"a\nb",1\nc,2\n'
    seen = positions("csv", content)

    assert seen[0][1] == {"offset": 27, "line": 3, "header": ["data.text", "priority"]}
    assert parse("csv", content, seen[0][1]) == [(4, {"priority": 2, "data": {"text": "c"}}, None)]
