"""Reads of the organization's chains (one per category of action) and of the checkpoints that sign them."""

from django.db.models import QuerySet

from audit.models import AuditCheckpoint, AuditSequence


def audit_category_list() -> list[str]:
    """The categories that have a chain in the organization in context, that is, at least one event ever."""
    return list(AuditSequence.objects.order_by("category").values_list("category", flat=True))


def audit_checkpoint_list() -> QuerySet[AuditCheckpoint]:
    """The signed checkpoints of the organization in context (the tenant manager and the row policy scope them)."""
    return AuditCheckpoint.objects.all()
