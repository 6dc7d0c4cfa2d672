"""A project's pages over the work done on it, for managers: overview, queues, quality and exports.

They are the annotation app's because they show its state (leases, agreement, exported annotations); the page
frame, the project lookup and the job tables are the projects app's (projects.pages)."""

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.exports.filters import export_filters_clean
from annotation.exports.selectors import export_list
from annotation.exports.services import export_create, export_download
from annotation.forms import ExportForm
from annotation.models import AssignmentState
from annotation.pages.judge import judge_panel
from annotation.selectors import assignments as annotation_selectors
from annotation.selectors.quality import project_agreement
from annotation.selectors.suggestions import suggestion_acceptance
from annotation.services.leases import assignment_revoke
from core.errors import DomainError
from projects.imports.selectors import import_list
from projects.models import Project
from projects.pages import RECENT_JOBS, is_htmx, job_rows, project_page, project_render, project_url
from projects.selectors import project_has_label_fields, task_counts
from tenancy.models import Membership
from tenancy.pages.base import action_run, form_save


@require_GET
@project_page
def project_overview(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Where the project stands: tasks done and open, live work, the latest imports and exports."""
    counts = task_counts(project=project)
    live = annotation_selectors.assignment_list(project=project, states=[]).count()
    return project_render(
        request,
        membership,
        project,
        "overview.html",
        counts=counts,
        live=live,
        imports=list(import_list(project=project).order_by("-id")[:3]),
        exports=list(export_list(project=project).order_by("-id")[:3]),
        has_fields=project_has_label_fields(project=project),
    )


@require_GET
@project_page
def project_queues(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Live work per annotator: queued and leased tasks, each of which a manager can take back."""
    rows = annotation_selectors.assignment_list(project=project, states=[])
    by_annotator: dict[int, dict[str, Any]] = {}
    for assignment in rows:
        entry = by_annotator.setdefault(
            assignment.annotator_id, {"member": assignment.annotator, "active": [], "queued": []}
        )
        entry["active" if assignment.state == AssignmentState.ACTIVE else "queued"].append(assignment)
    queues = sorted(by_annotator.values(), key=lambda e: e["member"].user.email)
    for entry in queues:
        entry["rows"] = entry["active"] + entry["queued"]
    return project_render(request, membership, project, "queues.html", queues=queues)


@require_POST
@project_page
def project_assignment_revoke(
    request: HttpRequest, membership: Membership, project: Project, assignment_id: uuid.UUID
) -> HttpResponse:
    assignment = annotation_selectors.assignments_for_update().filter(project=project, uuid=assignment_id).first()
    if assignment is None:
        raise Http404("No such assignment.")
    action_run(
        request,
        lambda: assignment_revoke(actor=membership, assignment=assignment, reason="revoked from the queues page"),
        success=f"Task {assignment.task.external_id} taken back from {assignment.annotator.user.email}.",
    )
    return HttpResponseRedirect(project_url("project-queues", project))


def _percent(value: Any) -> float | None:
    return None if value is None else max(0.0, min(100.0, float(value) * 100))


@require_GET
@project_page
def project_quality(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Agreement per field (Krippendorff's alpha) and each annotator's gold accuracy, as bars."""
    agreement = project_agreement(project=project)
    report = agreement.report if agreement else {}
    fields = [
        {
            "name": f["name"],
            "type": f["type"],
            "alpha": f.get("alpha"),
            "percent": _percent(max(f.get("alpha") or 0, 0)),
        }
        for f in report.get("fields", [])
    ]
    gold = [
        {
            "member": p.annotator,
            "scored": p.gold_scored,
            "accuracy": p.gold_score_sum / p.gold_scored if p.gold_scored else None,
            "percent": _percent(p.gold_score_sum / p.gold_scored) if p.gold_scored else None,
            "paused": p.paused_at is not None,
        }
        for p in annotation_selectors.progress_list(project=project)
    ]
    threshold = _percent(project.gold_min_accuracy)
    return project_render(
        request,
        membership,
        project,
        "quality.html",
        agreement=agreement,
        fields=fields,
        gold=gold,
        threshold=threshold,
        agreement_threshold=_percent(project.agreement_threshold),
        acceptance_tables=_acceptance_tables(project),
        judge=judge_panel(membership, project),
    )


def _acceptance_tables(project: Project) -> list[tuple[str, str, str, list[Any]]]:
    """The suggestion acceptance report as the quality page's two tables; none while nothing was suggested."""
    acceptance = suggestion_acceptance(project=project)
    if not acceptance.by_field:
        return []
    return [
        ("Per field", "Field", "field", list(acceptance.by_field)),
        ("Per agent", "Agent", "agent", list(acceptance.by_agent)),
    ]


@require_http_methods(["GET", "POST"])
@project_page
def project_exports(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Start an export with a format and filters; follow each one to its end (and why it failed, if it did), and
    download it once it succeeded."""
    form = ExportForm(request.POST or None)
    if request.method == "POST":
        saved = form_save(
            request,
            form,
            lambda data: export_create(
                actor=membership,
                project=project,
                export_format=data["format"],
                filters=export_filters_clean(export_format=data["format"], raw=form.filters()),
            ),
            success=lambda job: f"Export to {job.format} started.",
            to=project_url("project-exports", project),
        )
        if saved is not None:
            return saved
    rows, running = job_rows(list(export_list(project=project).order_by("-id")[:RECENT_JOBS]))
    for row in rows:
        row["filters"] = _filter_labels(row["job"].filters)
    history = {"rows": rows, "running": running, "following": running > 0}
    if is_htmx(request) and request.method == "GET":
        return project_render(request, membership, project, "_export_history.html", **history)
    return project_render(
        request, membership, project, "exports.html", form=form, **history, status=400 if form.errors else 200
    )


def _filter_labels(filters: dict[str, Any]) -> list[str]:
    """The filters an export was made with, as short labels; defaults are left out."""
    labels = []
    for key, value in sorted((filters or {}).items()):
        if value in (None, False, "", "best_worst"):
            continue
        labels.append(key.replace("_", " ") if value is True else f"{key.replace('_', ' ')}: {str(value)[:10]}")
    return labels


@require_GET
@project_page
def project_export_download(
    request: HttpRequest, membership: Membership, project: Project, export_id: uuid.UUID
) -> HttpResponse:
    """Hand out the file through a short-lived signed URL; the service records the download."""
    job = export_list(project=project).filter(uuid=export_id).first()
    if job is None:
        raise Http404("No such export.")
    try:
        signed = export_download(actor=membership, job=job)
    except DomainError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(project_url("project-exports", project))
    return HttpResponseRedirect(signed.url)
