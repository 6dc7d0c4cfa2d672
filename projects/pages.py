"""A project's pages for managers: overview, settings, schema and guidelines, imports, queues, quality, exports.

Each page reads through the selectors and writes through the services (which record the audit events); a form
posts back to its page and is redirected after success, so a reload never repeats a change."""

import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.db.models import Count, F, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import selectors as annotation_selectors
from annotation.models import AssignmentState, ProjectAgreement
from annotation.routing.leases import assignment_revoke
from projects import services
from projects.exports.filters import export_filters_clean
from projects.exports.selectors import export_list
from projects.exports.services import export_create, export_download
from projects.forms import ExportForm, ImportForm, ProjectSchemaForm, ProjectSettingsForm
from projects.imports.runner import import_progress
from projects.imports.selectors import import_list
from projects.models import ExportJob, ImportJob, JobState, Project
from projects.selectors import project_has_label_fields, project_list, task_list
from tenancy.errors import DomainError
from tenancy.models import Membership, Role
from tenancy.views import action_run, form_save, role_page

RECENT_JOBS = 20
# A job still pending this long after it was created is shown as waiting for a worker: the usual cause is that no
# worker runs, and a page that only says "pending" leaves the newcomer waiting forever.
UNCLAIMED_AFTER = timedelta(minutes=1)


def project_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A manager's page of one project of the session's organization; another tenant's id is simply not found."""

    @role_page(Role.MANAGER)
    @wraps(view)
    def wrapper(request: HttpRequest, membership: Membership, project_id: uuid.UUID, **kwargs: Any) -> HttpResponse:
        project = project_list().filter(uuid=project_id).first()
        if project is None:
            raise Http404("No such project.")
        return view(request, membership, project, **kwargs)

    return wrapper


def _render(
    request: HttpRequest, membership: Membership, project: Project, template: str, **context: Any
) -> HttpResponse:
    status = context.pop("status", 200)
    base = {"membership": membership, "organization": membership.organization, "project": project}
    return render(request, f"projects/{template}", {**base, **context}, status=status)


def _url(name: str, project: Project) -> str:
    return reverse(name, args=[project.uuid])


def _is_htmx(request: HttpRequest) -> bool:
    """A history table asking for itself again (htmx sets this header); it gets the fragment alone, so that it
    never renders, and thereby consumes, the messages meant for the next full page."""
    return request.headers.get("HX-Request") == "true"


def _job_rows(jobs: Sequence[ImportJob | ExportJob]) -> tuple[list[dict[str, Any]], int]:
    """Each job with what its row shows beyond the model, and how many still run (the table follows them)."""
    now = timezone.now()
    rows = [
        {"job": job, "waiting": job.state == JobState.PENDING and now - job.created_at > UNCLAIMED_AFTER}
        for job in jobs
    ]
    running = sum(job.state in (JobState.PENDING, JobState.RUNNING) for job in jobs)
    return rows, running


@require_GET
@project_page
def project_overview(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Where the project stands: tasks done and open, live work, the latest imports and exports."""
    counts = task_list(project=project).aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(done__gte=F("overlap"))),
        gold=Count("id", filter=Q(is_gold=True)),
    )
    live = annotation_selectors.assignment_list(project=project, states=[]).count()
    return _render(
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


def _project_form_page(
    request: HttpRequest,
    membership: Membership,
    project: Project,
    form_class: type[ProjectSettingsForm] | type[ProjectSchemaForm],
    *,
    template: str,
    success: Callable[[Project], str],
) -> HttpResponse:
    form = form_class.for_project(project, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        saved = form_save(
            request,
            form,
            lambda data: services.project_update(actor=membership, project=project, **data),
            success=success,
            to=request.path,
        )
        if saved is not None:
            return saved
    return _render(
        request,
        membership,
        project,
        template,
        form=form,
        has_fields=project_has_label_fields(project=project),
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@project_page
def project_settings(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Routing, review and quality settings, saved together."""
    return _project_form_page(
        request, membership, project, ProjectSettingsForm, template="settings.html", success=lambda _: "Settings saved."
    )


@require_http_methods(["GET", "POST"])
@project_page
def project_schema(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """The label schema, edited as JSON beside a preview of what annotators will see, and the guidelines."""
    return _project_form_page(
        request,
        membership,
        project,
        ProjectSchemaForm,
        template="schema.html",
        success=lambda saved: (
            f"Saved: schema version {saved.schema_version}, guidelines version {saved.guidelines_version}."
        ),
    )


@require_GET
@project_page
def project_import(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Upload a dataset: the page's script sends it to the import API and follows the job to its end; the history
    below follows every running import, however it was started."""
    rows, running = _job_rows(list(import_list(project=project).order_by("-id")[:RECENT_JOBS]))
    for row in rows:
        if row["job"].state == JobState.RUNNING:
            row["percent"] = round(import_progress(row["job"]) * 100)
    history = {"rows": rows, "running": running, "following": running > 0}
    if _is_htmx(request):
        return _render(request, membership, project, "_import_history.html", **history)
    return _render(request, membership, project, "import.html", form=ImportForm(), **history)


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
    return _render(request, membership, project, "queues.html", queues=queues)


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
    return HttpResponseRedirect(_url("project-queues", project))


def _percent(value: Any) -> float | None:
    return None if value is None else max(0.0, min(100.0, float(value) * 100))


@require_GET
@project_page
def project_quality(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """Agreement per field (Krippendorff's alpha) and each annotator's gold accuracy, as bars."""
    agreement = ProjectAgreement.objects.filter(project=project).first()
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
        for p in annotation_selectors.progress_list(project=project).select_related("annotator__user")
    ]
    threshold = _percent(project.gold_min_accuracy)
    return _render(
        request,
        membership,
        project,
        "quality.html",
        agreement=agreement,
        fields=fields,
        gold=gold,
        threshold=threshold,
        agreement_threshold=_percent(project.agreement_threshold),
    )


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
            to=_url("project-exports", project),
        )
        if saved is not None:
            return saved
    rows, running = _job_rows(list(export_list(project=project).order_by("-id")[:RECENT_JOBS]))
    for row in rows:
        row["filters"] = _filter_labels(row["job"].filters)
    history = {"rows": rows, "running": running, "following": running > 0}
    if _is_htmx(request) and request.method == "GET":
        return _render(request, membership, project, "_export_history.html", **history)
    return _render(
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
        return HttpResponseRedirect(_url("project-exports", project))
    return HttpResponseRedirect(signed.url)
