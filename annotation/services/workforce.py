"""The workforce report as a CSV file: hours and items per member over a period, downloaded by an admin; the
download is a data access on record, written in the same transaction as the read it records."""

import csv
import io

from annotation import permissions
from annotation.exports.csv_table import cell
from annotation.selectors.analytics import Period, workforce_report
from core.audit.record import audit_record
from projects.models import Project
from tenancy.models import Membership
from tenancy.permissions import check

WORKFORCE_COLUMNS = (
    "member_id",
    "email",
    "name",
    "items",
    "hours_on_task",
    "hours_leased",
    "leases",
    "skipped",
    "projects",
    "since",
    "until",
    "project",
)


def workforce_export(*, actor: Membership, period: Period, project: Project | None = None) -> str:
    """The report as CSV text (formula-safe cells), recorded on the trail as the read it is."""
    check(permissions.workforce_read(actor))
    rows = workforce_report(period=period, project=project)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(WORKFORCE_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                cell(str(row.member.uuid)),
                cell(row.member.user.email),
                cell(row.member.user.name),
                cell(row.items),
                cell(round(row.hours_on_task, 3)),
                cell(round(row.hours_leased, 3)),
                cell(row.leases),
                cell(row.skipped),
                cell(row.projects),
                cell(period.since.isoformat()),
                cell(period.until.isoformat()),
                cell(project.name if project else ""),
            ]
        )
    audit_record(
        action="data_access.workforce_export",
        target=project,
        metadata={
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "project": str(project.uuid) if project else None,
            "rows": len(rows),
        },
    )
    return out.getvalue()
