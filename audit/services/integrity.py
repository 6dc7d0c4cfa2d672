"""Is each event after the last checkpoint one the platform wrote? Asked by the sealer before it seals an event,
and by verification of the events not sealed yet.

Until an event is sealed, nothing signed vouches for it, and whoever can write to the database could add one, or
raise the category's counter to match. Three things vouch for it instead, none of them in the database's gift:

- its number was given out by the counter (a row past the counter was never issued);
- it carries its MAC (audit.macs), made with a key the database never holds; events written before MACs existed
  are exempt below the counter's `mac_since`, which is itself MACed;
- its MAC appears once: a genuine event copied to another number carries a valid MAC too, since the MAC cannot
  cover the number (audit.chain.MAC_FIELDS), so a copy is found by its MAC among the events numbered before it at
  the same instant (the copy keeps its original's `occurred_at`), sealed or not.

Whoever reads hands out the events in order and stops before the first one that fails, naming it; the sealer then
seals the good prefix only and raises an integrity alert: an ERROR log line every time, and one audit event per
finding.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit import chain
from audit.macs import mac_since_vouched, row_mac_matches
from audit.models import AuditEvent, AuditSequence
from audit.services.recording import INTEGRITY_ALERT
from core.audit.record import Outcome, audit_record

logger = logging.getLogger(__name__)

READ_COLUMNS = ("id", *(field for field in chain.EVENT_FIELDS if field != "organization"), "mac")
_BATCH = 5000


@dataclass(frozen=True)
class Finding:
    """The first event of a category that cannot be vouched for."""

    category: str
    sequence: int
    kind: str  # missing | inserted | forged
    message: str


@dataclass(frozen=True)
class _Counter:
    issued: int
    mac_since: int


def _counter(organization_id: int, category: str) -> _Counter:
    row = (
        AuditSequence.objects.filter(category=category).values_list("last_value", "mac_since", "mac_since_mac").first()
    )
    if row is None:
        return _Counter(issued=0, mac_since=1)
    last_value, mac_since, tag = row
    return _Counter(issued=last_value, mac_since=mac_since_vouched(organization_id, category, mac_since, tag))


class UnsealedEvents:
    """The events of one category from `first` on, in sequence order, each handed out only once it is vouched for;
    iteration stops before the first that is not, and `finding` names it. At most `limit` events are handed out.

    After iterating, `next_sequence` is the number the next event would need, and `issued` the counter as it stood
    before reading (an issued number whose event is gone from the end of the chain was deleted).
    """

    def __init__(self, *, organization_id: int, category: str, first: int, limit: int | None = None) -> None:
        self.organization_id = organization_id
        self.category = category
        self.first = first
        self.limit = limit
        self.finding: Finding | None = None
        self.next_sequence = first
        self.issued = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        counter = _counter(self.organization_id, self.category)
        self.issued = issued = counter.issued
        # The latest time of any event numbered before the batch being read: only an event of that time or earlier
        # can be a copy of one of them (a copy keeps its original's time).
        horizon = self._sealed_horizon()
        handed = 0
        after: tuple[int, list[int]] | None = None
        while True:
            rows = self._batch(after)
            earlier_copies = self._earlier_copies(rows, horizon)
            seen: dict[str, int] = {}  # this batch's MACs; earlier ones are looked up, so memory stays flat
            for row in rows:
                sequence = row["sequence"]
                if sequence > issued:
                    # The counter was read before the events: a writer may have committed since. Only a number the
                    # counter has still not given out is an insertion.
                    issued = _counter(self.organization_id, self.category).issued
                self.finding = self._check(row, issued, counter.mac_since, seen, earlier_copies)
                if self.finding is not None:
                    return
                if row["mac"]:
                    seen[row["mac"]] = sequence
                horizon = row["occurred_at"] if horizon is None else max(horizon, row["occurred_at"])
                yield row
                handed += 1
                self.next_sequence = sequence + 1
                if self.limit is not None and handed >= self.limit:
                    return
            if len(rows) < _BATCH:
                return
            last = rows[-1]["sequence"]
            after = (last, [row["id"] for row in rows if row["sequence"] == last])

    def _batch(self, after: tuple[int, list[int]] | None) -> list[dict[str, Any]]:
        """The next rows in the unique index's order (no sort): from the last number read on, less the rows of
        that number already read, so that two rows claiming one number are both read, even across batches."""
        events = AuditEvent.objects.filter(category=self.category)
        if after is None:
            events = events.filter(sequence__gte=self.first)
        else:
            sequence, read = after
            events = events.filter(sequence__gte=sequence).exclude(id__in=read)
        return list(events.order_by("sequence").values(*READ_COLUMNS)[:_BATCH])

    def _sealed_horizon(self) -> datetime | None:
        """The latest time of any sealed event (None: nothing is sealed), read once, backward along the
        (organization, category, occurred_at, id) index."""
        if self.first <= 1:
            return None
        sealed = AuditEvent.objects.filter(category=self.category, sequence__lt=self.first)
        return sealed.order_by("-occurred_at").values_list("occurred_at", flat=True).first()

    def _earlier_copies(self, rows: list[dict[str, Any]], horizon: datetime | None) -> dict[tuple[datetime, str], int]:
        """Events numbered before `rows` (sealed or read earlier in this pass) at the same instants, by (occurred_at,
        mac): one equality probe per instant on the (organization, category, occurred_at, id) index, which finds an
        original however old it is. Events come in about the order of their times, so only those written around the
        start of the batch need probing; in a trail that was not tampered with, usually none."""
        if horizon is None or not rows:
            return {}
        instants = sorted({row["occurred_at"] for row in rows if row["mac"] and row["occurred_at"] <= horizon})
        if not instants:
            return {}
        found = (
            AuditEvent.objects.filter(
                category=self.category, occurred_at__in=instants, sequence__lt=rows[0]["sequence"]
            )
            .exclude(mac="")
            .values_list("occurred_at", "mac", "sequence")
        )
        return {(occurred_at, mac): sequence for occurred_at, mac, sequence in found}

    def _check(
        self,
        row: dict[str, Any],
        issued: int,
        mac_since: int,
        seen: dict[str, int],
        earlier_copies: dict[tuple[datetime, str], int],
    ) -> Finding | None:
        category, sequence = self.category, row["sequence"]
        name = f"Event {category} #{sequence}"
        if sequence < self.next_sequence:
            return Finding(
                category, sequence, "inserted", f"{name} appears twice: one of them was not written by the platform."
            )
        if sequence > self.next_sequence:
            return Finding(
                category, self.next_sequence, "missing", f"Event {category} #{self.next_sequence} is missing."
            )
        if sequence > issued:
            return Finding(category, sequence, "inserted", f"{name} was never issued by the sequence counter.")
        if not (row["mac"] == "" and sequence < mac_since) and not row_mac_matches(self.organization_id, row):
            return Finding(
                category,
                sequence,
                "forged",
                f"{name} does not carry the platform's MAC: it was written or changed outside the platform.",
            )
        original = seen.get(row["mac"]) or earlier_copies.get((row["occurred_at"], row["mac"]))
        if row["mac"] and original is not None:
            return Finding(
                category,
                sequence,
                "forged",
                f"{name} is a copy of event {category} #{original}, made outside the platform.",
            )
        return None


def integrity_alert(*, organization_id: int, finding: Finding, detected_by: str) -> None:
    """Raise the alarm about a finding: an ERROR log line each time it is met, and one audit event per finding (the
    sealer meets it again at every run until an operator deals with the event)."""
    logger.error(
        "audit.integrity_alert",
        extra={
            "organization_id": organization_id,
            "category": finding.category,
            "sequence": finding.sequence,
            "kind": finding.kind,
            "problem": finding.message,
            "detected_by": detected_by,
        },
    )
    target_id = f"{finding.category}:{finding.sequence}"
    if AuditEvent.objects.filter(action=INTEGRITY_ALERT, target_id=target_id, metadata__kind=finding.kind).exists():
        return
    audit_record(
        action=INTEGRITY_ALERT,
        target_type="audit.event",
        target_id=target_id,
        outcome=Outcome.FAILURE,
        metadata={
            "category": finding.category,
            "sequence": finding.sequence,
            "kind": finding.kind,
            "problem": finding.message,
            "detected_by": detected_by,
        },
    )
