"""The audit trail: append-only events, numbered per organization without gaps."""

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenancy.scoping import TenantManager, TenantOwned


class Outcome(models.TextChoices):
    SUCCESS = "success"
    DENIED = "denied"
    FAILURE = "failure"


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

    # The app role may add and read events; triggers refuse UPDATE, DELETE and TRUNCATE even to the owner.
    app_role_grants: ClassVar[tuple[str, ...]] = ("SELECT", "INSERT")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "sequence"], name="audit_event_unique_sequence"),
        ]
        indexes = [
            models.Index(fields=["organization", "occurred_at"], name="audit_event_org_time"),
            models.Index(fields=["organization", "target_type", "target_id"], name="audit_event_org_target"),
            models.Index(fields=["organization", "action"], name="audit_event_org_action"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.outcome}"


class AuditSequence(TenantOwned):
    """The last sequence number given out in an organization.

    The counter row is locked from the moment an event is numbered until its transaction ends, so numbers are
    gapless and commit in order; services record their event last to keep that window short.
    """

    objects: ClassVar[TenantManager["AuditSequence"]] = TenantManager()  # type: ignore[assignment]

    last_value = models.BigIntegerField(default=0)

    app_role_grants: ClassVar[tuple[str, ...]] = ("SELECT", "INSERT", "UPDATE")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="audit_sequence_one_per_org"),
        ]
