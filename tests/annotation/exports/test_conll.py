"""The CoNLL-2003 export from spans fields: whitespace tokens, BIO tags, one document per annotation and field."""

import pytest

from annotation.exports.conll import DOCSTART, bio_tags, conll_document
from tests.annotation import exports_support
from tests.annotation.exports_support import (
    build_world,
    run_export,
)

object_root = exports_support.object_root

A_DOCUMENT = (
    DOCSTART + "Alice -X- -X- B-PER\n"
    "works -X- -X- O\n"
    "at -X- -X- O\n"
    "Acme -X- -X- B-ORG\n"
    "Corp. -X- -X- I-ORG\n"
    "\n"
    "Bob -X- -X- O\n"
    "lives -X- -X- O\n"
    "in -X- -X- O\n"
    "Paris. -X- -X- B-LOC\n"
    "\n"
)
B_DOCUMENT = (
    DOCSTART + "Alice -X- -X- O\n"
    "works -X- -X- O\n"
    "at -X- -X- O\n"
    "Acme -X- -X- O\n"
    "Corp. -X- -X- O\n"
    "\n"
    "Bob -X- -X- O\n"
    "lives -X- -X- O\n"
    "in -X- -X- O\n"
    "Paris. -X- -X- O\n"
    "\n"
)


def test_documents_exactly(tenant, object_root):
    w = build_world()

    job, body = run_export(w, "conll")

    # A tagged three entities; B answered "no entities" (every token O). t2 and t3 answered no spans.
    assert body.decode() == A_DOCUMENT + B_DOCUMENT
    assert job.rows == 2


def test_docstart_header_is_conll_2003s():
    assert DOCSTART == "-DOCSTART- -X- -X- O\n\n"


@pytest.mark.parametrize(
    ("text", "spans", "expected"),
    [
        # A span ending inside a token still tags the whole token.
        ("New York-based", [{"start": 0, "end": 8, "label": "LOC"}], [("New", "B-LOC"), ("York-based", "I-LOC")]),
        # Overlapping spans: the earlier-starting one keeps its tokens; the later one tags what is still free.
        (
            "a b c",
            [{"start": 2, "end": 5, "label": "Y"}, {"start": 0, "end": 3, "label": "X"}],
            [("a", "B-X"), ("b", "I-X"), ("c", "B-Y")],
        ),
        # Same start: the longer span comes first.
        (
            "a b",
            [{"start": 0, "end": 1, "label": "S"}, {"start": 0, "end": 3, "label": "L"}],
            [("a", "B-L"), ("b", "I-L")],
        ),
        # A span over whitespace only tags nothing.
        ("a  b", [{"start": 1, "end": 3, "label": "W"}], [("a", "O"), ("b", "O")]),
        # Two adjacent spans of the same label stay two entities.
        (
            "x y",
            [{"start": 0, "end": 1, "label": "P"}, {"start": 2, "end": 3, "label": "P"}],
            [("x", "B-P"), ("y", "B-P")],
        ),
        ("", [], []),
    ],
)
def test_bio_tags(text, spans, expected):
    assert [(token, tag) for token, tag, _ in bio_tags(text, spans)] == expected


def test_line_breaks_end_sentences_and_an_empty_text_gives_no_document():
    assert conll_document("a\n\nb c", []) == DOCSTART + "a -X- -X- O\n\nb -X- -X- O\nc -X- -X- O\n\n"
    assert conll_document(" \n ", []) == ""
