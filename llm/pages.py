"""The web pages over models in the loop: the organization's model connections (admins change them, managers see
them), a project's model budget (set from the project's settings page, llm.templatetags.model_budget shows it) and
the calls made for a project.

Every change goes through llm.services.connections, which checks the role again, vets the endpoint and records the
audit event; a refusal lands on the input it names, and nothing is written."""

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import Conflict, DomainError
from llm import permissions, selectors
from llm.forms import ModelBudgetForm, ModelConnectionForm
from llm.models import ModelCall, ModelConnection
from llm.selectors import connection_usage_since
from llm.services.connections import (
    model_budget_set,
    model_connection_create,
    model_connection_delete,
    model_connection_update,
)
from projects.forms import ProjectSettingsForm
from projects.models import Project
from projects.pages import project_or_404, project_page, project_render, project_url
from projects.selectors import project_has_label_fields
from tenancy.models import Membership, Role
from tenancy.pages.base import action_run, form_errors_from, page_forbidden, role_page
from tenancy.permissions import allows

USAGE_WINDOW = timedelta(days=7)
CALLS_PER_PAGE = 50
NEW_PREFIX = "new"


def edit_prefix(connection: ModelConnection) -> str:
    """Each connection's edit form has inputs of its own, so that every id on the page is unique."""
    return f"edit-{connection.uuid.hex[:12]}"


def _service_refusal(form: ModelConnectionForm, exc: DomainError) -> None:
    # The only conflict a create or an update meets is a name taken: it belongs on the name.
    if isinstance(exc, Conflict) and not exc.errors:
        form.add_error("name", exc.message)
    else:
        form_errors_from(form, exc)


def _connection_save(
    request: HttpRequest, membership: Membership, form: ModelConnectionForm, connection: ModelConnection | None
) -> HttpResponse | None:
    """Create or change from a posted form; a redirect on success, None with the errors on the form otherwise."""
    if not form.is_valid():
        return None
    try:
        if connection is None:
            saved = model_connection_create(actor=membership, **form.service_fields())
            messages.success(request, f"Model connection “{saved.name}” added.")
        else:
            saved = model_connection_update(actor=membership, connection=connection, **form.service_fields())
            messages.success(request, f"Model connection “{saved.name}” saved.")
    except DomainError as exc:
        _service_refusal(form, exc)
        return None
    return HttpResponseRedirect(reverse("model-connections"))


def _connections_render(
    request: HttpRequest,
    membership: Membership,
    *,
    new_form: ModelConnectionForm | None = None,
    failed_edit: tuple[ModelConnection, ModelConnectionForm] | None = None,
) -> HttpResponse:
    may_manage = allows(permissions.connection_manage(membership))
    usage = connection_usage_since(since=timezone.now() - USAGE_WINDOW)
    rows: list[dict[str, Any]] = []
    for connection in selectors.connection_list():
        edit_form = None
        if may_manage and failed_edit is not None and failed_edit[0].pk == connection.pk:
            edit_form = failed_edit[1]
        elif may_manage:
            edit_form = ModelConnectionForm(editing=connection, prefix=edit_prefix(connection))
        rows.append(
            {
                "connection": connection,
                "host": urlsplit(connection.base_url).netloc,
                "has_key": bool(connection.api_key_sealed),
                "parameters": sorted((connection.parameters or {}).items()),
                "usage": usage.get(connection.pk),
                "edit_form": edit_form,
                "edit_open": bool(edit_form is not None and edit_form.errors),
            }
        )
    failed = bool((new_form is not None and new_form.errors) or failed_edit)
    context = {
        "membership": membership,
        "organization": membership.organization,
        "rows": rows,
        "may_manage": may_manage,
        "form": (new_form or ModelConnectionForm(prefix=NEW_PREFIX)) if may_manage else None,
        "usage_days": USAGE_WINDOW.days,
    }
    return render(request, "llm/connections.html", context, status=400 if failed else 200)


