"""CoNLL-2003 from the `spans` fields: one document per (task, annotator, spans field), BIO tags.

Each document starts with `-DOCSTART- -X- -X- O` and a blank line, then one token per line as
`<token> -X- -X- <tag>` (no part-of-speech or chunk tags: their columns hold the customary `-X-`), with a blank
line after each sentence and after the document. Documents follow task order, then annotator, then field order.

Tokenisation is by whitespace: a token is a maximal run of non-whitespace characters, so punctuation stays
attached (`Acme.` is one token). A line break in the text ends a sentence. A token takes the label of the first
span (by start, then the longer) that overlaps any of its characters: `B-<label>` on the first token that span
tags, `I-<label>` on the following ones, `O` elsewhere. An overlapping later span only tags tokens still free,
since one column holds one tag; a span over whitespace only tags nothing. Texts with no token are left out.
"""

import re
from collections.abc import Sequence
from typing import Any

from annotation.exports.base import TaskRecordWriter, has_field
from annotation.exports.records import TaskRecord
from projects.label_schema.fields import LabelSchema, SpansField

DOCSTART = "-DOCSTART- -X- -X- O\n\n"
_TOKEN = re.compile(r"\S+")


def bio_tags(text: str, spans: list[Any]) -> list[tuple[str, str, bool]]:
    """(token, tag, starts_sentence) for every whitespace token of `text`."""
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    tags = ["O"] * len(tokens)
    ordered = sorted((s for s in spans if isinstance(s, dict)), key=lambda s: (int(s["start"]), -int(s["end"])))
    for span in ordered:
        begun = False
        for index, (start, end, _) in enumerate(tokens):
            if start < int(span["end"]) and int(span["start"]) < end and tags[index] == "O":
                tags[index] = f"{'I' if begun else 'B'}-{span['label']}"
                begun = True
    out: list[tuple[str, str, bool]] = []
    previous_end = 0
    for (start, end, token), tag in zip(tokens, tags, strict=True):
        out.append((token, tag, bool(out) and "\n" in text[previous_end:start]))
        previous_end = end
    return out


def conll_document(text: str, spans: list[Any]) -> str:
    """One CoNLL-2003 document, or "" when the text has no token."""
    tagged = bio_tags(text, spans)
    if not tagged:
        return ""
    lines = [DOCSTART]
    for token, tag, new_sentence in tagged:
        if new_sentence:
            lines.append("\n")
        lines.append(f"{token} -X- -X- {tag}\n")
    lines.append("\n")
    return "".join(lines)


class ConllWriter(TaskRecordWriter):
    extension = "conll"
    content_type = "text/plain; charset=utf-8"

    @classmethod
    def schema_refusal(cls, schemas: Sequence[LabelSchema]) -> str | None:
        if has_field(schemas, (SpansField,), lambda field: True):
            return None
        return "CoNLL is made from spans fields, and the project's label schema has none."

    def write_task(self, record: TaskRecord) -> int:
        written = 0
        for annotation in record.annotations:
            for field in self.context.fields_of(annotation.schema_version, SpansField):
                spans = annotation.result.get(field.name)
                text = record.data.get(field.source)
                if not isinstance(spans, list) or not isinstance(text, str):
                    continue
                document = conll_document(text, spans)
                if document:
                    self.out.write(document)
                    written += 1
        return written
