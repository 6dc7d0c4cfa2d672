"""Verification: recompute every chain and checkpoint and name the first event that does not match."""

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from audit import chain, permissions, signing
from audit.models import AuditCheckpoint, AuditEvent, AuditSeal, AuditSequence
from audit.services.integrity import UnsealedEvents
from audit.services.sealing import checkpoint_document, event_document, events_from
from core.audit.record import Outcome, audit_record
from core.context import current_organization_id
from tenancy.models import Membership, Organization
from tenancy.permissions import check

EXPIRE_ACTION = "audit.expire"
_BATCH = 5000


@dataclass(frozen=True)
class Problem:
    category: str
    kind: str  # altered | missing | inserted | forged | checkpoint
    message: str
    sequence: int | None = None


@dataclass
class VerifyReport:
    ok: bool = True
    events_checked: int = 0
    checkpoints_checked: int = 0
    unsealed_events: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.ok = False
        self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["first_problem"] = data["problems"][0] if self.problems else None
        return data


def expired_through() -> dict[str, int]:
    """Per category, the last sequence retention has removed, as the (sealed) expiry events themselves record."""
    marks: dict[str, int] = {}
    for metadata in AuditEvent.objects.filter(action=EXPIRE_ACTION).values_list("metadata", flat=True):
        category, through = metadata.get("category"), metadata.get("through_sequence")
        if isinstance(category, str) and isinstance(through, int):
            marks[category] = max(marks.get(category, 0), through)
    return marks


def _verify_checkpoints(organization: Organization, category: str, report: VerifyReport) -> list[AuditCheckpoint]:
    trusted = signing.trusted_public_keys()
    checkpoints = list(AuditCheckpoint.objects.filter(category=category).order_by("first_sequence"))
    previous: AuditCheckpoint | None = None
    for checkpoint in checkpoints:
        report.checkpoints_checked += 1
        document = checkpoint_document(str(organization.uuid), checkpoint)
        span = f"checkpoint {checkpoint.first_sequence}..{checkpoint.last_sequence}"
        key = trusted.get(checkpoint.key_id)
        if key is None or not chain.verify_signature(key, document):
            report.add(
                Problem(
                    category,
                    "checkpoint",
                    f"{span} has no valid signature from a trusted key.",
                    checkpoint.first_sequence,
                )
            )
            return checkpoints
        if chain.checkpoint_digest(document) != checkpoint.digest:
            report.add(Problem(category, "checkpoint", f"{span} does not match its digest.", checkpoint.first_sequence))
            return checkpoints
        expected_first = previous.last_sequence + 1 if previous else 1
        expected_link = (previous.digest, previous.head) if previous else ("", chain.GENESIS)
        if (
            checkpoint.first_sequence != expected_first
            or (checkpoint.previous_digest, checkpoint.prev_head) != expected_link
        ):
            report.add(
                Problem(
                    category,
                    "checkpoint",
                    f"{span} does not follow the checkpoint before it.",
                    checkpoint.first_sequence,
                )
            )
            return checkpoints
        previous = checkpoint
    return checkpoints


def _seals_from(category: str, first_sequence: int) -> Iterator[tuple[int, str]]:
    """Seals in sequence order, in keyset batches, so memory stays flat however long the chain."""
    next_sequence = first_sequence
    while True:
        rows = list(
            AuditSeal.objects.filter(category=category, sequence__gte=next_sequence)
            .order_by("sequence")
            .values_list("sequence", "event_hash")[:_BATCH]
        )
        yield from rows
        if len(rows) < _BATCH:
            return
        next_sequence = rows[-1][0] + 1


def _verify_category(organization: Organization, category: str, expired: int, report: VerifyReport) -> None:
    checkpoints = _verify_checkpoints(organization, category, report)
    if not report.ok:
        return
    seals = _seals_from(category, expired + 1)
    seal = next(seals, None)
    sealed_through = checkpoints[-1].last_sequence if checkpoints else 0
    rows = events_from(category, expired + 1, sealed_through)
    pending = next(rows, None)
    for checkpoint in checkpoints:
        if checkpoint.last_sequence <= expired:
            continue  # removed by retention; its signed head still anchors the next range
        head = checkpoint.prev_head
        for sequence in range(checkpoint.first_sequence, checkpoint.last_sequence + 1):
            if pending is None or pending["sequence"] != sequence:
                report.add(Problem(category, "missing", f"Event {category} #{sequence} is missing.", sequence))
                return
            head = chain.event_hash(head, event_document(str(organization.uuid), pending))
            report.events_checked += 1
            while seal is not None and seal[0] < sequence:
                seal = next(seals, None)
            if seal != (sequence, head):
                report.add(
                    Problem(category, "altered", f"Event {category} #{sequence} does not match its seal.", sequence)
                )
                return
            pending = next(rows, None)
        if head != checkpoint.head:
            report.add(
                Problem(
                    category,
                    "checkpoint",
                    f"Seals of checkpoint {checkpoint.first_sequence}.."
                    f"{checkpoint.last_sequence} do not lead to its signed head.",
                    checkpoint.last_sequence,
                )
            )
            return
    # Nothing signed vouches for the events after the last checkpoint yet: each is checked as the sealer checks it
    # (numbered by the counter, carrying the platform's MAC, not a copy of another event).
    unsealed = UnsealedEvents(
        organization_id=organization.pk, category=category, first=max(sealed_through, expired) + 1
    )
    for _ in unsealed:
        report.unsealed_events += 1
    if unsealed.finding is not None:
        finding = unsealed.finding
        report.add(Problem(category, finding.kind, finding.message, finding.sequence))
        return
    if unsealed.next_sequence <= unsealed.issued:
        # Numbers are only given out with their event, in the same transaction: an issued number whose event
        # is gone from the end of the chain was deleted.
        missing = unsealed.next_sequence
        report.add(Problem(category, "missing", f"Event {category} #{missing} is missing.", missing))


def audit_verify(*, category: str | None = None) -> VerifyReport:
    """Recompute the chains of the organization in context; the report names the first event that fails."""
    organization = Organization.objects.get(pk=current_organization_id())
    report = VerifyReport()
    expired = expired_through()
    categories = set(AuditSequence.objects.values_list("category", flat=True))
    categories |= set(AuditEvent.objects.values_list("category", flat=True).distinct())
    for name in sorted(categories):
        if category is None or name == category:
            _verify_category(organization, name, expired.get(name, 0), report)
    return report


def audit_verify_recorded(*, actor: Membership, category: str | None = None) -> VerifyReport:
    """Verify the organization in context on a member's request (the API's or the trail page's), and put the outcome
    on its own trail: who checked, and what they saw."""
    check(permissions.audit_trail_verify(actor))
    report = audit_verify(category=category)
    first = report.problems[0] if report.problems else None
    audit_record(
        action="audit.verify",
        outcome=Outcome.SUCCESS if report.ok else Outcome.FAILURE,
        metadata={
            "category": category,
            "ok": report.ok,
            "events_checked": report.events_checked,
            "checkpoints_checked": report.checkpoints_checked,
            "unsealed_events": report.unsealed_events,
            "first_problem": asdict(first) if first else None,
        },
    )
    return report
