"""A project's pages for managers: settings, schema and guidelines, imports; and what every project page stands on
(annotation.pages.project has the pages over its work: overview, queues, quality, exports).

Each page reads through the selectors and writes through the services (which record the audit events); a form
posts back to its page and is redirected after success, so a reload never repeats a change."""

import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import wraps
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from projects.forms import ImportForm, ProjectSchemaForm, ProjectSettingsForm
from projects.imports.runner import import_progress
from projects.imports.selectors import import_list
from projects.models import ExportJob, ImportJob, JobState, Project
from projects.selectors import project_find, project_has_label_fields
from projects.services.projects import project_update
from tenancy.models import Membership, Role
from tenancy.pages.base import form_save, role_page

RECENT_JOBS = 20
# A job still pending this long after it was created is shown as waiting for a worker: the usual cause is that no
# worker runs, and a page that only says "pending" leaves the newcomer waiting forever.
UNCLAIMED_AFTER = timedelta(minutes=1)


def project_or_404(project_id: uuid.UUID) -> Project:
    """A project of the session's organization; another tenant's id is simply not found (a 404, which role_page
    answers and records)."""
    project = project_find(project_uuid=project_id)
    if project is None:
        raise Http404("No such project.")
    return project


def project_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A manager's page of one project of the session's organization."""

    @role_page(Role.MANAGER)
    @wraps(view)
    def wrapper(request: HttpRequest, membership: Membership, project_id: uuid.UUID, **kwargs: Any) -> HttpResponse:
        return view(request, membership, project_or_404(project_id), **kwargs)

    return wrapper


def project_render(
    request: HttpRequest, membership: Membership, project: Project, template: str, **context: Any
) -> HttpResponse:
    status = context.pop("status", 200)
    base = {"membership": membership, "organization": membership.organization, "project": project}
    return render(request, f"projects/{template}", {**base, **context}, status=status)


def project_url(name: str, project: Project) -> str:
    return reverse(name, args=[project.uuid])


def is_htmx(request: HttpRequest) -> bool:
    """A history table asking for itself again (htmx sets this header); it gets the fragment alone, so that it
    never renders, and thereby consumes, the messages meant for the next full page."""
    return request.headers.get("HX-Request") == "true"


def job_rows(jobs: Sequence[ImportJob | ExportJob]) -> tuple[list[dict[str, Any]], int]:
    """Each job with what its row shows beyond the model, and how many still run (the table follows them)."""
    now = timezone.now()
    rows = [
        {"job": job, "waiting": job.state == JobState.PENDING and now - job.created_at > UNCLAIMED_AFTER}
        for job in jobs
    ]
    running = sum(job.state in (JobState.PENDING, JobState.RUNNING) for job in jobs)
    return rows, running


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
            lambda data: project_update(actor=membership, project=project, **data),
            success=success,
            to=request.path,
        )
        if saved is not None:
            return saved
    return project_render(
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
    rows, running = job_rows(list(import_list(project=project).order_by("-id")[:RECENT_JOBS]))
    for row in rows:
        if row["job"].state == JobState.RUNNING:
            row["percent"] = round(import_progress(row["job"]) * 100)
    history = {"rows": rows, "running": running, "following": running > 0}
    if is_htmx(request):
        return project_render(request, membership, project, "_import_history.html", **history)
    return project_render(request, membership, project, "import.html", form=ImportForm(), **history)
