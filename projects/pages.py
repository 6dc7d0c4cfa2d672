"""A project's pages for managers: settings, schema and guidelines, imports; and what every project page stands on
(annotation.pages.project has the pages over its work: overview, queues, quality, exports).

Each page reads through the selectors and writes through the services (which record the audit events); a form
posts back to its page and is redirected after success, so a reload never repeats a change."""

import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError, InvalidInput
from projects.forms import ImportForm, ProjectSchemaForm, ProjectSettingsForm
from projects.imports.runner import import_progress
from projects.imports.selectors import import_list
from projects.label_schema import label_studio_to_schema
from projects.label_schema.limits import LABEL_CONFIG_MAX_BYTES
from projects.label_schema.templates import SCHEMA_TEMPLATES, schema_template_find
from projects.models import ExportJob, ImportJob, JobState, Project
from projects.selectors import project_find, project_has_label_fields
from projects.services.projects import project_update
from tenancy.models import Membership, Role
from tenancy.pages.base import form_errors_from, form_save, role_page

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
    form_class: type[ProjectSettingsForm],
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
    """The label schema, built field by field or written as JSON beside a preview of what annotators will see, and
    the guidelines. Besides saving, the page's form can fill the editor from a template or from a Label Studio
    config; those store nothing (the manager reviews the fields and saves)."""
    if request.method == "POST" and "template" in request.POST:
        return _schema_from_template(request, membership, project)
    if request.method == "POST" and request.POST.get("action") == "label-studio":
        return _schema_from_label_studio(request, membership, project)
    form = ProjectSchemaForm.for_project(project, request.POST if request.method == "POST" else None)
    placed: list[dict[str, Any]] = []
    if request.method == "POST" and form.is_valid():
        try:
            saved = project_update(actor=membership, project=project, **form.cleaned_data)
        except DomainError as exc:
            placed = schema_errors_place(form, exc, document=form.cleaned_data["label_schema"])
        else:
            messages.success(
                request, f"Saved: schema version {saved.schema_version}, guidelines version {saved.guidelines_version}."
            )
            return HttpResponseRedirect(request.path)
    return _schema_render(request, membership, project, form, schema_errors=placed)


# `fields[2].max` → the field at index 2 and its setting `max`.
_FIELD_PATH = re.compile(r"^fields\[(\d+)\](?:\.(.+))?$")
# A change that would orphan annotations names its field: "Field 'rating' was removed."
_NAMED_FIELD = re.compile(r"^Field '([a-z][a-z0-9_]*)'")
_SCHEMA_PREFIX = "label_schema"


def schema_errors_place(form: ProjectSchemaForm, exc: DomainError, *, document: Any) -> list[dict[str, Any]]:
    """Put a refusal of the schema on the form with each error's path and field named ("fields[2].max
    (“confidence”): Must be greater than min (5).") and return the schema's errors located for the builder: the
    path inside the document, the index and name of the field, the setting. Errors of other inputs (the
    guidelines) go on their own inputs."""
    fields = document.get("fields") if isinstance(document, dict) else None
    fields = fields if isinstance(fields, list) else []
    names = [field.get("name") if isinstance(field, dict) else None for field in fields]
    placed: list[dict[str, Any]] = []
    others = [error for error in exc.errors if not error.field.startswith(_SCHEMA_PREFIX)]
    if others or not exc.errors:
        form_errors_from(form, DomainError(exc.message, errors=others))
    for error in exc.errors:
        if not error.field.startswith(_SCHEMA_PREFIX):
            continue
        path = error.field[len(_SCHEMA_PREFIX) :].lstrip(".")
        index: int | None = None
        setting = ""
        if match := _FIELD_PATH.match(path):
            index, setting = int(match[1]), match[2] or ""
        elif (named := _NAMED_FIELD.match(error.message)) and named[1] in names:
            index = names.index(named[1])
        name = names[index] if index is not None and index < len(names) else None
        where = path or "schema"
        if isinstance(name, str) and name:
            where = f"{where} (“{name}”)" if path else f"{where}, field “{name}”"
        form.add_error("label_schema", f"{where}: {error.message}")
        placed.append({"path": path, "index": index, "setting": setting, "message": error.message})
    return placed


def _schema_render(
    request: HttpRequest,
    membership: Membership,
    project: Project,
    form: ProjectSchemaForm,
    *,
    schema_errors: list[dict[str, Any]] | None = None,
    filled_from: str = "",
    import_errors: Sequence[str] = (),
    label_studio_config: str = "",
) -> HttpResponse:
    failed = bool(form.errors or import_errors)
    return project_render(
        request,
        membership,
        project,
        "schema.html",
        form=form,
        has_fields=project_has_label_fields(project=project),
        templates=SCHEMA_TEMPLATES,
        schema_errors=schema_errors or [],
        filled_from=filled_from,
        import_errors=import_errors,
        label_studio_config=label_studio_config,
        status=400 if failed else 200,
    )


def _schema_form_filled(request: HttpRequest, project: Project, document: dict[str, Any]) -> ProjectSchemaForm:
    """The editor holding `document`, with the guidelines and version choice the manager had posted, unsaved."""
    form = ProjectSchemaForm.for_project(project)
    form.initial.update(
        label_schema=json.dumps(document, indent=2, ensure_ascii=False),
        guidelines=request.POST.get("guidelines", project.guidelines),
        new_schema_version=bool(request.POST.get("new_schema_version")),
    )
    return form


def _schema_from_template(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    template = schema_template_find(key=request.POST["template"])
    if template is None:
        form = ProjectSchemaForm.for_project(project, request.POST)
        form.add_error(None, "No such template: choose one of those listed.")
        return _schema_render(request, membership, project, form)
    form = _schema_form_filled(request, project, template.document)
    return _schema_render(request, membership, project, form, filled_from=f"the “{template.title}” template")


def _schema_from_label_studio(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    upload = request.FILES.get("label_studio_file")
    # One byte over the limit is enough for the converter to refuse the file as too large.
    config: str | bytes = (
        upload.read(LABEL_CONFIG_MAX_BYTES + 1) if upload else request.POST.get("label_studio_config", "")
    )
    pasted = request.POST.get("label_studio_config", "")
    if not config or (isinstance(config, str) and not config.strip()):
        errors = ["Label Studio config: paste the XML or choose its file."]
        return _schema_render(
            request, membership, project, ProjectSchemaForm.for_project(project, request.POST), import_errors=errors
        )
    try:
        document = label_studio_to_schema(config)
    except InvalidInput as exc:
        errors = [item.message for item in exc.errors] or [exc.message]
        return _schema_render(
            request,
            membership,
            project,
            ProjectSchemaForm.for_project(project, request.POST),
            import_errors=errors,
            label_studio_config=pasted,
        )
    form = _schema_form_filled(request, project, document)
    return _schema_render(request, membership, project, form, filled_from="the Label Studio config")


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
