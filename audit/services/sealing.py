"""Sealing: hash each organization's new events into its per-category chains and sign a checkpoint.

Sealing only reads events and appends seals and checkpoints; writers never wait for it. Numbers are handed out
under the category counter's row lock and commit in order, so the committed events of a category always form a
contiguous prefix: the sealer takes everything after its last checkpoint, checked one by one (audit.services.integrity:
issued by the counter, carrying the platform's MAC, not a copy), and stops before the first that fails, raising
an integrity alert: a gap, a number the counter never issued, an event the platform did not write. Nothing that
was forged before a seal is ever sealed as genuine.
"""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit import chain, permissions, signing, sql
from audit.models import AuditCheckpoint, AuditEvent, AuditSequence
from audit.services.integrity import UnsealedEvents, integrity_alert
from core.audit.record import audit_record
from core.context import current_organization_id
from core.enqueue import enqueue_on_commit
from tenancy.models import Membership, Organization
from tenancy.permissions import check

# The event columns the chain covers; the organization enters as its public id (see event_document).
EVENT_COLUMNS = tuple(field for field in chain.EVENT_FIELDS if field != "organization")
_READ_BATCH = 5000


def event_document(organization_uuid: str, row: dict[str, Any]) -> dict[str, Any]:
    """An event as it is hashed and exported: the public organization id and the fixed time format."""
    document = {field: row.get(field) for field in chain.EVENT_FIELDS if field != "organization"}
    document["organization"] = organization_uuid
    document["occurred_at"] = chain.format_time(row["occurred_at"])
    document["ip"] = str(row["ip"]) if row.get("ip") is not None else None
    return document


def checkpoint_document(organization_uuid: str, checkpoint: AuditCheckpoint) -> dict[str, Any]:
    """A checkpoint exactly as signed, plus its signature and digest: verifiable with the public key alone."""
    return {
        "organization": organization_uuid,
        "category": checkpoint.category,
        "first_sequence": checkpoint.first_sequence,
        "last_sequence": checkpoint.last_sequence,
        "prev_head": checkpoint.prev_head,
        "head": checkpoint.head,
        "previous_digest": checkpoint.previous_digest,
        "sealed_at": chain.format_time(checkpoint.sealed_at),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
        "digest": checkpoint.digest,
    }


def events_from(category: str, first_sequence: int, last_sequence: int | None = None) -> Any:
    """The category's events from `first_sequence` on, in order, read in keyset batches of constant size."""
    next_sequence = first_sequence
    while True:
        batch = AuditEvent.objects.filter(category=category, sequence__gte=next_sequence)
        if last_sequence is not None:
            batch = batch.filter(sequence__lte=last_sequence)
        rows = list(batch.order_by("sequence").values(*EVENT_COLUMNS)[:_READ_BATCH])
        yield from rows
        if len(rows) < _READ_BATCH:
            return
        next_sequence = rows[-1]["sequence"] + 1


@dataclass(frozen=True)
class SealResult:
    events: int
    checkpoints: int


def _try_lock(organization_id: int, category: str) -> bool:
    """One sealer per chain at a time; a second one skips instead of waiting."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SEAL_LOCK, {"chain": f"{organization_id}:{category}"})
        row = cursor.fetchone()
    return bool(row and row[0])


def _insert_seals(organization_id: int, category: str, seals: list[tuple[int, str]]) -> None:
    with connection.cursor() as cursor:
        for start in range(0, len(seals), _READ_BATCH):
            part = seals[start : start + _READ_BATCH]
            cursor.execute(
                sql.SEALS_INSERT,
                {
                    "organization": organization_id,
                    "category": category,
                    "sequences": [s for s, _ in part],
                    "hashes": [h for _, h in part],
                },
            )


def _seal_category(organization: Organization, category: str, limit: int) -> int:
    with transaction.atomic():
        if not _try_lock(organization.pk, category):
            return 0
        last = AuditCheckpoint.objects.filter(category=category).order_by("-last_sequence").first()
        prev_head = last.head if last else chain.GENESIS
        first = last.last_sequence + 1 if last else 1
        head, seals = prev_head, []
        unsealed = UnsealedEvents(organization_id=organization.pk, category=category, first=first, limit=limit)
        for row in unsealed:
            head = chain.event_hash(head, event_document(str(organization.uuid), row))
            seals.append((row["sequence"], head))
        if unsealed.finding is not None:
            integrity_alert(organization_id=organization.pk, finding=unsealed.finding, detected_by="sealer")
        if not seals:
            return 0
        expected = seals[-1][0] + 1
        _insert_seals(organization.pk, category, seals)
        sealed_at = timezone.now()
        checkpoint: dict[str, Any] = {
            "organization": str(organization.uuid),
            "category": category,
            "first_sequence": first,
            "last_sequence": expected - 1,
            "prev_head": prev_head,
            "head": head,
            "previous_digest": last.digest if last else "",
            "sealed_at": chain.format_time(sealed_at),
            "key_id": signing.current_key_id(),
        }
        saved = AuditCheckpoint.objects.create(
            organization_id=organization.pk,
            category=category,
            first_sequence=first,
            last_sequence=expected - 1,
            prev_head=prev_head,
            head=head,
            previous_digest=last.digest if last else "",
            digest=chain.checkpoint_digest(checkpoint),
            sealed_at=sealed_at,
            key_id=signing.current_key_id(),
            signature=signing.sign(chain.checkpoint_payload(checkpoint)),
        )
        if getattr(settings, "AUDIT_CHECKPOINT_BUCKET", ""):
            enqueue_on_commit("audit.checkpoint_export", organization.pk, saved.pk)
    return len(seals)


def audit_seal(*, limit: int = 100_000) -> SealResult:
    """Seal every category of the organization in context up to its newest committed event."""
    organization = Organization.objects.get(pk=current_organization_id())
    events = checkpoints = 0
    for category in AuditSequence.objects.order_by("category").values_list("category", flat=True):
        while sealed := _seal_category(organization, category, limit):
            events += sealed
            checkpoints += 1
            if sealed < limit:
                break
    return SealResult(events=events, checkpoints=checkpoints)


def audit_seal_recorded(*, actor: Membership) -> SealResult:
    """Seal now on a member's request, and record that they did (the record itself waits for the next seal)."""
    check(permissions.audit_trail_seal(actor))
    result = audit_seal()
    audit_record(action="audit.seal", metadata={"events": result.events, "checkpoints": result.checkpoints})
    return result
