"""Exports of the audit trail that an outside auditor can verify offline (`python -m audit.offline_verify`).

A JSONL export is, one JSON object a line:

1. `{"type": "header", ...}`: format and version, the organization's public id, the signing key id and public key
   (PEM), the export time and the query.
2. `{"type": "event", "id": ..., <event_document fields>, "mac": ...}` for every matching event, oldest first (the
   MAC lets an auditor holding the organization's MAC key authenticate events not sealed yet), each followed by
   `{"type": "seal", "category", "sequence", "event_hash"}` lines: the chain hash after the event and the one
   before it, so each event's hash can be recomputed even when the filter left its neighbours out.
3. `{"type": "checkpoint", ...}` for every signed checkpoint of the categories and sequence ranges exported,
   with signature and digest, so the seals can be tied to a signed head.

The stream reads in keyset batches, each in its own short transaction (`organization_context`): the body is sent
after the view has returned and its request transaction is closed, and no transaction stays open for the length of
a download. Events written after the export started are left out (`upper_id`), so a download is a snapshot.
"""

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils import timezone

from audit import chain, signing
from audit.models import AuditCheckpoint, AuditEvent, AuditSeal
from audit.selectors.events import audit_event_search
from audit.selectors.query import AuditQuery
from audit.services.sealing import EVENT_COLUMNS, checkpoint_document, event_document
from core.context import organization_context

FORMAT_NAME = "annotate-audit-export"
FORMAT_VERSION = 1
BATCH = 2000
CSV_COLUMNS = ("id", *chain.EVENT_FIELDS)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: text that could start a formula gets a leading quote."""
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _line(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def export_upper_id() -> int:
    """The newest event id of the organization in context: an export started now ends there."""
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _event_batches(organization_id: int, query: AuditQuery, upper_id: int) -> Iterator[list[dict[str, Any]]]:
    after = 0
    while True:
        with organization_context(organization_id):
            rows = list(
                audit_event_search(query)
                .filter(id__gt=after, id__lte=upper_id)
                .order_by("id")
                .values("id", *EVENT_COLUMNS, "mac")[:BATCH]
            )
        if rows:
            yield rows
        if len(rows) < BATCH:
            return
        after = rows[-1]["id"]


@dataclass
class _Coverage:
    """Per category, the lowest and highest sequence exported."""

    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, category: str, sequence: int) -> None:
        low, high = self.ranges.get(category, (sequence, sequence))
        self.ranges[category] = (min(low, sequence), max(high, sequence))


def _seals_for(rows: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    wanted: dict[str, set[int]] = {}
    for row in rows:
        numbers = wanted.setdefault(row["category"], set())
        numbers.update((row["sequence"], row["sequence"] - 1))
    condition = Q(pk__in=[])
    for category, numbers in wanted.items():
        condition |= Q(category=category, sequence__in=sorted(n for n in numbers if n > 0))
    return list(
        AuditSeal.objects.filter(condition)
        .order_by("category", "sequence")
        .values_list("category", "sequence", "event_hash")
    )


def _checkpoints(organization_id: int, organization_uuid: str, coverage: _Coverage) -> Iterator[str]:
    for category, (low, high) in sorted(coverage.ranges.items()):
        after = 0
        while True:
            with organization_context(organization_id):
                batch = list(
                    AuditCheckpoint.objects.filter(
                        category=category, last_sequence__gte=low, first_sequence__lte=high, first_sequence__gt=after
                    ).order_by("first_sequence")[:BATCH]
                )
            for checkpoint in batch:
                yield _line({"type": "checkpoint", **checkpoint_document(organization_uuid, checkpoint)})
            if len(batch) < BATCH:
                break
            after = batch[-1].first_sequence


def export_header(*, organization_uuid: str, query_text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "organization": organization_uuid,
        "key_id": signing.current_key_id(),
        "public_key_pem": signing.public_key_pem(),
        "exported_at": chain.format_time(timezone.now()),
        "query": query_text,
    }


def audit_export_jsonl(
    *, organization_id: int, organization_uuid: str, query: AuditQuery, upper_id: int, query_text: str = ""
) -> Iterator[str]:
    """The JSONL export of the events matching `query` with id <= upper_id, with their seals and checkpoints."""
    yield _line(export_header(organization_uuid=organization_uuid, query_text=query_text))
    coverage = _Coverage()
    for rows in _event_batches(organization_id, query, upper_id):
        with organization_context(organization_id):
            seals = _seals_for(rows)
        chunk = []
        for row in rows:
            coverage.add(row["category"], row["sequence"])
            document = {"type": "event", "id": row["id"], **event_document(organization_uuid, row), "mac": row["mac"]}
            chunk.append(_line(document))
        chunk.extend(
            _line({"type": "seal", "category": category, "sequence": sequence, "event_hash": digest})
            for category, sequence, digest in seals
        )
        yield "".join(chunk)
    yield from _checkpoints(organization_id, organization_uuid, coverage)


def audit_export_csv(
    *, organization_id: int, organization_uuid: str, query: AuditQuery, upper_id: int
) -> Iterator[str]:
    """The matching events as CSV for people (formula-safe); only the JSONL export carries what verification needs."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    for rows in _event_batches(organization_id, query, upper_id):
        buffer.seek(0)
        buffer.truncate()
        for row in rows:
            document = {"id": row["id"], **event_document(organization_uuid, row)}
            writer.writerow([safe_cell(document.get(column)) for column in CSV_COLUMNS])
        yield buffer.getvalue()
