"""The audit trail: append-only events, numbered without gaps per organization and category, sealed into signed
checkpoints over a hash chain (one chain per organization and category, so each category can keep its own
retention)."""

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.audit.record import Outcome
from core.scoping import TenantManager, TenantOwned


class AuditEvent(TenantOwned):
    """Who did (or tried, or saw) what, when, from where. Never updated, never deleted."""

    objects: ClassVar[TenantManager["AuditEvent"]] = TenantManager()  # type: ignore[assignment]

    sequence = models.BigIntegerField()
    occurred_at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=64)
    category = models.CharField(max_length=32)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    # No foreign-key constraints: an event must outlive the user, token or object it names.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=254, blank=True)
    actor_token_prefix = models.CharField(max_length=16, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # `<nonce>.<HMAC-SHA256>` (hex) of the event under its organization's key, which the database never holds
    # (audit.chain.event_mac): only the platform can write an event that carries a valid one. Empty on events
    # written before MACs existed, which AuditSequence.mac_since vouches for until they are sealed.
    mac = models.CharField(max_length=100, blank=True, db_default="")

    # The app role may add and read events; triggers refuse UPDATE, DELETE and TRUNCATE even to the owner.
    app_role_grants: ClassVar[tuple[str, ...]] = ("SELECT", "INSERT")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "category", "sequence"], name="audit_event_unique_sequence"
            ),
        ]
        # Search lists newest first by (occurred_at, id), a total order: each filter has an
        # (organization, <column>, occurred_at, id) index, so a page, a time window or a deep cursor is one backward
        # index range scan that stops after one page, at any size of trail (bench/audit_list.py). The
        # (organization, id) index serves exports, which read in id order.
        indexes = [
            models.Index(fields=["organization", "id"], name="audit_event_org_id"),
            models.Index(fields=["organization", "occurred_at", "id"], name="audit_event_org_time_id"),
            models.Index(fields=["organization", "category", "occurred_at", "id"], name="audit_event_org_category_at"),
            models.Index(fields=["organization", "action", "occurred_at", "id"], name="audit_event_org_action_at"),
            models.Index(fields=["organization", "actor_label", "occurred_at", "id"], name="audit_event_org_actor_at"),
            models.Index(fields=["organization", "target_id", "occurred_at", "id"], name="audit_event_org_target_at"),
            models.Index(fields=["organization", "target_type", "occurred_at", "id"], name="audit_event_org_ttype_at"),
            models.Index(fields=["organization", "outcome", "occurred_at", "id"], name="audit_event_org_outcome_at"),
            # One more, on a metadata expression, created by raw SQL in migration 0005 rather than here:
            # (organization, metadata->'project', occurred_at, id) for `project:`. "Who saw task X" reads
            # AuditSubject instead.
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.outcome}"


class AuditSubject(TenantOwned):
    """One object an event names: its own target, or a task of the page a task list served.

    `target:<id>` reads this table: an index range on (organization, subject_id, occurred_at, event) gives a
    subject's events newest first, one page at a time, however many events the trail holds. Rows are written in
    the same statement as their event and, like it, never updated; retention removes them with their event.
    """

    objects: ClassVar[TenantManager["AuditSubject"]] = TenantManager()  # type: ignore[assignment]

    subject_id = models.CharField(max_length=64)
    # The event's own time, copied so that the page order comes from this table's index alone.
    occurred_at = models.DateTimeField()
    # No constraint, as elsewhere in the trail: it would cost a lookup per row written, and TRUNCATE of the events
    # would then fail on the reference instead of being refused by the append-only trigger. The column's own
    # index lets retention remove an expired range's rows.
    event = models.ForeignKey(AuditEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="subjects")

    app_role_grants: ClassVar[tuple[str, ...]] = ("SELECT", "INSERT")

    class Meta:
        indexes = [
            models.Index(fields=["organization", "subject_id", "occurred_at", "event"], name="audit_subject_lookup"),
        ]

    def __str__(self) -> str:
        return f"{self.subject_id} in event {self.event_id}"


class AuditSequence(TenantOwned):
    """The last sequence number given out in one category of an organization.

    The counter row is locked from the moment an event is numbered until its transaction ends, so numbers are
    gapless and commit in order; services record their event last to keep that window short.
    """

    objects: ClassVar[TenantManager["AuditSequence"]] = TenantManager()  # type: ignore[assignment]

    category = models.CharField(max_length=32)
    last_value = models.BigIntegerField(default=0)
    # The first number whose event must carry a MAC; the events before it were written before MACs existed.
    # Set once by migration 0007 and itself MACed (mac_since_mac): raised by anyone without the key, it vouches
    # for nothing and every event needs its MAC (audit.services.integrity).
    mac_since = models.BigIntegerField(db_default=1)
    mac_since_mac = models.CharField(max_length=64, blank=True, db_default="")

    app_role_grants: ClassVar[tuple[str, ...]] = ("SELECT", "INSERT", "UPDATE")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "category"], name="audit_sequence_one_per_category"),
        ]


class AuditSeal(TenantOwned):
    """The chain hash of one event, written once by the sealer; it lets verification name the altered event."""

    objects: ClassVar[TenantManager["AuditSeal"]] = TenantManager()  # type: ignore[assignment]

    category = models.CharField(max_length=32)
    sequence = models.BigIntegerField()
    event_hash = models.CharField(max_length=64)

    app_role_grants: ClassVar[tuple[str, ...]] = ("SELECT", "INSERT")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "category", "sequence"], name="audit_seal_unique"),
        ]


class AuditCheckpoint(TenantOwned):
    """A signed statement: events first..last of a category chain hash to `head`, following `prev_head`."""

    objects: ClassVar[TenantManager["AuditCheckpoint"]] = TenantManager()  # type: ignore[assignment]

    category = models.CharField(max_length=32)
    first_sequence = models.BigIntegerField()
    last_sequence = models.BigIntegerField()
    prev_head = models.CharField(max_length=64)
    head = models.CharField(max_length=64)
    previous_digest = models.CharField(max_length=64, blank=True)
    digest = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()
    key_id = models.CharField(max_length=16)
    signature = models.CharField(max_length=128)

    app_role_grants: ClassVar[tuple[str, ...]] = ("SELECT", "INSERT")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "category", "last_sequence"], name="audit_checkpoint_unique_end"
            ),
        ]
        indexes = [models.Index(fields=["organization", "category", "first_sequence"], name="audit_cp_org_cat_first")]

    def __str__(self) -> str:
        return f"{self.category} {self.first_sequence}..{self.last_sequence}"


class AuditStreamCursor(TenantOwned):
    """How far one category of an organization has been delivered to its SIEM: advanced only after an ack."""

    objects: ClassVar[TenantManager["AuditStreamCursor"]] = TenantManager()  # type: ignore[assignment]

    category = models.CharField(max_length=32)
    last_sequence = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    # Streamers create and advance cursors; nothing deletes one (a lost cursor would only cause a resend).
    app_role_grants: ClassVar[tuple[str, ...]] = ("SELECT", "INSERT", "UPDATE")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "category"], name="audit_stream_cursor_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.category} through #{self.last_sequence}"
