"""The annotation app's answers to tenancy's signals (tenancy.signals), connected when Django starts
(annotation.apps)."""

from typing import Any

from django.dispatch import receiver

from annotation.models import Annotation
from annotation.services.leases import assignments_give_back
from core.errors import Conflict
from tenancy.models import Membership
from tenancy.signals import member_removing


@receiver(member_removing)
def member_work_release(*, membership: Membership, **_: Any) -> dict[str, int]:
    """A member with recorded annotations stays (their provenance must), paused instead; anyone else's live work
    returns to the pool first, so that no task's slot count keeps a deleted member's reservation."""
    if Annotation.objects.filter(annotator=membership).exists():
        raise Conflict("This member has recorded annotations, whose provenance must stay; pause the member instead.")
    return {"assignments_released": assignments_give_back(annotator=membership, reason="member removed")}
