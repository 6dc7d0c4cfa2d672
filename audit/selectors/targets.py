"""The names of the objects a page of events names: one read per kind of target on the page, never one per row."""

from collections.abc import Iterable

from audit.models import AuditEvent
from core.audit.targets import target_names


def audit_target_names(*, events: Iterable[AuditEvent]) -> dict[tuple[str, str], str]:
    """(target_type, target_id) → the target's current name, for the targets still there that can be named."""
    return target_names((event.target_type, event.target_id) for event in events if event.target_id)
