"""The audit app's answers to tenancy's signals (tenancy.signals), connected when Django starts (audit.apps)."""

from typing import Any

from django.dispatch import receiver

from audit import permissions
from audit.services.streaming import audit_stream_config_clean
from tenancy.models import Membership, Organization
from tenancy.permissions import check
from tenancy.signals import organization_setting_clean


@receiver(organization_setting_clean, sender="audit_stream")
def audit_stream_setting_clean(
    *, actor: Membership, organization: Organization, incoming: Any, current: dict[str, Any] | None, **_: Any
) -> dict[str, Any] | None:
    """Where the audit trail leaves the platform is the owner's call, and the destination must pass the SSRF
    checks."""
    check(permissions.audit_stream_configure(actor))
    return audit_stream_config_clean(incoming, organization=organization, current=current)
