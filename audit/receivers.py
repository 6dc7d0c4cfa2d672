"""The audit app's answers to tenancy's signals (tenancy.signals), connected when Django starts (audit.apps)."""

from typing import Any

from django.dispatch import receiver

from audit.services.streaming import audit_stream_config_clean
from core.errors import NotAllowed
from tenancy.models import Membership, Organization, Role
from tenancy.signals import organization_setting_clean


@receiver(organization_setting_clean, sender="audit_stream")
def audit_stream_setting_clean(
    *, actor: Membership, organization: Organization, incoming: Any, current: dict[str, Any] | None, **_: Any
) -> dict[str, Any] | None:
    """Where the audit trail leaves the platform is the owner's call, and the destination must pass the SSRF
    checks."""
    if actor.role_enum != Role.OWNER:
        raise NotAllowed("Only owners may change where the audit trail is streamed.")
    return audit_stream_config_clean(incoming, organization=organization, current=current)
