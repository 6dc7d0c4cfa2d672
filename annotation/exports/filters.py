"""What an export holds: the task-level filters and the one format option, as stored on the job."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q
from django.utils.dateparse import parse_datetime

from annotation.selectors.assignments import uuid_or_none
from core.errors import ErrorList
from projects.models import ExportFormat

STATUSES = ("done", "open")
RANKING_PAIRS = ("best_worst", "all")
TASK_IDS_MAX = 1000  # a selection in the data browser (projects.services.tasks.BULK_CHANGE_MAX)


@dataclass(frozen=True)
class ExportFilters:
    """`status`: done (every overlap slot answered) or open; `created_after`/`created_before`: the task's creation
    time, half-open [after, before); `reviewed_only`: only annotations a reviewer accepted or corrected.
    `ranking_pairs` (DPO only): a ranking gives its best-versus-worst pairs, or every ordered pair. `task_ids`: only
    these tasks (uuids), as the data browser's "export the selection" sends them."""

    status: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    reviewed_only: bool = False
    ranking_pairs: str = "best_worst"
    task_ids: tuple[str, ...] = ()

    def task_q(self, prefix: str = "") -> Q:
        """The task-level conditions, on Task (`prefix=""`) or through a relation (`prefix="task__"`)."""
        q = Q(**{f"{prefix}is_gold": False})
        if self.status == "done":
            q &= Q(**{f"{prefix}done__gte": F(f"{prefix}overlap")})
        elif self.status == "open":
            q &= Q(**{f"{prefix}done__lt": F(f"{prefix}overlap")})
        if self.created_after is not None:
            q &= Q(**{f"{prefix}created_at__gte": self.created_after})
        if self.created_before is not None:
            q &= Q(**{f"{prefix}created_at__lt": self.created_before})
        if self.task_ids:
            q &= Q(**{f"{prefix}uuid__in": list(self.task_ids)})
        return q

    def to_document(self) -> dict[str, Any]:
        """The job's `filters` JSON: only what was asked for."""
        document: dict[str, Any] = {}
        if self.status is not None:
            document["status"] = self.status
        if self.created_after is not None:
            document["created_after"] = self.created_after.isoformat()
        if self.created_before is not None:
            document["created_before"] = self.created_before.isoformat()
        if self.reviewed_only:
            document["reviewed_only"] = True
        if self.ranking_pairs != "best_worst":
            document["ranking_pairs"] = self.ranking_pairs
        if self.task_ids:
            document["task_ids"] = list(self.task_ids)
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "ExportFilters":
        """Read a stored `filters` document back (written by `to_document`, so trusted in shape)."""
        after = document.get("created_after")
        before = document.get("created_before")
        return cls(
            status=document.get("status"),
            created_after=parse_datetime(after) if after else None,
            created_before=parse_datetime(before) if before else None,
            reviewed_only=bool(document.get("reviewed_only", False)),
            ranking_pairs=str(document.get("ranking_pairs", "best_worst")),
            task_ids=tuple(str(t) for t in document.get("task_ids", ())),
        )


def export_filters_clean(*, export_format: str, raw: dict[str, Any]) -> ExportFilters:
    """Check filters already shaped by the API (or passed by code) for coherence; every problem is reported."""
    errors = ErrorList()
    status = raw.get("status")
    if status is not None and status not in STATUSES:
        errors.add("filters.status", f"Must be one of {', '.join(STATUSES)}.", "invalid_choice")
    after, before = raw.get("created_after"), raw.get("created_before")
    for name, value in (("created_after", after), ("created_before", before)):
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            errors.add(f"filters.{name}", "Must be a date and time with a time zone.", "invalid")
    if isinstance(after, datetime) and isinstance(before, datetime) and after >= before:
        errors.add("filters.created_before", "Must be later than created_after.", "invalid_range")
    reviewed_only = raw.get("reviewed_only", False)
    if not isinstance(reviewed_only, bool):
        errors.add("filters.reviewed_only", "Must be true or false.", "invalid")
    pairs = raw.get("ranking_pairs")
    if pairs is not None and export_format != ExportFormat.DPO:
        errors.add("filters.ranking_pairs", "Only preference-pair (dpo) exports take ranking_pairs.", "not_allowed")
    elif pairs is not None and pairs not in RANKING_PAIRS:
        errors.add("filters.ranking_pairs", f"Must be one of {', '.join(RANKING_PAIRS)}.", "invalid_choice")
    task_ids = raw.get("task_ids", ())
    if not isinstance(task_ids, (list, tuple)) or len(task_ids) > TASK_IDS_MAX:
        errors.add("filters.task_ids", f"Must be a list of at most {TASK_IDS_MAX} task ids.", "invalid")
        task_ids = ()
    for index, value in enumerate(task_ids):
        if not isinstance(value, str) or uuid_or_none(value) is None:
            errors.add(f"filters.task_ids[{index}]", "Must be a task id.", "invalid")
    errors.raise_if_any()
    return ExportFilters(
        status=status,
        created_after=after,
        created_before=before,
        reviewed_only=bool(reviewed_only),
        ranking_pairs=pairs or "best_worst",
        task_ids=tuple(str(uuid_or_none(value)) for value in task_ids),
    )
