"""Retention: drop whole sealed checkpoint ranges of a category once every event in them is past its retention:
the events, their seals and their subject rows.

Only the table owner can do this. The app role has no DELETE privilege on the trail at all, and the append-only
trigger refuses DELETE even to the owner unless the transaction-local flag `app.audit_expiring` is on, which only
this module sets. Checkpoints are kept: each signed head still anchors the range after it, and an `audit.expire`
event (category "audit", itself sealed later) records how far a category was removed, so verification accepts the
missing prefix and nothing else.
"""

import difflib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from audit import sql
from audit.models import AuditCheckpoint, AuditEvent, AuditSeal
from audit.services.verification import EXPIRE_ACTION, expired_through
from core.audit.actions import CATEGORIES
from core.audit.record import audit_record
from core.context import current_organization_id
from core.db import set_guc

logger = logging.getLogger(__name__)

GUC_EXPIRING = "app.audit_expiring"
# The category holding the expiry records themselves: removing them would make the removed ranges look tampered
# with, so it is never expired.
PROTECTED_CATEGORY = "audit"


def retention_days() -> dict[str, int]:
    """Days kept per category, from AUDIT_RETENTION_DAYS (`data_access=365,default=2555`); 0 keeps forever."""
    parsed: dict[str, int] = {}
    for category, value in dict(getattr(settings, "AUDIT_RETENTION_DAYS", {}) or {}).items():
        try:
            days = int(value)
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(f"AUDIT_RETENTION_DAYS: {category}={value!r} is not a number of days.") from exc
        if days < 0:
            raise ImproperlyConfigured(f"AUDIT_RETENTION_DAYS: {category}={days} must be 0 (forever) or more.")
        name = str(category).strip()
        # A misspelt category would silently fall back to `default`: keeping, or dropping, a trail for the wrong time.
        if name != "default" and name not in CATEGORIES:
            (closest,) = difflib.get_close_matches(name, CATEGORIES, n=1, cutoff=0) or ("",)
            raise ImproperlyConfigured(
                f"AUDIT_RETENTION_DAYS: {name!r} is not an audit category (docs/audit.md lists them); "
                f"did you mean {closest!r}?"
            )
        parsed[name] = days
    return parsed


def retention_for(category: str, table: dict[str, int] | None = None) -> int:
    """Days a category is kept: its own entry, else `default`, else forever (0)."""
    table = retention_days() if table is None else table
    return table.get(category, table.get("default", 0))


@dataclass(frozen=True)
class Expired:
    category: str
    through_sequence: int
    events: int


def _expirable_through(category: str, already: int, cutoff: datetime) -> int:
    """The end of the last checkpoint range, after `already`, whose events all occurred before `cutoff`."""
    first_young = (
        AuditEvent.objects.filter(category=category, sequence__gt=already, occurred_at__gte=cutoff)
        .aggregate(first=Min("sequence"))
        .get("first")
    )
    through = already
    for first, last in (
        AuditCheckpoint.objects.filter(category=category, last_sequence__gt=already)
        .order_by("first_sequence")
        .values_list("first_sequence", "last_sequence")
    ):
        if first != through + 1 or (first_young is not None and last >= first_young):
            break  # a range that is not next in line, or holds a young event, stops the expiry
        through = last
    return through


def _set_expiring(on: bool) -> None:
    set_guc(GUC_EXPIRING, "on" if on else "off")


def _delete_through(category: str, through: int) -> int:
    """Delete a category's events numbered up to `through` and their subject rows, in one statement (the subject
    rows are found through the ids the events' deletion returns); returns how many events went."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.EVENTS_EXPIRE,
            {"organization": current_organization_id(), "category": category, "through": through},
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def audit_expire(*, now: datetime | None = None, dry_run: bool = False) -> list[Expired]:
    """Expire the organization in context's old sealed ranges; must run as the table owner."""
    now = now or timezone.now()
    table = retention_days()
    marks = expired_through()
    results: list[Expired] = []
    categories = AuditCheckpoint.objects.values_list("category", flat=True).distinct().order_by("category")
    for category in categories:
        days = retention_for(category, table)
        if category == PROTECTED_CATEGORY or days == 0:
            continue
        already = marks.get(category, 0)
        through = _expirable_through(category, already, now - timedelta(days=days))
        if through == already:
            continue
        if dry_run:
            count = AuditEvent.objects.filter(category=category, sequence__lte=through).count()
            results.append(Expired(category, through, count))
            continue
        with transaction.atomic():
            _set_expiring(True)
            count = _delete_through(category, through)
            AuditSeal.objects.filter(category=category, sequence__lte=through).delete()
            _set_expiring(False)
            audit_record(
                action=EXPIRE_ACTION,
                target_type="audit.category",
                target_id=category,
                metadata={"category": category, "through_sequence": through, "events": count},
            )
        logger.info("audit.expired", extra={"category": category, "through_sequence": through, "events": count})
        results.append(Expired(category, through, count))
    return results


def may_expire() -> bool:
    """Whether the connected role may delete from the trail at all (the owner may; the app role never)."""
    with connection.cursor() as cursor:
        cursor.execute(sql.MAY_DELETE, {"table": AuditEvent._meta.db_table})
        row = cursor.fetchone()
    return bool(row and row[0])