@require_http_methods(["GET", "POST"])
@role_page(Role.MANAGER)
def model_connections(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The organization's model endpoints with what they were used for lately; admins add, change and remove them,
    managers see them (a chat field of a schema names them) but never a key."""
    if request.method != "POST":
        return _connections_render(request, membership)
    if not allows(permissions.connection_manage(membership)):
        return page_forbidden(request, membership, needed=Role.ADMIN)
    form = ModelConnectionForm(request.POST, prefix=NEW_PREFIX)
    return _connection_save(request, membership, form, None) or _connections_render(request, membership, new_form=form)


CONNECTION_ACTIONS = ("edit", "enable", "disable", "delete")


@require_POST
@role_page(Role.ADMIN)
def model_connection_change(
    request: HttpRequest, membership: Membership, model_connection_id: uuid.UUID
) -> HttpResponse:
    """Change, disable, enable or delete one connection (deleting is refused once calls were made through it)."""
    connection = selectors.connection_get(uuid=model_connection_id)
    if connection is None:
        raise Http404("No such model connection.")
    action, name = request.POST.get("action", ""), connection.name
    if action == "edit":
        form = ModelConnectionForm(request.POST, editing=connection, prefix=edit_prefix(connection))
        saved = _connection_save(request, membership, form, connection)
        # A refused change may have touched the in-memory row before the service refused it: show the stored one.
        connection.refresh_from_db()
        return saved or _connections_render(request, membership, failed_edit=(connection, form))
    if action in ("enable", "disable"):
        enabled = action == "enable"
        action_run(
            request,
            lambda: model_connection_update(actor=membership, connection=connection, enabled=enabled),
            success=f"“{name}” is {'enabled' if enabled else 'disabled: no new call goes through it'}.",
        )
    elif action == "delete":
        action_run(
            request,
            lambda: model_connection_delete(actor=membership, connection=connection),
            success=f"Model connection “{name}” deleted.",
        )
    else:
        return HttpResponse(f"action: must be one of {', '.join(CONNECTION_ACTIONS)}.", status=400)
    return HttpResponseRedirect(reverse("model-connections"))


@require_POST
@role_page(Role.ADMIN)
def project_model_budget(request: HttpRequest, membership: Membership, project_id: uuid.UUID) -> HttpResponse:
    """Set a project's model budget from its settings page; a refusal shows that page again, on the budget's input."""
    project = project_or_404(project_id)
    form = ModelBudgetForm(request.POST)
    if form.is_valid():
        try:
            model_budget_set(actor=membership, project=project, **form.cleaned_data)
        except DomainError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, "Model budget saved.")
            return HttpResponseRedirect(project_url("project-settings", project) + "#model-budget")
    return project_render(
        request,
        membership,
        project,
        "settings.html",
        form=ProjectSettingsForm.for_project(project),
        has_fields=project_has_label_fields(project=project),
        budget_form=form,
        status=400,
    )


def _calls_after(project: Project, after: str) -> Any:
    """The project's calls older than the one named `after` (a keyset: stable while new calls arrive)."""
    calls = selectors.call_list(project=project)
    if not after:
        return calls
    try:
        pivot = calls.filter(uuid=uuid.UUID(after)).values_list("id", flat=True).first()
    except ValueError:
        pivot = None
    if pivot is None:
        return None
    return calls.filter(id__lt=pivot)


@require_GET
@project_page
def project_model_calls(request: HttpRequest, membership: Membership, project: Project) -> HttpResponse:
    """The project's model calls, newest first, fifty to a page: who asked, for which task, what it cost and how it
    ended."""
    after = request.GET.get("after", "")
    calls = _calls_after(project, after)
    if calls is None:
        return HttpResponse("after: not a model call of this project.", status=400)
    page: list[ModelCall] = list(calls.select_related("task", "member__user")[: CALLS_PER_PAGE + 1])
    more = len(page) > CALLS_PER_PAGE
    page = page[:CALLS_PER_PAGE]
    next_url = f"{request.path}?after={page[-1].uuid}" if more else ""
    context = {
        "membership": membership,
        "organization": membership.organization,
        "project": project,
        "calls": page,
        "next_url": next_url,
        "first_url": request.path if after else "",
    }
    return render(request, "llm/model_calls.html", context)
